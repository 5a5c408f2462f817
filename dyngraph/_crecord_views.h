/* Part of dyngraph/_crecord.c (included there, compiled as one unit): ``views.track`` for a view of a storage root, and ``Node.__del__``'s accounting. */

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
