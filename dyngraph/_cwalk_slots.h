/* dyngraph/_cwalk.c: the slots of the classes the walk reads, and setup(). */

typedef struct {
    const char *cls;  /* key of the class in setup()'s keywords */
    const char *attr;
    PyTypeObject *type;
    PyObject *name;   /* interned */
    PyObject *descr;  /* the member descriptor */
    Py_ssize_t off;
} Field;

enum {
    N_OP, N_ATTRS, N_INFO, N_SEQ, N_NEXT, N_SAVED, N_VERS, N_OUT, N_NBYTES, N_RELEASED, N_HOOKS,
    T_DATA, T_VER, V_V, S_DATA, S_COUNTER, I_PLAIN, I_SAVES, C_SAVED_BYTES, N_FIELDS
};

static Field F[N_FIELDS] = {
    {"Node", "op"}, {"Node", "attrs"}, {"Node", "info"}, {"Node", "seq"}, {"Node", "next"},
    {"Node", "saved"}, {"Node", "vers"}, {"Node", "out"}, {"Node", "nbytes"}, {"Node", "released"},
    {"Node", "hooks"}, {"Tensor", "_data"}, {"Tensor", "_ver"}, {"Version", "v"},
    {"SavedValue", "data"}, {"SavedValue", "counter"}, {"OpInfo", "plain"}, {"OpInfo", "saves"},
    {"Counters", "saved_bytes"},
};

/* what setup() is given: classes, objects and the Python functions this file calls */
static PyObject *AccType, *ShapeOnlyType, *NdarrayType;  /* classes */
static PyObject *STATS, *FREED_MSG, *FreedGraphError, *version_error, *arity_error, *accumulate,
    *run_hooks, *unpack, *shape_only, *SHAPE_ONLY;
static int ready_for_use = 0;

static PyObject *s_ops, *s_shape, *s_dtype, *s_vjp, *s_add_n, *s_needs_input_grad, *s_release,
    *s_output;

/* -- fields ------------------------------------------------------------------------------- */

static int fast(PyObject *o, const Field *f)
{
    PyTypeObject *t = Py_TYPE(o);
    if (t == f->type)
        return 1;
    return t->tp_getattro == PyObject_GenericGetAttr && t->tp_setattro == PyObject_GenericSetAttr &&
           _PyType_Lookup(t, f->name) == f->descr;
}

/* o.<field>, a new reference (NULL with an exception set) */
static PyObject *get(PyObject *o, int k)
{
    const Field *f = &F[k];
    if (fast(o, f)) {
        PyObject *v = *(PyObject **)((char *)o + f->off);
        if (v != NULL)
            return Py_NewRef(v);
    }
    return PyObject_GetAttr(o, f->name);  /* also raises the AttributeError of an unset slot */
}

static int set(PyObject *o, int k, PyObject *v)
{
    const Field *f = &F[k];
    if (fast(o, f)) {
        PyObject **p = (PyObject **)((char *)o + f->off);
        PyObject *old = *p;
        *p = Py_NewRef(v);
        Py_XDECREF(old);
        return 0;
    }
    return PyObject_SetAttr(o, f->name, v);
}

/* truth of o.<field>: 1, 0, or -1 with an exception */
static int truth(PyObject *o, int k)
{
    PyObject *v = get(o, k);
    if (v == NULL)
        return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

static int seq_of(PyObject *o, long long *out)
{
    PyObject *v = get(o, N_SEQ);
    if (v == NULL)
        return -1;
    *out = PyLong_AsLongLong(v);
    Py_DECREF(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* -- setup --------------------------------------------------------------------------------- */

PyDoc_STRVAR(setup_doc,
"setup(**objects)\n--\n\n"
"Give the module the classes whose slots it reads (Node, Tensor, Version, SavedValue, OpInfo,\n"
"Counters: each slot's offset is read from its member descriptor here) and the Python functions\n"
"it calls; engine.py calls it once, at import.");

static PyObject *cwalk_setup(PyObject *self, PyObject *args, PyObject *kw)
{
    if (PyTuple_GET_SIZE(args) || kw == NULL) {
        PyErr_SetString(PyExc_TypeError, "setup() takes keyword arguments only");
        return NULL;
    }
    /* everything is checked before anything is kept: a refused setup() leaves the last one */
    Field got[N_FIELDS];
    for (int k = 0; k < N_FIELDS; k++) {
        const Field *f = &F[k];
        PyObject *cls = PyDict_GetItemString(kw, f->cls);
        if (cls == NULL || !PyType_Check(cls)) {
            PyErr_Format(PyExc_TypeError, "dyngraph._cwalk.setup() needs %s, a class", f->cls);
            return NULL;
        }
        PyTypeObject *t = (PyTypeObject *)cls;
        PyObject *name = PyUnicode_InternFromString(f->attr);
        if (name == NULL)
            return NULL;
        PyObject *descr = _PyType_Lookup(t, name);
        Py_DECREF(name);  /* interned: the module's strings keep it */
        if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type ||
            ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX ||
            (((PyMemberDescrObject *)descr)->d_member->flags & READONLY) ||
            t->tp_getattro != PyObject_GenericGetAttr || t->tp_setattro != PyObject_GenericSetAttr) {
            PyErr_Format(PyExc_TypeError,
                         "dyngraph._cwalk.setup(): %s.%s must be a writable __slots__ field of a class with "
                         "the default attribute access (dyngraph runs walk_py without it)", f->cls, f->attr);
            return NULL;
        }
        got[k] = *f;
        got[k].type = t;
        got[k].name = name;
        got[k].descr = descr;
        got[k].off = ((PyMemberDescrObject *)descr)->d_member->offset;
    }
    static const char *types[] = {"AccumulateGrad", "ShapeOnly", "ndarray", "FreedGraphError"};
    static const char *objects[] = {"STATS", "FREED_MSG", "version_error", "arity_error", "accumulate",
                                    "run_hooks", "unpack", "shape_only", "SHAPE_ONLY"};
    PyObject *v;
    for (size_t j = 0; j < sizeof(types) / sizeof(*types); j++)
        if ((v = PyDict_GetItemString(kw, types[j])) == NULL || !PyType_Check(v)) {
            PyErr_Format(PyExc_TypeError, "dyngraph._cwalk.setup() needs %s, a class", types[j]);
            return NULL;
        }
    for (size_t j = 0; j < sizeof(objects) / sizeof(*objects); j++)
        if (PyDict_GetItemString(kw, objects[j]) == NULL) {
            PyErr_Format(PyExc_TypeError, "dyngraph._cwalk.setup() needs %s", objects[j]);
            return NULL;
        }
    if (!PyDict_Check(PyDict_GetItemString(kw, "SHAPE_ONLY"))) {
        PyErr_SetString(PyExc_TypeError, "dyngraph._cwalk.setup(): SHAPE_ONLY must be a dict");
        return NULL;
    }
    for (int k = 0; k < N_FIELDS; k++) {
        Py_INCREF(got[k].type);
        Py_INCREF(got[k].name);
        Py_INCREF(got[k].descr);
        Py_XDECREF(F[k].type);
        Py_XDECREF(F[k].name);
        Py_XDECREF(F[k].descr);
        F[k] = got[k];
    }
#define KEEP(slot, key) Py_XSETREF(slot, Py_NewRef(PyDict_GetItemString(kw, key)))
    KEEP(AccType, "AccumulateGrad");
    KEEP(ShapeOnlyType, "ShapeOnly");
    KEEP(NdarrayType, "ndarray");
    KEEP(FreedGraphError, "FreedGraphError");
    KEEP(STATS, "STATS");
    KEEP(FREED_MSG, "FREED_MSG");
    KEEP(version_error, "version_error");
    KEEP(arity_error, "arity_error");
    KEEP(accumulate, "accumulate");
    KEEP(run_hooks, "run_hooks");
    KEEP(unpack, "unpack");
    KEEP(shape_only, "shape_only");
    KEEP(SHAPE_ONLY, "SHAPE_ONLY");
#undef KEEP
    ready_for_use = 1;
    Py_RETURN_NONE;
}
