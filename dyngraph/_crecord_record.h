/* Part of dyngraph/_crecord.c (included there, compiled as one unit): Recording a node: ``record_small`` and what it inlines (edges, stand-ins, versions). */

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
