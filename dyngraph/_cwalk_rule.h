/* dyngraph/_cwalk.c: one node's rule, as engine.walk_py runs it (the helpers it inlines). */

/* -- small helpers ------------------------------------------------------------------------ */

/* buf.pop(key, None) as a new reference, NULL for None (the buffers never hold None) */
static int pop(PyObject *d, PyObject *key, PyObject **out)
{
#if PY_VERSION_HEX >= 0x030D0000
    int r = PyDict_Pop(d, key, out);
    if (r == 0)
        *out = NULL;
    return r < 0 ? -1 : 0;
#else
    PyObject *v = _PyDict_Pop(d, key, Py_None);
    if (v == NULL)
        return -1;
    if (v == Py_None) {
        Py_DECREF(v);
        v = NULL;
    }
    *out = v;
    return 0;
#endif
}

/* raise the exception instance a Python error builder returned */
static void raise_built(PyObject *exc)
{
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

/* The heap of waiting nodes is heapq's: a list of (-seq, node) pairs, smallest key first (the
 * latest node). The keys are distinct, so any valid heap pops the nodes in the same order as
 * heapq's functions; these compare the keys as C integers instead of comparing tuples. */
static int heap_key(PyObject *heap, Py_ssize_t i, long long *k)
{
    PyObject *item = PyList_GET_ITEM(heap, i);
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_SetString(PyExc_TypeError, "the backward heap holds (-seq, node) pairs");
        return -1;
    }
    *k = PyLong_AsLongLong(PyTuple_GET_ITEM(item, 0));
    return (*k == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int push(PyObject *heap, PyObject *node)
{
    long long s, pk;
    if (seq_of(node, &s) < 0)
        return -1;
    PyObject *key = PyLong_FromLongLong(-s);
    if (key == NULL)
        return -1;
    PyObject *item = PyTuple_Pack(2, key, node);
    Py_DECREF(key);
    if (item == NULL)
        return -1;
    int r = PyList_Append(heap, item);
    Py_DECREF(item);  /* the list holds it */
    if (r < 0)
        return -1;
    PyObject **a = ((PyListObject *)heap)->ob_item;
    Py_ssize_t pos = PyList_GET_SIZE(heap) - 1;
    while (pos > 0) {  /* up toward the root while smaller than the parent */
        Py_ssize_t parent = (pos - 1) >> 1;
        if (heap_key(heap, parent, &pk) < 0) {
            a[pos] = item;  /* every pair in the list once again */
            return -1;
        }
        if (-s >= pk)
            break;
        a[pos] = a[parent];
        pos = parent;
    }
    a[pos] = item;
    return 0;
}

/* the pair with the smallest key, taken off the heap (a new reference), NULL on error */
static PyObject *heap_pop(PyObject *heap)
{
    Py_ssize_t n = PyList_GET_SIZE(heap) - 1;
    PyObject **a = ((PyListObject *)heap)->ob_item;
    PyObject *top = a[0], *last = a[n];
    long long lk, ck, rk;
    if (n == 0) {
        Py_INCREF(top);
        if (PyList_SetSlice(heap, 0, 1, NULL) < 0) {
            Py_DECREF(top);
            return NULL;
        }
        return top;
    }
    if (heap_key(heap, n, &lk) < 0)
        return NULL;
    Py_INCREF(last);
    if (PyList_SetSlice(heap, n, n + 1, NULL) < 0) {  /* drops the list's reference to last */
        Py_DECREF(last);
        return NULL;
    }
    a = ((PyListObject *)heap)->ob_item;
    /* top's reference passes to the caller; last's (ours) goes into the hole */
    Py_ssize_t pos = 0;
    for (;;) {  /* down from the root, the smaller child up, until last fits */
        Py_ssize_t child = 2 * pos + 1;
        if (child >= n)
            break;
        if (heap_key(heap, child, &ck) < 0)
            goto fail;
        if (child + 1 < n) {
            if (heap_key(heap, child + 1, &rk) < 0)
                goto fail;
            if (rk < ck) {
                child += 1;
                ck = rk;
            }
        }
        if (lk <= ck)
            break;
        a[pos] = a[child];
        pos = child;
    }
    a[pos] = last;
    return top;
fail:
    a[pos] = last;  /* a valid list again, though no longer a heap: the walk stops here */
    Py_DECREF(top);
    return NULL;
}

/* buf[c] = gi when gi is not None */
static int stash(PyObject *buf, PyObject *c, PyObject *gi)
{
    return gi == NULL ? 0 : PyDict_SetItem(buf, c, gi);
}

/* a list's terms summed as the Python walk sums them: the one term, or add_n of them reversed */
static PyObject *sum_terms(PyObject *ops, PyObject *g)
{
    Py_ssize_t k = PyList_GET_SIZE(g);
    if (k == 1)
        return Py_NewRef(PyList_GET_ITEM(g, 0));
    PyObject *add_n = PyObject_GetAttr(ops, s_add_n);
    if (add_n == NULL)
        return NULL;
    PyObject *small[8];
    PyObject **args = k <= 8 ? small : PyMem_Malloc(k * sizeof(PyObject *));
    if (args == NULL) {
        Py_DECREF(add_n);
        return PyErr_NoMemory();
    }
    PyObject *keep = PyList_GetSlice(g, 0, k);  /* the terms stay alive whatever add_n does to g */
    PyObject *r = NULL;
    if (keep != NULL) {
        for (Py_ssize_t j = 0; j < k; j++)
            args[j] = PyList_GET_ITEM(keep, k - 1 - j);
        r = PyObject_Vectorcall(add_n, args, k, NULL);
        Py_DECREF(keep);
    }
    if (args != small)
        PyMem_Free(args);
    Py_DECREF(add_n);
    return r;
}

/* a saved tensor as the rule gets it: its array, after the version check (version 0 expected) */
static PyObject *unpack_one(PyObject *n, PyObject *e)
{
    if ((PyObject *)Py_TYPE(e) == ShapeOnlyType)
        return Py_NewRef(e);
    PyObject *v = get(e, T_VER);
    if (v == NULL)
        return NULL;
    if (v != Py_None) {
        PyObject *vv = get(v, V_V);
        Py_DECREF(v);
        if (vv == NULL)
            return NULL;
        int changed = PyObject_IsTrue(vv);
        if (changed) {
            if (changed > 0) {
                PyObject *d = get(e, T_DATA);
                if (d != NULL) {
                    PyObject *zero = PyLong_FromLong(0);
                    raise_built(PyObject_CallFunctionObjArgs(version_error, n, d, vv, zero, NULL));
                    Py_XDECREF(zero);
                    Py_DECREF(d);
                }
            }
            Py_DECREF(vv);
            return NULL;
        }
        Py_DECREF(vv);
    }
    else
        Py_DECREF(v);
    return get(e, T_DATA);
}

/* the saved inputs of a node whose saved tensors were all at version 0 (n.vers is None) */
static PyObject *unpack_plain(PyObject *n, PyObject *saved)
{
    PyObject *seq = PySequence_Fast(saved, "a node's saved values must be a tuple");
    if (seq == NULL)
        return NULL;
    Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyTuple_New(k);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *x = unpack_one(n, PySequence_Fast_GET_ITEM(seq, j));
        if (x == NULL) {
            Py_DECREF(out);
            Py_DECREF(seq);
            return NULL;
        }
        PyTuple_SET_ITEM(out, j, x);
    }
    Py_DECREF(seq);
    return out;
}

typedef struct {
    PyObject *shape, *dtype, *so;  /* the last stand-in made, and its key */
} LastStandIn;

/* the stand-in for an output the node did not save, shaped like g */
static PyObject *stand_in(PyObject *g, LastStandIn *last)
{
    PyObject *sh = PyObject_GetAttr(g, s_shape);
    if (sh == NULL)
        return NULL;
    PyObject *dt = PyObject_GetAttr(g, s_dtype);
    if (dt == NULL) {
        Py_DECREF(sh);
        return NULL;
    }
    if (dt == last->dtype) {
        int eq = PyObject_RichCompareBool(sh, last->shape, Py_EQ);
        if (eq != 0) {
            Py_DECREF(sh);
            Py_DECREF(dt);
            return eq < 0 ? NULL : Py_NewRef(last->so);
        }
    }
    PyObject *so = NULL;
    if ((PyObject *)Py_TYPE(g) == NdarrayType) {
        PyObject *key = PyTuple_Pack(2, sh, dt);
        if (key == NULL)
            goto fail;
        so = PyDict_GetItemWithError(SHAPE_ONLY, key);
        Py_DECREF(key);
        if (so != NULL)
            Py_INCREF(so);
        else if (PyErr_Occurred())
            goto fail;
    }
    if (so == NULL) {
        so = PyObject_CallFunctionObjArgs(shape_only, sh, dt, NULL);
        if (so == NULL)
            goto fail;
    }
    Py_XSETREF(last->shape, sh);
    Py_XSETREF(last->dtype, dt);
    Py_XSETREF(last->so, Py_NewRef(so));
    return so;
fail:
    Py_DECREF(sh);
    Py_DECREF(dt);
    return NULL;
}

/* n.op.vjp(ops, g, saved, out, **attrs) */
static PyObject *call_vjp(PyObject *n, PyObject *ops, PyObject *g, PyObject *saved, PyObject *out)
{
    PyObject *op = get(n, N_OP);
    if (op == NULL)
        return NULL;
    PyObject *vjp = PyObject_GetAttr(op, s_vjp);
    Py_DECREF(op);
    if (vjp == NULL)
        return NULL;
    PyObject *attrs = get(n, N_ATTRS);
    if (attrs == NULL) {
        Py_DECREF(vjp);
        return NULL;
    }
    PyObject *r = NULL;
    int some = PyObject_IsTrue(attrs);
    if (some > 0) {
        PyObject *kw = PyDict_CheckExact(attrs) ? Py_NewRef(attrs) : PyDict_New();
        if (kw != NULL && kw != attrs && PyDict_Update(kw, attrs) < 0)
            Py_CLEAR(kw);
        PyObject *args = kw == NULL ? NULL : PyTuple_Pack(4, ops, g, saved, out);
        if (args != NULL) {
            r = PyObject_Call(vjp, args, kw);
            Py_DECREF(args);
        }
        Py_XDECREF(kw);
    }
    else if (some == 0) {
        PyObject *args[4] = {ops, g, saved, out};
        r = PyObject_Vectorcall(vjp, args, 4, NULL);
    }
    Py_DECREF(attrs);
    Py_DECREF(vjp);
    return r;
}

/* Node.release()'s common cases (the node saved arrays, or its op saves nothing); else the method */
static int release(PyObject *n, PyObject *info)
{
    PyObject *b = get(n, N_NBYTES);
    if (b == NULL)
        return -1;
    int some = PyObject_IsTrue(b);
    if (some > 0) {
        PyObject *now = NULL, *left = NULL;
        if (set(n, N_RELEASED, Py_True) < 0 || (now = get(STATS, C_SAVED_BYTES)) == NULL)
            goto fail;
        left = PyNumber_InPlaceSubtract(now, b);
        Py_DECREF(now);
        if (left == NULL || set(STATS, C_SAVED_BYTES, left) < 0)
            goto fail;
        Py_DECREF(left);
        left = PyLong_FromLong(0);
        if (left == NULL || set(n, N_NBYTES, left) < 0 || set(n, N_SAVED, Py_None) < 0 || set(n, N_OUT, Py_None) < 0)
            goto fail;
        Py_DECREF(left);
        Py_DECREF(b);
        return 0;
    fail:
        Py_XDECREF(left);
        Py_DECREF(b);
        return -1;
    }
    Py_DECREF(b);
    if (some < 0)
        return -1;
    int saves = truth(info, I_SAVES);
    if (saves < 0)
        return -1;
    if (saves) {
        PyObject *r = PyObject_CallMethodNoArgs(n, s_release);
        Py_XDECREF(r);
        return r == NULL ? -1 : 0;
    }
    return set(n, N_RELEASED, Py_True);
}

/* ops.__dict__ where ``ops.needs_input_grad = x`` is just a store into it (the generic setattr,
 * no data descriptor of that name on the class), else NULL: the walk then sets the attribute */
static PyObject *plain_dict_of(PyObject *ops)
{
    PyTypeObject *t = Py_TYPE(ops);
    if (t->tp_setattro != PyObject_GenericSetAttr)
        return NULL;
    PyObject *d = _PyType_Lookup(t, s_needs_input_grad);
    if (d != NULL && Py_TYPE(d)->tp_descr_set != NULL)
        return NULL;
    PyObject *dict = PyObject_GenericGetDict(ops, NULL);
    if (dict == NULL || !PyDict_CheckExact(dict)) {
        PyErr_Clear();
        Py_XDECREF(dict);
        return NULL;
    }
    return dict;
}

/* -- the node's rule ----------------------------------------------------------------------- */

/* One node's gradients: its rule on g (a new reference: the tuple of gradients), NULL on error. */
static PyObject *run_node(PyObject *n, PyObject *g, PyObject *nxt, PyObject *ops, PyObject *ops_dict,
                          PyObject *interp, int retain, LastStandIn *last)
{
    PyObject *saved = NULL, *info = NULL, *out = NULL, *grads = NULL, *x = NULL;
    saved = get(n, N_SAVED);
    if (saved == NULL)
        return NULL;
    if (saved == Py_None) {
        PyErr_SetObject(FreedGraphError, FREED_MSG);
        goto done;
    }
    if ((info = get(n, N_INFO)) == NULL)
        goto done;
    int plain = truth(info, I_PLAIN);
    if (plain < 0)
        goto done;
    if (!plain) {
        if ((x = get(n, N_VERS)) == NULL)
            goto done;
        PyObject *unpacked = x == Py_None ? unpack_plain(n, saved)
                                          : PyObject_CallFunctionObjArgs(unpack, n, Py_False, NULL);
        Py_CLEAR(x);
        if (unpacked == NULL)
            goto done;
        Py_SETREF(saved, unpacked);
    }
    if ((out = get(n, N_OUT)) == NULL)
        goto done;
    if (out == Py_None) {  /* a stand-in shaped like g: often the previous node's again */
        Py_SETREF(out, stand_in(g, last));
        if (out == NULL)
            goto done;
    }
    else {
        PyObject *counter = get(out, S_COUNTER);
        if (counter == NULL)
            goto done;
        int changed = truth(counter, V_V);
        Py_DECREF(counter);
        if (changed < 0)
            goto done;
        x = changed ? PyObject_CallMethodObjArgs(interp, s_output, n, out, NULL) : get(out, S_DATA);
        if (x == NULL)
            goto done;
        Py_SETREF(out, x);
        x = NULL;
    }
    if ((ops_dict != NULL ? PyDict_SetItem(ops_dict, s_needs_input_grad, nxt)
                          : PyObject_SetAttr(ops, s_needs_input_grad, nxt)) < 0)
        goto done;
    grads = call_vjp(n, ops, g, saved, out);
    if (grads == NULL)
        goto done;
    Py_ssize_t k = PyObject_Size(grads), want = PyObject_Size(nxt);
    if (k < 0 || want < 0) {
        Py_CLEAR(grads);
        goto done;
    }
    if (k != want) {
        raise_built(PyObject_CallFunctionObjArgs(arity_error, n, grads, NULL));
        Py_CLEAR(grads);
        goto done;
    }
    Py_CLEAR(saved);
    Py_CLEAR(out);
    if (!retain && release(n, info) < 0)
        Py_CLEAR(grads);
done:
    Py_XDECREF(saved);
    Py_XDECREF(info);
    Py_XDECREF(out);
    return grads;
}

/* grads[i] as a new reference, NULL for None (and for an error, with the exception set) */
static PyObject *grad_at(PyObject *grads, Py_ssize_t i)
{
    PyObject *gi;
    if (PyTuple_CheckExact(grads))
        gi = Py_NewRef(PyTuple_GET_ITEM(grads, i));
    else if (PyList_CheckExact(grads))
        gi = Py_NewRef(PyList_GET_ITEM(grads, i));
    else if ((gi = PySequence_GetItem(grads, i)) == NULL)
        return NULL;
    if (gi == Py_None)
        Py_CLEAR(gi);
    return gi;
}
