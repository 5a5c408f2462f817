/* dyngraph's forward hot path in C: ``Tensor._apply_op`` (the kernel call, the result tensor,
 * its ``Node``) and the surface's commonest entries to it (``a + b``, ``a * 2.0``, ``W @ x``,
 * ``xs[t]``), for the calls that are their common case.
 *
 * The Python modules stay the reference: ``apply.apply_op``, ``record_small.record_small``,
 * ``binary_fast.BinaryFastPath._binary`` and the surface's methods. Each function here takes the
 * case its Python twin writes out first (one or two tensors of the exact class ``Tensor`` on
 * NumPy, a dict of attributes, an op whose ``OpInfo`` exists) and makes the same objects in the
 * same order; any other call goes to the Python twin before anything was done, so the rare cases
 * (other backends, arrays or lists among the inputs, ``astype``, a first call of an op) and every
 * error message stay Python's. Views and strided layouts call ``apply.track`` and
 * ``apply.lay_out`` (looked up at each call, so that a test can replace them).
 *
 * The classes stay Python classes with ``__slots__``: their fields are read and written at the
 * offsets their member descriptors give (``setup`` reads them once and checks each is an object
 * slot), and new objects are made by the class's ``tp_alloc``, which is what ``object.__new__``
 * calls. ``tests/dyngraph/test_crecord.py`` runs both paths on the same programs and compares
 * the nodes field by field and the gradients bitwise.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#ifndef GC_SOURCE_HASH
#define GC_SOURCE_HASH "unknown"
#endif

/* ``getattr(x, name, None)``'s lookup (public from 3.13, private before) */
#if PY_VERSION_HEX >= 0x030D0000
#define LOOKUP_ATTR PyObject_GetOptionalAttr
#else
#define LOOKUP_ATTR _PyObject_LookupAttr
#endif

#define FLD(o, off) (*(PyObject **)((char *)(o) + (off)))

/* the classes and objects the hot path uses (``setup``) */
static PyTypeObject *ViewOf_T, *Tensor_T, *Node_T, *SavedValue_T, *Version_T, *InfVersion_T, *OpInfo_T, *ndarray_T;
static PyObject *NUMPY_BE, *INFO, *MODE, *SEQ, *STATS, *SHAPE_ONLY, *CONSTS, *FLOAT_DTYPES, *OPS;
static PyObject *apply_globals, *fast_globals;   /* ``track``/``lay_out`` and ``_general`` are read there */
static PyObject *py_apply_op, *py_binary, *py_getitem, *get_op_fn, *shape_only_fn, *edge_fn, *nbytes_fn,
    *refuse_fn, *kernel_failed_fn, *asarray_fn, *track_fn;
static PyObject *apply_classmethod, *binary_descr;   /* what ``Tensor`` holds when this module is in use */
static PyObject *ZERO, *ONE;

/* slot offsets */
static Py_ssize_t T_data, T_be, T_ver, T_rg, T_grad_fn, T_meta, T_view;
static Py_ssize_t N_op, N_attrs, N_info, N_seq, N_next, N_saved, N_vers, N_out, N_nbytes, N_released, N_hooks, N_label;
static Py_ssize_t S_data, S_counter, V_v, V_views;
static Py_ssize_t I_diff, I_save_output, I_float_check, I_view, I_layout, I_save1, I_save2;
static Py_ssize_t C_saved_bytes, C_peak, C_freed;
static Py_ssize_t W_root, W_rchain, W_base, W_chain, W_no_grad;

static PyObject *s_kernel, *s_xp, *s_enabled, *s_inference, *s_shape, *s_dtype, *s_nbytes, *s_acc, *s_ndim,
    *s_track, *s_lay_out, *s_general, *s_apply_op, *s_binary, *s_const, *s_index, *s_i, *s_add, *s_mul,
    *s_matmul, *s_getitem, *s_Dot, *s_Mv, *s_named, *s_name, *s_op;

static PyObject NOTMINE_OBJ;            /* only its address is used */
#define NOTMINE (&NOTMINE_OBJ)

static inline void
set_fld(PyObject *o, Py_ssize_t off, PyObject *v)
{
    PyObject *old = FLD(o, off);
    Py_INCREF(v);
    FLD(o, off) = v;
    Py_XDECREF(old);
}

static inline void
steal_fld(PyObject *o, Py_ssize_t off, PyObject *v)
{
    PyObject *old = FLD(o, off);
    FLD(o, off) = v;
    Py_XDECREF(old);
}

static inline PyObject *
call1(PyObject *f, PyObject *a)
{
    return PyObject_Vectorcall(f, &a, 1, NULL);
}

/* ------------------------------------------------------------------ setup */

static int
offset_of(PyObject *cls, const char *name, Py_ssize_t *out)
{
    PyObject *d = PyObject_GetAttrString(cls, name);
    if (d == NULL)
        return -1;
    if (!Py_IS_TYPE(d, &PyMemberDescr_Type) || ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "dyngraph._crecord: %R.%s is not an object slot", cls, name);
        Py_DECREF(d);
        return -1;
    }
    *out = ((PyMemberDescrObject *)d)->d_member->offset;
    Py_DECREF(d);
    return 0;
}

static PyObject *
item(PyObject *ns, const char *key)
{
    PyObject *v = PyDict_GetItemString(ns, key);
    if (v == NULL)
        PyErr_Format(PyExc_KeyError, "dyngraph._crecord.setup: %s missing", key);
    else
        Py_INCREF(v);
    return v;
}

#define TAKE(var, key) if ((var = (void *)item(ns, key)) == NULL) return NULL
#define OFF(cls, name, var) if (offset_of((PyObject *)(cls), name, &var) < 0) return NULL

static PyObject *
setup(PyObject *mod, PyObject *ns)
{
    if (!PyDict_Check(ns)) {
        PyErr_SetString(PyExc_TypeError, "setup takes a dict");
        return NULL;
    }
    TAKE(Tensor_T, "Tensor"); TAKE(Node_T, "Node"); TAKE(SavedValue_T, "SavedValue");
    TAKE(Version_T, "Version"); TAKE(InfVersion_T, "InferenceVersion"); TAKE(OpInfo_T, "OpInfo");
    TAKE(ndarray_T, "ndarray"); TAKE(NUMPY_BE, "NUMPY"); TAKE(INFO, "INFO"); TAKE(MODE, "MODE");
    TAKE(SEQ, "SEQ"); TAKE(STATS, "STATS"); TAKE(SHAPE_ONLY, "_SHAPE_ONLY"); TAKE(CONSTS, "_CONST_TENSORS");
    TAKE(FLOAT_DTYPES, "_FLOAT_DTYPES"); TAKE(OPS, "OPS"); TAKE(apply_globals, "apply_globals");
    TAKE(fast_globals, "fast_globals"); TAKE(py_apply_op, "apply_op"); TAKE(py_binary, "binary");
    TAKE(py_getitem, "getitem"); TAKE(get_op_fn, "get_op"); TAKE(shape_only_fn, "shape_only");
    TAKE(edge_fn, "edge"); TAKE(nbytes_fn, "nbytes"); TAKE(refuse_fn, "refuse_inference");
    TAKE(kernel_failed_fn, "kernel_failed"); TAKE(asarray_fn, "asarray"); TAKE(track_fn, "track");
    TAKE(ViewOf_T, "ViewOf");
    PyObject *Counters = item(ns, "Counters");
    if (Counters == NULL)
        return NULL;
    OFF(Tensor_T, "_data", T_data); OFF(Tensor_T, "_be", T_be); OFF(Tensor_T, "_ver", T_ver);
    OFF(Tensor_T, "_rg", T_rg); OFF(Tensor_T, "_grad_fn", T_grad_fn); OFF(Tensor_T, "_meta", T_meta);
    OFF(Tensor_T, "_view", T_view);
    OFF(Node_T, "op", N_op); OFF(Node_T, "attrs", N_attrs); OFF(Node_T, "info", N_info); OFF(Node_T, "seq", N_seq);
    OFF(Node_T, "next", N_next); OFF(Node_T, "saved", N_saved); OFF(Node_T, "vers", N_vers); OFF(Node_T, "out", N_out);
    OFF(Node_T, "nbytes", N_nbytes); OFF(Node_T, "released", N_released); OFF(Node_T, "hooks", N_hooks);
    OFF(Node_T, "label", N_label);
    OFF(SavedValue_T, "data", S_data); OFF(SavedValue_T, "counter", S_counter);
    OFF(Version_T, "v", V_v); OFF(Version_T, "views", V_views);
    OFF(OpInfo_T, "diff", I_diff); OFF(OpInfo_T, "save_output", I_save_output);
    OFF(OpInfo_T, "float_check", I_float_check); OFF(OpInfo_T, "view", I_view); OFF(OpInfo_T, "layout", I_layout);
    OFF(OpInfo_T, "save1", I_save1); OFF(OpInfo_T, "save2", I_save2);
    OFF(Counters, "saved_bytes", C_saved_bytes); OFF(Counters, "peak_saved_bytes", C_peak);
    OFF(Counters, "freed", C_freed);
    OFF(ViewOf_T, "root", W_root); OFF(ViewOf_T, "rchain", W_rchain); OFF(ViewOf_T, "base", W_base);
    OFF(ViewOf_T, "chain", W_chain); OFF(ViewOf_T, "no_grad", W_no_grad);
    Py_DECREF(Counters);
    /* the inference counter must keep Version's layout (it adds no slot) */
    Py_ssize_t iv;
    OFF(InfVersion_T, "v", iv);
    if (iv != V_v || InfVersion_T->tp_basicsize != Version_T->tp_basicsize) {
        PyErr_SetString(PyExc_TypeError, "dyngraph._crecord: InferenceVersion's layout differs from Version's");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
set_installed(PyObject *mod, PyObject *args)
{
    if (!PyArg_ParseTuple(args, "OO", &apply_classmethod, &binary_descr))
        return NULL;
    Py_INCREF(apply_classmethod);
    Py_INCREF(binary_descr);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ record_small */

/* ``d.nbytes`` (an exact ndarray) or ``record.nbytes(d)``; -1 on error */
static Py_ssize_t
nbytes_of(PyObject *d)
{
    PyObject *n = Py_IS_TYPE(d, ndarray_T) ? PyObject_GetAttr(d, s_nbytes) : call1(nbytes_fn, d);
    if (n == NULL)
        return -1;
    Py_ssize_t r = PyLong_AsSsize_t(n);
    Py_DECREF(n);
    return r;
}

/* the cached stand-in for ``d`` (``_SHAPE_ONLY.get((d.shape, d.dtype))`` for an exact ndarray),
 * else ``shape_only(d.shape, d.dtype)`` */
static PyObject *
stand_in(PyObject *d)
{
    PyObject *shape = PyObject_GetAttr(d, s_shape);
    if (shape == NULL)
        return NULL;
    PyObject *dt = PyObject_GetAttr(d, s_dtype);
    if (dt == NULL) {
        Py_DECREF(shape);
        return NULL;
    }
    PyObject *r = NULL;
    if (Py_IS_TYPE(d, ndarray_T)) {
        PyObject *key = PyTuple_Pack(2, shape, dt);
        if (key == NULL)
            goto done;
        r = PyDict_GetItemWithError(SHAPE_ONLY, key);
        Py_DECREF(key);
        if (r != NULL) {
            Py_INCREF(r);
            goto done;
        }
        if (PyErr_Occurred())
            goto done;
    }
    PyObject *args[2] = {shape, dt};
    r = PyObject_Vectorcall(shape_only_fn, args, 2, NULL);
done:
    Py_DECREF(shape);
    Py_DECREF(dt);
    return r;
}

/* ``edge(x)`` with its common cases inlined (``record_small``'s two-input branch) */
static PyObject *
edge_of(PyObject *x)
{
    PyObject *e = FLD(x, T_grad_fn);
    if (e != Py_None) {
        Py_INCREF(e);
        return e;
    }
    PyObject *m = FLD(x, T_meta);
    if (m != Py_None) {
        PyObject *r = PyObject_GetAttr(m, s_acc);
        if (r == NULL)
            return NULL;
        if (r != Py_None) {
            e = PyObject_CallNoArgs(r);
            Py_DECREF(r);
            if (e == NULL)
                return NULL;
            if (e != Py_None)
                return e;
            Py_DECREF(e);
        }
        else
            Py_DECREF(r);
    }
    return call1(edge_fn, x);
}

/* ``x._ver.v`` when ``x`` was changed in place (new reference), NULL with no error when it was
 * not; ``refuse_inference`` raises for an inference tensor */
static PyObject *
changed_version(PyObject *x, int *err)
{
    PyObject *v = FLD(x, T_ver);
    *err = 0;
    if (v == Py_None)
        return NULL;
    PyObject *n = (Py_IS_TYPE(v, Version_T) || Py_IS_TYPE(v, InfVersion_T)) ? FLD(v, V_v) : NULL;
    if (n != NULL)
        Py_INCREF(n);
    else if ((n = PyObject_GetAttrString(v, "v")) == NULL) {
        *err = 1;
        return NULL;
    }
    int t = PyObject_IsTrue(n);
    if (t <= 0) {
        Py_DECREF(n);
        *err = t < 0;
        return NULL;
    }
    PyObject *r = call1(refuse_fn, v);
    if (r == NULL) {
        Py_DECREF(n);
        *err = 1;
        return NULL;
    }
    Py_DECREF(r);
    return n;
}

/* ``record_small(op, attrs, inputs, out, info)``: 0, or -1 with an exception set */
static int
record_small_c(PyObject *op, PyObject *attrs, PyObject *inputs, PyObject *out, PyObject *info)
{
    PyObject *node = Node_T->tp_alloc(Node_T, 0);
    if (node == NULL)
        return -1;
    set_fld(node, N_op, op);
    set_fld(node, N_attrs, attrs);
    set_fld(node, N_info, info);
    PyObject *seq = Py_TYPE(SEQ)->tp_iternext(SEQ);
    if (seq == NULL)
        goto fail;
    steal_fld(node, N_seq, seq);
    set_fld(node, N_released, Py_False);
    set_fld(node, N_hooks, Py_None);
    set_fld(node, N_label, Py_None);
    set_fld(node, N_vers, Py_None);
    set_fld(node, N_nbytes, ZERO);
    Py_ssize_t size = 0, k;
    int err;
    if (PyTuple_GET_SIZE(inputs) == 1) {
        PyObject *x = PyTuple_GET_ITEM(inputs, 0);
        int xr = FLD(x, T_rg) == Py_True;
        PyObject *e;
        if (xr) {
            e = FLD(x, T_grad_fn);
            if (e != Py_None)
                Py_INCREF(e);
            else if ((e = call1(edge_fn, x)) == NULL)
                goto fail;
        }
        else {
            e = Py_None;
            Py_INCREF(e);
        }
        PyObject *nx = PyTuple_New(1);
        if (nx == NULL) {
            Py_DECREF(e);
            goto fail;
        }
        PyTuple_SET_ITEM(nx, 0, e);
        steal_fld(node, N_next, nx);
        PyObject *d = FLD(x, T_data);
        PyObject *s1 = FLD(info, I_save1);
        if (PyTuple_GET_ITEM(s1, xr) == Py_True) {
            PyObject *sv = PyTuple_Pack(1, x);
            if (sv == NULL)
                goto fail;
            steal_fld(node, N_saved, sv);
            if ((size = nbytes_of(d)) < 0 && PyErr_Occurred())
                goto fail;
            PyObject *n = changed_version(x, &err);
            if (err)
                goto fail;
            if (n != NULL) {
                PyObject *vs = PyTuple_Pack(1, n);
                Py_DECREF(n);
                if (vs == NULL)
                    goto fail;
                steal_fld(node, N_vers, vs);
            }
        }
        else {
            PyObject *so = stand_in(d);
            if (so == NULL)
                goto fail;
            PyObject *sv = PyTuple_New(1);
            if (sv == NULL) {
                Py_DECREF(so);
                goto fail;
            }
            PyTuple_SET_ITEM(sv, 0, so);
            steal_fld(node, N_saved, sv);
        }
    }
    else {
        PyObject *a = PyTuple_GET_ITEM(inputs, 0), *b = PyTuple_GET_ITEM(inputs, 1);
        int ar = FLD(a, T_rg) == Py_True, br = FLD(b, T_rg) == Py_True;
        PyObject *ea = Py_None, *eb = Py_None;
        if (ar && (ea = edge_of(a)) == NULL)
            goto fail;
        if (br && (eb = edge_of(b)) == NULL) {
            if (ar)
                Py_DECREF(ea);
            goto fail;
        }
        if (!ar)
            Py_INCREF(ea);
        if (!br)
            Py_INCREF(eb);
        PyObject *nx = PyTuple_New(2);
        if (nx == NULL) {
            Py_DECREF(ea);
            Py_DECREF(eb);
            goto fail;
        }
        PyTuple_SET_ITEM(nx, 0, ea);
        PyTuple_SET_ITEM(nx, 1, eb);
        steal_fld(node, N_next, nx);
        PyObject *keep = PyTuple_GET_ITEM(PyTuple_GET_ITEM(FLD(info, I_save2), ar), br);
        int keep_a = PyTuple_GET_ITEM(keep, 0) == Py_True, keep_b = PyTuple_GET_ITEM(keep, 1) == Py_True;
        PyObject *da = FLD(a, T_data), *db = FLD(b, T_data), *sa = NULL, *sb = NULL;
        if (keep_a || keep_b) {
            PyObject *va = NULL, *vb = NULL;
            if (keep_a) {
                sa = a;
                Py_INCREF(sa);
                if ((size = nbytes_of(da)) < 0 && PyErr_Occurred())
                    goto fail2;
                va = changed_version(a, &err);
                if (err)
                    goto fail2;
            }
            else if ((sa = stand_in(da)) == NULL)
                goto fail2;
            if (keep_b) {
                sb = b;
                Py_INCREF(sb);
                if ((k = nbytes_of(db)) < 0 && PyErr_Occurred())
                    goto fail2;
                size += k;
                vb = changed_version(b, &err);
                if (err)
                    goto fail2;
            }
            else if ((sb = stand_in(db)) == NULL)
                goto fail2;
            if (va != NULL || vb != NULL) {
                PyObject *vs = PyTuple_Pack(2, va ? va : ZERO, vb ? vb : ZERO);
                Py_XDECREF(va);
                Py_XDECREF(vb);
                va = vb = NULL;
                if (vs == NULL)
                    goto fail2;
                steal_fld(node, N_vers, vs);
            }
            goto saved2;
        fail2:
            Py_XDECREF(va);
            Py_XDECREF(vb);
            Py_XDECREF(sa);
            Py_XDECREF(sb);
            goto fail;
        }
        else {
            if (Py_IS_TYPE(da, ndarray_T) && Py_IS_TYPE(db, ndarray_T)) {
                if ((sa = stand_in(da)) == NULL)
                    goto fail;
                /* ``sb = sa`` where both keys are equal: the same cached entry */
                PyObject *ta = PyObject_GetAttr(da, s_dtype), *tb = PyObject_GetAttr(db, s_dtype);
                int same = -1;
                if (ta != NULL && tb != NULL) {
                    same = 0;
                    if (ta == tb) {
                        PyObject *ha = PyObject_GetAttr(da, s_shape), *hb = PyObject_GetAttr(db, s_shape);
                        same = (ha != NULL && hb != NULL) ? PyObject_RichCompareBool(hb, ha, Py_EQ) : -1;
                        Py_XDECREF(ha);
                        Py_XDECREF(hb);
                    }
                }
                Py_XDECREF(ta);
                Py_XDECREF(tb);
                if (same < 0) {
                    Py_DECREF(sa);
                    goto fail;
                }
                if (same) {
                    sb = sa;
                    Py_INCREF(sb);
                }
                else if ((sb = stand_in(db)) == NULL) {
                    Py_DECREF(sa);
                    goto fail;
                }
            }
            else {
                if ((sa = stand_in(da)) == NULL)
                    goto fail;
                if ((sb = stand_in(db)) == NULL) {
                    Py_DECREF(sa);
                    goto fail;
                }
            }
        }
    saved2:;
        PyObject *sv = PyTuple_New(2);
        if (sv == NULL) {
            Py_DECREF(sa);
            Py_DECREF(sb);
            goto fail;
        }
        PyTuple_SET_ITEM(sv, 0, sa);
        PyTuple_SET_ITEM(sv, 1, sb);
        steal_fld(node, N_saved, sv);
    }
    if (FLD(info, I_save_output) == Py_True) {
        PyObject *d = FLD(out, T_data);
        PyObject *sv = SavedValue_T->tp_alloc(SavedValue_T, 0);
        if (sv == NULL)
            goto fail;
        set_fld(sv, S_data, d);
        PyObject *v = Version_T->tp_alloc(Version_T, 0);
        if (v == NULL) {
            Py_DECREF(sv);
            goto fail;
        }
        set_fld(v, V_v, ZERO);
        set_fld(v, V_views, Py_None);
        set_fld(sv, S_counter, v);
        steal_fld(out, T_ver, v);
        steal_fld(node, N_out, sv);
        if ((k = nbytes_of(d)) < 0 && PyErr_Occurred())
            goto fail;
        size += k;
    }
    else
        set_fld(node, N_out, Py_None);
    if (size) {
        PyObject *sz = PyLong_FromSsize_t(size);
        if (sz == NULL)
            goto fail;
        steal_fld(node, N_nbytes, sz);
        PyObject *now = FLD(STATS, C_saved_bytes);
        if (now == NULL) {
            PyErr_SetString(PyExc_AttributeError, "saved_bytes");
            goto fail;
        }
        PyObject *b = PyNumber_Add(now, FLD(node, N_nbytes));
        if (b == NULL)
            goto fail;
        steal_fld(STATS, C_saved_bytes, b);
        PyObject *peak = FLD(STATS, C_peak);
        int gt = PyObject_RichCompareBool(b, peak, Py_GT);
        if (gt < 0)
            goto fail;
        if (gt)
            set_fld(STATS, C_peak, b);
    }
    steal_fld(out, T_grad_fn, node);
    set_fld(out, T_rg, Py_True);
    return 0;
fail:
    Py_DECREF(node);
    return -1;
}

/* ------------------------------------------------------------------ apply_op */

static int mode_flag(PyObject *name);

/* ------------------------------------------------------------------ views.track */

/* ``views._bound``: drop the dead references when the list reaches a power of two (from 32) */
static int
bound(PyObject *ver, PyObject *refs)
{
    Py_ssize_t n = PyList_GET_SIZE(refs);
    if (n < 32 || (n & (n - 1)))
        return 0;
    PyObject *keep = PyList_New(0);
    if (keep == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(refs); i++) {
        PyObject *r = PyList_GET_ITEM(refs, i);
        Py_INCREF(r);
        PyObject *o = PyObject_CallNoArgs(r);
        int live = o != NULL && o != Py_None;
        Py_XDECREF(o);
        if (o == NULL || (live && PyList_Append(keep, r) < 0)) {
            Py_DECREF(r);
            Py_DECREF(keep);
            return -1;
        }
        Py_DECREF(r);
    }
    steal_fld(ver, V_views, keep);
    return 0;
}

/* ``views.track(t, src, op, attrs)`` where ``src`` is no view (its own storage root, as ``xs``
 * in ``xs[t]``); other sources take the Python function */
static int
track_c(PyObject *t, PyObject *src, PyObject *op, PyObject *attrs)
{
    PyObject *ver = FLD(src, T_ver);
    if (FLD(src, T_view) != Py_None ||
        (ver != Py_None && ((!Py_IS_TYPE(ver, Version_T) && !Py_IS_TYPE(ver, InfVersion_T)) ||
                            (FLD(ver, V_views) != Py_None && !PyList_CheckExact(FLD(ver, V_views)))))) {
        PyObject *args[4] = {t, src, op, attrs};
        PyObject *r = PyObject_Vectorcall(track_fn, args, 4, NULL);
        Py_XDECREF(r);
        return r == NULL ? -1 : 0;
    }
    PyObject *name = PyObject_GetAttr(op, s_name);
    if (name == NULL)
        return -1;
    PyObject *step = PyTuple_Pack(2, name, attrs);
    Py_DECREF(name);
    if (step == NULL)
        return -1;
    PyObject *v = ViewOf_T->tp_alloc(ViewOf_T, 0), *chain = NULL;
    if (v == NULL || (chain = PyTuple_Pack(1, step)) == NULL)
        goto fail;
    set_fld(v, W_root, src);
    set_fld(v, W_base, src);
    set_fld(v, W_rchain, chain);
    set_fld(v, W_chain, chain);
    int on = mode_flag(s_enabled);
    if (on < 0)
        goto fail;
    set_fld(v, W_no_grad, on ? Py_False : Py_True);
    steal_fld(t, T_view, v);
    v = NULL;
    if (ver == Py_None) {
        if ((ver = Version_T->tp_alloc(Version_T, 0)) == NULL)
            goto fail;
        set_fld(ver, V_v, ZERO);
        set_fld(ver, V_views, Py_None);
        steal_fld(src, T_ver, ver);
    }
    set_fld(t, T_ver, ver);
    Py_INCREF(ver);
    PyObject *refs = FLD(ver, V_views), *r = PyWeakref_NewRef(t, NULL);
    int bad = r == NULL;
    if (!bad) {
        if (refs == Py_None) {
            PyObject *l = PyList_New(1);
            bad = l == NULL;
            if (!bad) {
                PyList_SET_ITEM(l, 0, r);
                r = NULL;
                steal_fld(ver, V_views, l);
            }
        }
        else {
            Py_INCREF(refs);
            bad = PyList_Append(refs, r) < 0 || bound(ver, refs) < 0;
            Py_DECREF(refs);
        }
    }
    Py_XDECREF(r);
    Py_DECREF(ver);
    Py_DECREF(step);
    Py_DECREF(chain);
    return bad ? -1 : 0;
fail:
    Py_XDECREF(v);
    Py_XDECREF(chain);
    Py_DECREF(step);
    return -1;
}

/* ------------------------------------------------------------------ Node's finalizer */

/* ``Node.__del__`` (the freed count and the saved bytes of ``dg.stats()``), as a C finalizer */
static void
node_finalize(PyObject *self)
{
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyObject *f = FLD(STATS, C_freed), *nf = f != NULL ? PyNumber_Add(f, ONE) : NULL;
    if (nf != NULL) {
        steal_fld(STATS, C_freed, nf);
        PyObject *nb = FLD(self, N_nbytes);
        int t = nb != NULL ? PyObject_IsTrue(nb) : -1;
        if (t > 0) {
            PyObject *sb = FLD(STATS, C_saved_bytes), *ns = sb != NULL ? PyNumber_Subtract(sb, nb) : NULL;
            if (ns != NULL)
                steal_fld(STATS, C_saved_bytes, ns);
            else
                t = -1;
        }
        if (t < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_AttributeError, "nbytes");
            PyErr_WriteUnraisable(self);
        }
    }
    else
        PyErr_WriteUnraisable(self);
    PyErr_Restore(et, ev, tb);
}

static PyObject *
install_finalizer(PyObject *mod, PyObject *noargs)
{
    Node_T->tp_finalize = node_finalize;
    Py_RETURN_NONE;
}

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
            PyObject *cargs[4] = {op, inputs, attrs, ev};
            PyObject *r = PyObject_Vectorcall(kernel_failed_fn, cargs, 4, NULL);
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

static PyObject *
binary_on(PyObject *op_name, PyObject *a, PyObject *b)
{
    PyObject *op = get_op(op_name);
    if (op == NULL)
        return NULL;
    PyObject *inputs = PyTuple_Pack(2, a, b), *attrs = inputs ? PyDict_New() : NULL, *r = NULL;
    if (attrs != NULL)
        r = apply_via((PyObject *)Tensor_T, op, inputs, attrs);
    Py_DECREF(op);
    Py_XDECREF(inputs);
    Py_XDECREF(attrs);
    return r;
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
            if (known != NULL) {
                PyObject *op = get_op(self->name);
                if (op == NULL)
                    return NULL;
                PyObject *inputs = PyTuple_Pack(1, x), *attrs = inputs ? PyDict_New() : NULL, *r = NULL;
                if (attrs != NULL)
                    r = apply_via((PyObject *)Tensor_T, op, inputs, attrs);
                Py_DECREF(op);
                Py_XDECREF(inputs);
                Py_XDECREF(attrs);
                return r;
            }
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

/* ------------------------------------------------------------------ module */

static PyMethodDef methods[] = {
    {"setup", setup, METH_O, "Read the classes, objects and slot offsets the hot path uses (a dict)."},
    {"set_installed", set_installed, METH_VARARGS, "The classmethod and ``_binary`` descriptor Tensor now holds."},
    {"apply_op", (PyCFunction)(void (*)(void))apply_op, METH_FASTCALL, "``apply.apply_op``, compiled."},
    {"record_small", (PyCFunction)(void (*)(void))record_small_py, METH_FASTCALL,
     "``record_small.record_small``, compiled (for plain NumPy tensors)."},
    {"install_finalizer", install_finalizer, METH_NOARGS, "Node's ``__del__`` accounting as a C finalizer."},
    {"unary_function", unary_function, METH_VARARGS, "``dg.tanh`` and its kin (see UnaryFunction)."},
    {"entries", entries, METH_O, "The surface's entries as method descriptors of a class."},
    {NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "dyngraph._crecord",
                                       "dyngraph's forward hot path, compiled (see dyngraph/_crecord.c).", -1, methods};

#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

PyMODINIT_FUNC
PyInit__crecord(void)
{
    INTERN(s_kernel, "kernel"); INTERN(s_xp, "xp"); INTERN(s_enabled, "enabled"); INTERN(s_inference, "inference");
    INTERN(s_shape, "shape"); INTERN(s_dtype, "dtype"); INTERN(s_nbytes, "nbytes"); INTERN(s_acc, "acc");
    INTERN(s_ndim, "ndim"); INTERN(s_track, "track"); INTERN(s_lay_out, "lay_out"); INTERN(s_general, "_general");
    INTERN(s_apply_op, "_apply_op"); INTERN(s_binary, "_binary"); INTERN(s_const, "_const");
    INTERN(s_index, "index"); INTERN(s_i, "i"); INTERN(s_add, "add"); INTERN(s_mul, "mul");
    INTERN(s_matmul, "matmul"); INTERN(s_getitem, "getitem"); INTERN(s_Dot, "DotBackward0");
    INTERN(s_Mv, "MvBackward0"); INTERN(s_named, "_named"); INTERN(s_name, "name"); INTERN(s_op, "_op");
    if ((ZERO = PyLong_FromLong(0)) == NULL || (ONE = PyLong_FromLong(1)) == NULL)
        return NULL;
    if (PyType_Ready(&UnaryFn_T) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    if (PyModule_AddStringConstant(m, "SOURCE_HASH", GC_SOURCE_HASH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
