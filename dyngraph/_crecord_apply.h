/* Part of dyngraph/_crecord.c (included there, compiled as one unit): ``apply.apply_op``: the kernel call, the result tensor, its node and layout. */

/* ---- */

/* ``MODE.enabled`` / ``MODE.inference``: ``MODE`` is a ``threading.local``, whose attribute
 * lookup finds this thread's dict on every call; the dict is kept per thread state (its id is
 * unique for the interpreter's life, unlike the thread state's address or the thread's ident) */
static uint64_t mode_tid = (uint64_t)-1;
static PyObject *mode_dict;

static int
mode_flag(PyObject *name)
{
    uint64_t tid = PyThreadState_GetID(PyThreadState_Get());
    PyObject *v = NULL;
    if (tid != mode_tid) {
        PyObject *d = PyObject_GetAttrString(MODE, "__dict__");
        if (d == NULL)
            return -1;
        if (!PyDict_CheckExact(d)) {
            Py_DECREF(d);
            d = NULL;
        }
        Py_XSETREF(mode_dict, d);
        mode_tid = d != NULL ? tid : (uint64_t)-1;
    }
    if (mode_dict != NULL && (v = PyDict_GetItemWithError(mode_dict, name)) != NULL && (v == Py_True || v == Py_False))
        return v == Py_True;
    if (PyErr_Occurred())
        return -1;
    v = PyObject_GetAttr(MODE, name);   /* not set yet in this thread's dict, or not a bool */
    if (v == NULL)
        return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

static PyObject *
global(PyObject *g, PyObject *name)
{
    PyObject *f = PyDict_GetItemWithError(g, name);
    if (f == NULL && !PyErr_Occurred())
        PyErr_Format(PyExc_NameError, "name %R is not defined", name);
    return f;
}

/* a tensor's fields this path reads, all set and of the kinds it expects */
static inline int
plain_tensor(PyObject *x)
{
    if (!Py_IS_TYPE(x, Tensor_T))
        return 0;
    PyObject *rg = FLD(x, T_rg);
    return FLD(x, T_data) != NULL && FLD(x, T_be) == NUMPY_BE && (rg == Py_True || rg == Py_False) &&
           FLD(x, T_grad_fn) != NULL && FLD(x, T_meta) != NULL && FLD(x, T_view) != NULL && FLD(x, T_ver) != NULL;
}

/* ``apply.apply_op`` for its common case; NOTMINE (nothing done) for the others */
static PyObject *
apply_fast(PyObject *op, PyObject *inputs, PyObject *attrs)
{
    if (!PyTuple_CheckExact(inputs) || !PyDict_CheckExact(attrs))
        return NOTMINE;
    Py_ssize_t n = PyTuple_GET_SIZE(inputs);
    if (n != 1 && n != 2)
        return NOTMINE;
    PyObject *a = PyTuple_GET_ITEM(inputs, 0), *b = n == 2 ? PyTuple_GET_ITEM(inputs, 1) : NULL;
    if (!plain_tensor(a) || (b != NULL && !plain_tensor(b)))
        return NOTMINE;
    PyObject *info = PyDict_GetItemWithError(INFO, op);
    if (info == NULL)
        return PyErr_Occurred() ? NULL : NOTMINE;   /* a first call: ``op_info`` makes it */
    if (!Py_IS_TYPE(info, OpInfo_T) || FLD(info, I_float_check) != Py_False)
        return NOTMINE;
    Py_INCREF(info);
    int rg = FLD(a, T_rg) == Py_True || (b != NULL && FLD(b, T_rg) == Py_True);
    PyObject *kernel = PyObject_GetAttr(op, s_kernel), *xp = NULL, *out = NULL, *t = NULL;
    if (kernel == NULL || (xp = PyObject_GetAttr(NUMPY_BE, s_xp)) == NULL)
        goto fail;
    PyObject *args[4] = {NULL, xp, FLD(a, T_data), b != NULL ? FLD(b, T_data) : NULL};
    out = PyObject_VectorcallDict(kernel, args + 1, (n + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                  PyDict_GET_SIZE(attrs) ? attrs : NULL);
    if (out == NULL) {
        if (PyErr_ExceptionMatches(PyExc_Exception)) {
            PyObject *et, *ev, *tb;
            PyErr_Fetch(&et, &ev, &tb);
            PyErr_NormalizeException(&et, &ev, &tb);
            if (tb != NULL)
                PyException_SetTraceback(ev, tb);
            /* ``explain(op, inputs, attrs, exc)`` inside the handler, as ``apply_op`` calls it: what
             * it raises gets ``exc`` as its context, and no frame holds ``exc`` (no cycle) */
            PyObject *prev = PyErr_GetHandledException();
            PyErr_SetHandledException(ev);
            PyObject *cargs[4] = {op, inputs, attrs, ev};
            PyObject *r = PyObject_Vectorcall(explain_fn, cargs, 4, NULL);
            PyErr_SetHandledException(prev);
            Py_XDECREF(prev);
            Py_XDECREF(et);
            Py_XDECREF(ev);
            Py_XDECREF(tb);
            Py_XDECREF(r);
            if (r != NULL)
                PyErr_SetString(PyExc_SystemError, "dyngraph: a failed kernel was not explained");
        }
        goto fail;
    }
    if (!Py_IS_TYPE(out, ndarray_T)) {   /* NumPy returns scalars (np.float32) from full reductions */
        PyObject *o = call1(asarray_fn, out);
        Py_SETREF(out, o);
        if (out == NULL)
            goto fail;
    }
    t = Tensor_T->tp_alloc(Tensor_T, 0);
    if (t == NULL)
        goto fail;
    set_fld(t, T_data, out);
    set_fld(t, T_be, NUMPY_BE);
    set_fld(t, T_ver, Py_None);
    set_fld(t, T_meta, Py_None);
    set_fld(t, T_view, Py_None);
    int rec = 0;
    if (rg) {
        if ((rec = mode_flag(s_enabled)) < 0)
            goto fail;
        if (rec)
            rec = FLD(info, I_diff) == Py_True;
    }
    if (rec) {
        if (record_small_c(op, attrs, inputs, t, info) < 0)
            goto fail;
    }
    else {
        set_fld(t, T_grad_fn, Py_None);
        set_fld(t, T_rg, Py_False);
        int inf = mode_flag(s_inference);
        if (inf < 0)
            goto fail;
        if (inf) {
            PyObject *v = PyObject_CallNoArgs((PyObject *)InfVersion_T);
            if (v == NULL)
                goto fail;
            steal_fld(t, T_ver, v);
        }
    }
    PyObject *f = NULL;
    if (FLD(info, I_view) == Py_True && n == 1) {
        if ((f = global(apply_globals, s_track)) == NULL)
            goto fail;
        if (f == track_fn) {
            if (track_c(t, a, op, attrs) < 0)
                goto fail;
        }
        else {
            PyObject *targs[4] = {t, a, op, attrs};
            PyObject *r = PyObject_Vectorcall(f, targs, 4, NULL);
            if (r == NULL)
                goto fail;
            Py_DECREF(r);
        }
    }
    else if (FLD(info, I_layout) == Py_True &&
             (FLD(a, T_view) != Py_None || (b != NULL && FLD(b, T_view) != Py_None))) {
        if ((f = global(apply_globals, s_lay_out)) == NULL)
            goto fail;
        PyObject *largs[4] = {t, op, inputs, attrs};
        PyObject *r = PyObject_Vectorcall(f, largs, 4, NULL);
        if (r == NULL)
            goto fail;
        Py_DECREF(r);
    }
    Py_DECREF(info);
    Py_DECREF(kernel);
    Py_DECREF(xp);
    Py_DECREF(out);
    return t;
fail:
    Py_DECREF(info);
    Py_XDECREF(kernel);
    Py_XDECREF(xp);
    Py_XDECREF(out);
    Py_XDECREF(t);
    return NULL;
}

/* ``cls._apply_op(op, inputs, attrs)`` */
static PyObject *
apply_via(PyObject *cls, PyObject *op, PyObject *inputs, PyObject *attrs)
{
    if ((PyTypeObject *)cls == Tensor_T && _PyType_Lookup(Tensor_T, s_apply_op) == apply_classmethod) {
        PyObject *r = apply_fast(op, inputs, attrs);
        if (r != NOTMINE)
            return r;
        PyObject *args[4] = {cls, op, inputs, attrs};
        return PyObject_Vectorcall(py_apply_op, args, 4, NULL);
    }
    PyObject *args[4] = {cls, op, inputs, attrs};
    return PyObject_VectorcallMethod(s_apply_op, args, 4, NULL);
}

static PyObject *
apply_op(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "_apply_op() takes 3 arguments (%zd given)", nargs - 1);
        return NULL;
    }
    PyObject *r = apply_fast(args[1], args[2], args[3]);
    if (r != NOTMINE)
        return r;
    return PyObject_Vectorcall(py_apply_op, args, 4, NULL);
}

static PyObject *
record_small_py(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "record_small(op, attrs, inputs, out, info)");
        return NULL;
    }
    PyObject *inputs = args[2];
    Py_ssize_t n = PyTuple_Check(inputs) ? PyTuple_GET_SIZE(inputs) : 0;
    if ((n != 1 && n != 2) || !Py_IS_TYPE(args[3], Tensor_T) || !Py_IS_TYPE(args[4], OpInfo_T)) {
        PyErr_SetString(PyExc_TypeError, "record_small: one or two tensors, a Tensor, an OpInfo");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (!plain_tensor(PyTuple_GET_ITEM(inputs, i))) {
            PyErr_SetString(PyExc_TypeError, "record_small: an input is not a plain NumPy Tensor");
            return NULL;
        }
    if (record_small_c(args[0], args[1], inputs, args[3], args[4]) < 0)
        return NULL;
    Py_RETURN_NONE;
}
