/* Part of dyngraph/_crecord.c (included there, compiled as one unit): The surface's entries: ``_binary``, ``a + b``, ``W @ x``, ``x[k]``. */

/* ------------------------------------------------------------------ the surface's entries */

static PyObject *
get_op(PyObject *name)
{
    PyObject *op = PyDict_GetItemWithError(OPS, name);
    if (op != NULL) {
        Py_INCREF(op);
        return op;
    }
    if (PyErr_Occurred())
        return NULL;
    return call1(get_op_fn, name);
}

/* ``a._const(value, dt)``: the shared constant tensor from ``_CONST_TENSORS`` when it is there */
static PyObject *
const_of(PyObject *a, PyObject *value, PyObject *dt)
{
    double x = PyFloat_AS_DOUBLE(value);
    if (x == x && x != 0) {
        PyObject *key = PyTuple_Pack(2, value, dt);
        if (key == NULL)
            return NULL;
        PyObject *t = PyDict_GetItemWithError(CONSTS, key);
        Py_DECREF(key);
        if (t != NULL) {
            Py_INCREF(t);
            return t;
        }
        if (PyErr_Occurred())
            return NULL;
    }
    PyObject *args[3] = {a, value, dt};
    return PyObject_VectorcallMethod(s_const, args, 3, NULL);
}

static PyObject *
dtype_of(PyObject *x)
{
    return PyObject_GetAttr(FLD(x, T_data), s_dtype);
}

/* ``Tensor._apply_op(op_name's op, inputs, {})``; ``inputs`` is stolen (NULL: an error is set) */
static PyObject *
apply_named(PyObject *op_name, PyObject *inputs)
{
    PyObject *op = inputs ? get_op(op_name) : NULL;
    PyObject *attrs = op ? PyDict_New() : NULL, *r = NULL;
    if (attrs != NULL)
        r = apply_via((PyObject *)Tensor_T, op, inputs, attrs);
    Py_XDECREF(op);
    Py_XDECREF(inputs);
    Py_XDECREF(attrs);
    return r;
}

static PyObject *
binary_on(PyObject *op_name, PyObject *a, PyObject *b)
{
    return apply_named(op_name, PyTuple_Pack(2, a, b));
}

/* ``BinaryFastPath._binary(self, name, a, b)`` */
static PyObject *
binary_c(PyObject *self, PyObject *name, PyObject *a, PyObject *b)
{
    if (Py_IS_TYPE(self, Tensor_T)) {
        if (Py_IS_TYPE(a, Tensor_T) && FLD(a, T_data) != NULL) {
            if (Py_IS_TYPE(b, Tensor_T) && FLD(b, T_data) != NULL) {
                PyObject *ta = dtype_of(a);
                if (ta == NULL)
                    return NULL;
                PyObject *tb = dtype_of(b);
                Py_DECREF(ta);
                if (tb == NULL)
                    return NULL;
                Py_DECREF(tb);
                if (ta == tb)
                    return binary_on(name, a, b);
            }
            else if (Py_IS_TYPE(b, &PyFloat_Type) && FLD(a, T_be) == NUMPY_BE) {
                PyObject *ta = dtype_of(a);
                if (ta == NULL)
                    return NULL;
                PyObject *da = PyDict_GetItemWithError(FLOAT_DTYPES, ta);
                Py_DECREF(ta);
                if (da != NULL) {
                    PyObject *c = const_of(a, b, da);
                    if (c == NULL)
                        return NULL;
                    PyObject *r = binary_on(name, a, c);
                    Py_DECREF(c);
                    return r;
                }
                if (PyErr_Occurred())
                    return NULL;
            }
        }
        else if (Py_IS_TYPE(a, &PyFloat_Type) && Py_IS_TYPE(b, Tensor_T) && FLD(b, T_data) != NULL &&
                 FLD(b, T_be) == NUMPY_BE) {
            PyObject *tb = dtype_of(b);
            if (tb == NULL)
                return NULL;
            PyObject *db = PyDict_GetItemWithError(FLOAT_DTYPES, tb);
            Py_DECREF(tb);
            if (db != NULL) {
                PyObject *c = const_of(b, a, db);
                if (c == NULL)
                    return NULL;
                PyObject *r = binary_on(name, c, b);
                Py_DECREF(c);
                return r;
            }
            if (PyErr_Occurred())
                return NULL;
        }
        PyObject *g = global(fast_globals, s_general);
        if (g == NULL)
            return NULL;
        PyObject *args[4] = {self, name, a, b};
        return PyObject_Vectorcall(g, args, 4, NULL);
    }
    PyObject *args[4] = {self, name, a, b};
    return PyObject_Vectorcall(py_binary, args, 4, NULL);
}

static PyObject *
binary_meth(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "_binary() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    return binary_c(self, args[0], args[1], args[2]);
}

/* ``self._binary(name, a, b)`` */
static PyObject *
call_binary(PyObject *self, PyObject *name, PyObject *a, PyObject *b)
{
    if (_PyType_Lookup(Py_TYPE(self), s_binary) == binary_descr)
        return binary_c(self, name, a, b);
    PyObject *args[4] = {self, name, a, b};
    return PyObject_VectorcallMethod(s_binary, args, 4, NULL);
}

static PyObject *t_add(PyObject *self, PyObject *o) { return call_binary(self, s_add, self, o); }
static PyObject *t_radd(PyObject *self, PyObject *o) { return call_binary(self, s_add, o, self); }
static PyObject *t_mul(PyObject *self, PyObject *o) { return call_binary(self, s_mul, self, o); }
static PyObject *t_rmul(PyObject *self, PyObject *o) { return call_binary(self, s_mul, o, self); }

/* ``x.ndim == 1`` read as the surface reads it (``getattr(x, "ndim", None) == 1``): -1 on error */
static int
ndim_is(PyObject *x, long want, int missing_ok)
{
    PyObject *nd;
    if (Py_IS_TYPE(x, Tensor_T) && FLD(x, T_data) != NULL)
        nd = PyObject_GetAttr(FLD(x, T_data), s_ndim);
    else if (missing_ok) {
        if (LOOKUP_ATTR(x, s_ndim, &nd) < 0)
            return -1;
        if (nd == NULL)
            return 0;
    }
    else
        nd = PyObject_GetAttr(x, s_ndim);
    if (nd == NULL)
        return -1;
    PyObject *w = PyLong_FromLong(want);
    int r = w != NULL ? PyObject_RichCompareBool(nd, w, Py_EQ) : -1;
    Py_XDECREF(w);
    Py_DECREF(nd);
    return r;
}

/* ``__matmul__``: the product, named ``DotBackward0``/``MvBackward0`` for a vector on the right */
static PyObject *
t_matmul(PyObject *self, PyObject *other)
{
    PyObject *out = call_binary(self, s_matmul, self, other);
    if (out == NULL)
        return NULL;
    int vec = ndim_is(other, 1, 1);
    if (vec <= 0)
        goto done;
    PyObject *label = NULL;
    int d = ndim_is(self, 1, 0);
    if (d < 0)
        goto fail;
    if (d)
        label = s_Dot;
    else if ((d = ndim_is(self, 2, 0)) < 0)
        goto fail;
    else if (d)
        label = s_Mv;
    if (label == NULL)
        goto done;
    if (Py_IS_TYPE(self, Tensor_T) && Py_IS_TYPE(out, Tensor_T)) {   /* ``Tensor._named``, written out */
        PyObject *fn = FLD(out, T_grad_fn);
        if (fn == NULL) {
            PyErr_SetString(PyExc_AttributeError, "_grad_fn");
            goto fail;
        }
        if (fn != Py_None && out != self) {
            if (Py_IS_TYPE(fn, Node_T))
                set_fld(fn, N_label, label);
            else if (PyObject_SetAttrString(fn, "label", label) < 0)
                goto fail;
        }
        return out;
    }
    PyObject *args[3] = {self, out, label};
    PyObject *r = PyObject_VectorcallMethod(s_named, args, 3, NULL);
    Py_DECREF(out);
    return r;
done:
    if (vec < 0)
        goto fail;
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* ``__getitem__``: ``x[k]`` for a plain int ``k`` is ``x._op("getitem", x, index=(("i", k),))``,
 * what ``_parse_index`` gives it; any other key takes the surface's method */
static PyObject *
t_getitem(PyObject *self, PyObject *key)
{
    if (!PyLong_CheckExact(key) || !Py_IS_TYPE(self, Tensor_T)) {
        PyObject *args[2] = {self, key};
        return PyObject_Vectorcall(py_getitem, args, 2, NULL);
    }
    PyObject *op = get_op(s_getitem);
    if (op == NULL)
        return NULL;
    PyObject *r = NULL, *entry = PyTuple_Pack(2, s_i, key), *spec = NULL, *attrs = NULL, *inputs = NULL;
    if (entry == NULL || (spec = PyTuple_Pack(1, entry)) == NULL || (attrs = PyDict_New()) == NULL ||
        PyDict_SetItem(attrs, s_index, spec) < 0 || (inputs = PyTuple_Pack(1, self)) == NULL)
        goto done;
    r = apply_via((PyObject *)Py_TYPE(self), op, inputs, attrs);
done:
    Py_DECREF(op);
    Py_XDECREF(entry);
    Py_XDECREF(spec);
    Py_XDECREF(attrs);
    Py_XDECREF(inputs);
    return r;
}

static PyMethodDef entry_defs[] = {
    {"_binary", (PyCFunction)(void (*)(void))binary_meth, METH_FASTCALL, "``BinaryFastPath._binary``, compiled."},
    {"__add__", t_add, METH_O, "Return self+value."},
    {"__radd__", t_radd, METH_O, "Return value+self."},
    {"__mul__", t_mul, METH_O, "Return self*value."},
    {"__rmul__", t_rmul, METH_O, "Return value*self."},
    {"__matmul__", t_matmul, METH_O, "Return self@value."},
    {"__getitem__", t_getitem, METH_O, "Return self[key]."},
    {NULL},
};

/* ``entries(cls)``: the method descriptors above, bound to ``cls``'s instances */
static PyObject *
entries(PyObject *mod, PyObject *cls)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "entries takes a class");
        return NULL;
    }
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (PyMethodDef *m = entry_defs; m->ml_name != NULL; m++) {
        PyObject *descr = PyDescr_NewMethod((PyTypeObject *)cls, m);
        if (descr == NULL || PyDict_SetItemString(d, m->ml_name, descr) < 0) {
            Py_XDECREF(descr);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(descr);
    }
    return d;
}
