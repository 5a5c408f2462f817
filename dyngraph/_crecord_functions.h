/* Part of dyngraph/_crecord.c (included there, compiled as one unit): ``dg.tanh`` and its kin. */

/* ------------------------------------------------------------------ dg.tanh(x) and its kin */

/* ``dg.tanh`` (``exp``, ``log``, ``sigmoid``, ``relu``, ``sqrt``): the shared function is
 * ``getattr(x, "tanh")()``, whose method is ``x._op("tanh", x)`` for a float tensor. For a float
 * NumPy ``Tensor`` whose method is still the shared one, this applies the op at once; any other
 * call is the shared function's. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *name, *fallback, *method, *op_method;
} UnaryFn;

static PyObject *
unary_vectorcall(PyObject *o, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    UnaryFn *self = (UnaryFn *)o;
    if (PyVectorcall_NARGS(nargsf) == 1 && kwnames == NULL) {
        PyObject *x = args[0];
        if (plain_tensor(x) && _PyType_Lookup(Tensor_T, s_apply_op) == apply_classmethod &&
            _PyType_Lookup(Tensor_T, self->name) == self->method && _PyType_Lookup(Tensor_T, s_op) == self->op_method) {
            PyObject *dt = dtype_of(x);
            if (dt == NULL)
                return NULL;
            PyObject *known = PyDict_GetItemWithError(FLOAT_DTYPES, dt);
            Py_DECREF(dt);
            if (known != NULL)
                return apply_named(self->name, PyTuple_Pack(1, x));
            if (PyErr_Occurred())
                return NULL;
        }
    }
    return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
}

static void
unary_dealloc(PyObject *o)
{
    UnaryFn *self = (UnaryFn *)o;
    Py_XDECREF(self->name);
    Py_XDECREF(self->fallback);
    Py_XDECREF(self->method);
    Py_XDECREF(self->op_method);
    Py_TYPE(o)->tp_free(o);
}

static PyObject *
unary_repr(PyObject *o)
{
    return PyObject_Repr(((UnaryFn *)o)->fallback);
}

static PyObject *
unary_forward(PyObject *o, void *attr)
{
    return PyObject_GetAttrString(((UnaryFn *)o)->fallback, (const char *)attr);
}

static PyObject *
unary_wrapped(PyObject *o, void *unused)
{
    return Py_NewRef(((UnaryFn *)o)->fallback);
}

static PyGetSetDef unary_getset[] = {
    {"__name__", unary_forward, NULL, NULL, "__name__"},
    {"__qualname__", unary_forward, NULL, NULL, "__qualname__"},
    {"__doc__", unary_forward, NULL, NULL, "__doc__"},
    {"__module__", unary_forward, NULL, NULL, "__module__"},
    {"__wrapped__", unary_wrapped, NULL, "the shared function this one calls for what it does not take", NULL},
    {NULL},
};

static PyTypeObject UnaryFn_T = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dyngraph._crecord.UnaryFunction",
    .tp_basicsize = sizeof(UnaryFn),
    .tp_dealloc = unary_dealloc,
    .tp_vectorcall_offset = offsetof(UnaryFn, vectorcall),
    .tp_repr = unary_repr,
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_getset = unary_getset,
};

/* ``unary_function(name, shared_function, method, op_method)`` */
static PyObject *
unary_function(PyObject *mod, PyObject *args)
{
    PyObject *name, *fallback, *method, *op_method;
    if (!PyArg_ParseTuple(args, "UOOO", &name, &fallback, &method, &op_method))
        return NULL;
    UnaryFn *f = PyObject_New(UnaryFn, &UnaryFn_T);
    if (f == NULL)
        return NULL;
    f->vectorcall = unary_vectorcall;
    f->name = Py_NewRef(name);
    f->fallback = Py_NewRef(fallback);
    f->method = Py_NewRef(method);
    f->op_method = Py_NewRef(op_method);
    return (PyObject *)f;
}
