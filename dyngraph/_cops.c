/* The caller of one op in dyngraph's array interpreter (EagerOps), compiled.
 *
 * A gradient rule's ``ops.mul(g, b)`` calls what EagerOps.__getattr__ built for "mul" once per
 * thread and backend. Its Python twin (interpreters._py_call) is a closure: lift a Python
 * scalar operand to a constant array of the other operand's dtype, then call the op's kernel
 * on the backend's namespace. A backward of W2 (bench_peers) makes about 260 such calls, and
 * the closure's own frame is about a third of what a small kernel call costs; this type does
 * the same in C, calling the same Python helpers (the op's kernel, read at every call as the
 * closure reads it; EagerOps._lift_scalars and _scalar), so the results are the closure's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#ifndef GC_SOURCE_HASH
#define GC_SOURCE_HASH "unknown"
#endif

typedef struct {
    PyObject_HEAD
    PyObject *name, *op, *xp, *lift, *scalar;
    vectorcallfunc vectorcall;
} OpCall;

static PyObject *s_kernel;

static inline int is_scalar(PyObject *x)
{
    PyTypeObject *t = Py_TYPE(x);
    return t == &PyFloat_Type || t == &PyLong_Type || t == &PyBool_Type;
}

/* kernel(xp, *inputs, **kw) where kw comes as the vectorcall's trailing values and kwnames */
static PyObject *call_kernel(OpCall *self, PyObject *const *inputs, Py_ssize_t n, PyObject *const *kwvalues,
                             PyObject *kwnames)
{
    PyObject *kernel = PyObject_GetAttr(self->op, s_kernel);
    if (kernel == NULL)
        return NULL;
    Py_ssize_t nk = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *small[12];
    PyObject **args = 1 + n + nk <= 12 ? small : PyMem_Malloc((1 + n + nk) * sizeof(PyObject *));
    if (args == NULL) {
        Py_DECREF(kernel);
        return PyErr_NoMemory();
    }
    args[0] = self->xp;
    for (Py_ssize_t j = 0; j < n; j++)
        args[1 + j] = inputs[j];
    for (Py_ssize_t j = 0; j < nk; j++)
        args[1 + n + j] = kwvalues[j];
    PyObject *r = PyObject_Vectorcall(kernel, args, 1 + n, nk ? kwnames : NULL);
    if (args != small)
        PyMem_Free(args);
    Py_DECREF(kernel);
    return r;
}

static PyObject *opcall_vectorcall(PyObject *o, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    OpCall *self = (OpCall *)o;
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    PyObject *const *kw = args + n;
    if (n == 0) {
        PyErr_Format(PyExc_TypeError, "%U() missing 1 required positional argument: 'a'", self->name);
        return NULL;
    }
    if (n == 1) {  /* one input */
        if (!is_scalar(args[0]))
            return call_kernel(self, args, 1, kw, kwnames);
        PyObject *one = PyTuple_Pack(1, args[0]);  /* TypeError from lift: no array to take a dtype from */
        PyObject *lifted = one == NULL ? NULL : PyObject_CallOneArg(self->lift, one);
        Py_XDECREF(one);
        PyObject *a = lifted == NULL ? NULL : PySequence_GetItem(lifted, 0);
        Py_XDECREF(lifted);
        if (a == NULL)
            return NULL;
        PyObject *r = call_kernel(self, &a, 1, kw, kwnames);
        Py_DECREF(a);
        return r;
    }
    if (n == 2) {
        PyObject *pair[2] = {args[0], args[1]};
        PyObject *made = NULL;
        if (is_scalar(args[0])) {
            made = PyObject_CallFunctionObjArgs(self->scalar, args[0], args[1], NULL);
            pair[0] = made;
        }
        else if (is_scalar(args[1])) {
            made = PyObject_CallFunctionObjArgs(self->scalar, args[1], args[0], NULL);
            pair[1] = made;
        }
        else
            return call_kernel(self, pair, 2, kw, kwnames);
        if (made == NULL)
            return NULL;
        PyObject *r = call_kernel(self, pair, 2, kw, kwnames);
        Py_DECREF(made);
        return r;
    }
    /* add_n and other many-input ops: lift only when a scalar is there */
    for (Py_ssize_t j = 0; j < n; j++) {
        if (is_scalar(args[j])) {
            PyObject *all = PyTuple_New(n);
            if (all == NULL)
                return NULL;
            for (Py_ssize_t i = 0; i < n; i++)
                PyTuple_SET_ITEM(all, i, Py_NewRef(args[i]));
            PyObject *lifted = PyObject_CallOneArg(self->lift, all);
            Py_DECREF(all);
            if (lifted == NULL)
                return NULL;
            PyObject *seq = PySequence_Fast(lifted, "_lift_scalars must return a sequence");
            Py_DECREF(lifted);
            if (seq == NULL)
                return NULL;
            PyObject *r = call_kernel(self, PySequence_Fast_ITEMS(seq), PySequence_Fast_GET_SIZE(seq), kw, kwnames);
            Py_DECREF(seq);
            return r;
        }
    }
    return call_kernel(self, args, n, kw, kwnames);
}

static PyObject *opcall_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *name, *op, *xp, *lift, *scalar;
    static char *names[] = {"name", "op", "xp", "lift", "scalar", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UOOOO:OpCall", names, &name, &op, &xp, &lift, &scalar))
        return NULL;
    OpCall *self = (OpCall *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->name = Py_NewRef(name);
    self->op = Py_NewRef(op);
    self->xp = Py_NewRef(xp);
    self->lift = Py_NewRef(lift);
    self->scalar = Py_NewRef(scalar);
    self->vectorcall = opcall_vectorcall;
    return (PyObject *)self;
}

static int opcall_traverse(OpCall *self, visitproc visit, void *arg)
{
    Py_VISIT(self->name);
    Py_VISIT(self->op);
    Py_VISIT(self->xp);
    Py_VISIT(self->lift);
    Py_VISIT(self->scalar);
    return 0;
}

static int opcall_clear(OpCall *self)
{
    Py_CLEAR(self->name);
    Py_CLEAR(self->op);
    Py_CLEAR(self->xp);
    Py_CLEAR(self->lift);
    Py_CLEAR(self->scalar);
    return 0;
}

static void opcall_dealloc(OpCall *self)
{
    PyObject_GC_UnTrack(self);
    opcall_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *opcall_repr(OpCall *self)
{
    return PyUnicode_FromFormat("<dyngraph op call %U>", self->name);
}

static PyMemberDef opcall_members[] = {
    {"__name__", T_OBJECT, offsetof(OpCall, name), READONLY, "the op's name"},
    {"op", T_OBJECT, offsetof(OpCall, op), READONLY, "the op (its kernel is read at every call)"},
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(OpCall, vectorcall), READONLY},
    {NULL},
};

static PyTypeObject OpCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dyngraph._cops.OpCall",
    .tp_doc = PyDoc_STR("OpCall(name, op, xp, lift, scalar): interpreters._py_call(...) compiled: "
                        "op.kernel(xp, *inputs, **attrs), Python scalars lifted first."),
    .tp_basicsize = sizeof(OpCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = opcall_new,
    .tp_dealloc = (destructor)opcall_dealloc,
    .tp_traverse = (traverseproc)opcall_traverse,
    .tp_clear = (inquiry)opcall_clear,
    .tp_repr = (reprfunc)opcall_repr,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(OpCall, vectorcall),
    .tp_members = opcall_members,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "dyngraph._cops",
    "The op caller of dyngraph's array interpreter, compiled (see dyngraph/_cops.c and "
    "dyngraph/interpreters.py).", -1, NULL,
};

PyMODINIT_FUNC PyInit__cops(void)
{
    if ((s_kernel = PyUnicode_InternFromString("kernel")) == NULL || PyType_Ready(&OpCallType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddStringConstant(m, "SOURCE_HASH", GC_SOURCE_HASH) < 0 ||
        PyModule_AddObjectRef(m, "OpCall", (PyObject *)&OpCallType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
