/* dyngraph's backward walk, compiled: engine.walk_py and autograd's dependency count in C.
 *
 * The Python twins (dyngraph/engine.py walk_py, dyngraph/autograd.py _count_deps) are the
 * reference; this file does what they do, step for step, for the common backward: no grad()
 * capture, no create_graph (engine.walk decides before the walk starts). Everything that does
 * arithmetic or raises stays a Python function called from here (the gradient rules, add_n,
 * the hooks, accumulate, unpack's general case, the error builders), so the gradients are the
 * Python walk's bit for bit and the errors are its errors; what runs in C is the bookkeeping
 * between them: the heap, the dependency counts, the gradient buffers, the version checks of
 * saved tensors, the output stand-ins and releasing the saved values.
 *
 * Node, Tensor, Version, SavedValue, OpInfo and Counters are Python classes with __slots__.
 * setup() reads each slot's offset from the class's member descriptor once; a field is then
 * read and written in place where the object's type resolves the name to that very descriptor
 * (the class itself, or a subclass that does not override it), and through the generic
 * getattr/setattr otherwise. Generic attribute access from C costs about what the
 * interpreter's specialised bytecode does, so without the offsets the C walk would gain little.
 *
 * Reference counting follows the Python walk's locals: a gradient is dropped where the Python
 * walk sets its variable to None, so that accumulate() may steal a leaf's gradient exactly when
 * the Python walk lets it (engine.owned counts references).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#ifndef GC_SOURCE_HASH
#define GC_SOURCE_HASH "unknown"
#endif

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
    *run_hooks, *unpack, *shape_only, *SHAPE_ONLY, *heappush, *heappop;
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

static int push(PyObject *heap, PyObject *node)
{
    long long s;
    if (seq_of(node, &s) < 0)
        return -1;
    PyObject *key = PyLong_FromLongLong(-s);
    if (key == NULL)
        return -1;
    PyObject *item = PyTuple_Pack(2, key, node);
    Py_DECREF(key);
    if (item == NULL)
        return -1;
    PyObject *args[2] = {heap, item};
    PyObject *r = PyObject_Vectorcall(heappush, args, 2, NULL);
    Py_DECREF(item);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
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

/* -- the node's rule ----------------------------------------------------------------------- */

/* One node's gradients: its rule on g (a new reference: the tuple of gradients), NULL on error. */
static PyObject *run_node(PyObject *n, PyObject *g, PyObject *nxt, PyObject *ops, PyObject *interp,
                          int retain, LastStandIn *last)
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
    if (PyObject_SetAttr(ops, s_needs_input_grad, nxt) < 0)
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

/* -- walk ---------------------------------------------------------------------------------- */

PyDoc_STRVAR(walk_doc,
"walk(heap, buf, deps, interp, retain)\n--\n\n"
"engine.walk_py(heap, buf, deps, interp, retain) for a backward without capture, execute or\n"
"create_graph: run the ready nodes until none is left.");

static PyObject *cwalk_walk(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (!ready_for_use) {
        PyErr_SetString(PyExc_RuntimeError, "dyngraph._cwalk.setup() was not called");
        return NULL;
    }
    if (nargs != 5 || !PyList_CheckExact(args[0]) || !PyDict_CheckExact(args[1]) || !PyDict_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, "walk(heap: list, buf: dict, deps: dict, interp, retain)");
        return NULL;
    }
    PyObject *heap = args[0], *buf = args[1], *deps = args[2], *interp = args[3];
    int retain = PyObject_IsTrue(args[4]);
    if (retain < 0)
        return NULL;
    PyObject *ops = PyObject_GetAttr(interp, s_ops);
    if (ops == NULL)
        return NULL;
    PyObject *sinks = PyList_New(0);
    if (sinks == NULL) {
        Py_DECREF(ops);
        return NULL;
    }
    LastStandIn last = {NULL, NULL, NULL};
    /* owned references; ready/ready_g: the next node while it is the only ready one, and its buffer */
    PyObject *ready = NULL, *ready_g = NULL, *n = NULL, *g = NULL, *nxt = NULL, *grads = NULL,
             *gi = NULL, *lst = NULL, *hooks = NULL;

    while (ready != NULL || PyList_GET_SIZE(heap)) {
        int take_ready = ready != NULL;
        if (take_ready && PyList_GET_SIZE(heap)) {
            long long rs, top;
            PyObject *item = PyList_GET_ITEM(heap, 0);
            if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
                PyErr_SetString(PyExc_TypeError, "the backward heap holds (-seq, node) pairs");
                goto error;
            }
            top = PyLong_AsLongLong(PyTuple_GET_ITEM(item, 0));
            if ((top == -1 && PyErr_Occurred()) || seq_of(ready, &rs) < 0)
                goto error;
            take_ready = rs > -top;
        }
        if (take_ready) {
            n = ready;
            g = ready_g;
            ready = ready_g = NULL;
        }
        else {
            if (ready != NULL) {
                if (push(heap, ready) < 0 || stash(buf, ready, ready_g) < 0)
                    goto error;
                Py_CLEAR(ready);
                Py_CLEAR(ready_g);
            }
            PyObject *item = PyObject_CallOneArg(heappop, heap);
            if (item == NULL)
                goto error;
            if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
                Py_DECREF(item);
                PyErr_SetString(PyExc_TypeError, "the backward heap holds (-seq, node) pairs");
                goto error;
            }
            n = Py_NewRef(PyTuple_GET_ITEM(item, 1));
            Py_DECREF(item);
            if (pop(buf, n, &g) < 0)
                goto error;
        }
        if ((nxt = get(n, N_NEXT)) == NULL)
            goto error;
        if (!PyTuple_CheckExact(nxt)) {  /* the edges as a tuple, as record makes them */
            PyObject *t = PySequence_Tuple(nxt);
            if (t == NULL)
                goto error;
            Py_SETREF(nxt, t);
        }
        if (g != NULL) {
            if (PyList_CheckExact(g)) {
                Py_SETREF(g, sum_terms(ops, g));
                if (g == NULL)
                    goto error;
            }
            if ((hooks = get(n, N_HOOKS)) == NULL)
                goto error;
            int some = PyObject_IsTrue(hooks);
            if (some < 0)
                goto error;
            if (some) {
                Py_SETREF(g, PyObject_CallFunctionObjArgs(run_hooks, hooks, g, interp, NULL));
                if (g == NULL)
                    goto error;
            }
            Py_CLEAR(hooks);
            grads = run_node(n, g, nxt, ops, interp, retain, &last);
            if (grads == NULL)
                goto error;
        }
        else if (!retain) {
            int released = truth(n, N_RELEASED);
            if (released < 0)
                goto error;
            if (!released) {
                PyObject *r = PyObject_CallMethodNoArgs(n, s_release);
                if (r == NULL)
                    goto error;
                Py_DECREF(r);
            }
        }
        Py_CLEAR(g);

        /* last input first (see engine.py's docstring) */
        for (Py_ssize_t i = PyTuple_GET_SIZE(nxt) - 1; i >= 0; i--) {
            PyObject *c = PyTuple_GET_ITEM(nxt, i);
            if (c == Py_None)
                continue;
            if (grads != NULL) {
                gi = grad_at(grads, i);
                if (gi == NULL && PyErr_Occurred())
                    goto error;
            }
            PyObject *dobj = PyDict_GetItemWithError(deps, c);
            if (dobj == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetObject(PyExc_KeyError, c);
                goto error;
            }
            Py_ssize_t d = PyLong_AsSsize_t(dobj);
            if (d == -1 && PyErr_Occurred())
                goto error;
            d -= 1;
            PyObject *dnew = PyLong_FromSsize_t(d);
            if (dnew == NULL)
                goto error;
            int r = PyDict_SetItem(deps, c, dnew);
            Py_DECREF(dnew);
            if (r < 0)
                goto error;
            if (d) {  /* more consumers to come: buffer the contribution */
                if (gi != NULL) {
                    PyObject *held = PyDict_GetItemWithError(buf, c);
                    if (held == NULL) {
                        if (PyErr_Occurred() || PyDict_SetItem(buf, c, gi) < 0)
                            goto error;
                    }
                    else if (PyList_CheckExact(held)) {
                        if (PyList_Append(held, gi) < 0)
                            goto error;
                    }
                    else {
                        PyObject *two = PyList_New(2);
                        if (two == NULL)
                            goto error;
                        PyList_SET_ITEM(two, 0, Py_NewRef(held));
                        PyList_SET_ITEM(two, 1, Py_NewRef(gi));
                        r = PyDict_SetItem(buf, c, two);
                        Py_DECREF(two);
                        if (r < 0)
                            goto error;
                    }
                    Py_CLEAR(gi);
                }
                continue;
            }
            if (pop(buf, c, &lst) < 0)  /* c is ready: its buffer, this contribution last */
                goto error;
            if (lst != NULL) {
                if (gi == NULL) {
                    gi = lst;
                    lst = NULL;
                }
                else if (PyList_CheckExact(lst)) {
                    if (PyList_Append(lst, gi) < 0)
                        goto error;
                    Py_SETREF(gi, lst);
                    lst = NULL;
                }
                else {
                    PyObject *two = PyList_New(2);
                    if (two == NULL)
                        goto error;
                    PyList_SET_ITEM(two, 0, lst);
                    PyList_SET_ITEM(two, 1, gi);
                    gi = two;
                    lst = NULL;
                }
            }
            if ((PyObject *)Py_TYPE(c) == AccType) {
                if (stash(buf, c, gi) < 0 || PyList_Append(sinks, c) < 0)
                    goto error;
                Py_CLEAR(gi);
            }
            else if (ready == NULL) {
                ready = Py_NewRef(c);
                ready_g = gi;
                gi = NULL;
            }
            else {
                long long cs, rs;
                if (seq_of(c, &cs) < 0 || seq_of(ready, &rs) < 0)
                    goto error;
                if (cs > rs) {
                    if (push(heap, ready) < 0 || stash(buf, ready, ready_g) < 0)
                        goto error;
                    Py_SETREF(ready, Py_NewRef(c));
                    Py_XSETREF(ready_g, gi);
                    gi = NULL;
                }
                else {
                    if (push(heap, c) < 0 || stash(buf, c, gi) < 0)
                        goto error;
                    Py_CLEAR(gi);
                }
            }
        }
        Py_CLEAR(grads);  /* so that a sink that is the sole owner may keep the array */
        Py_ssize_t ns = PyList_GET_SIZE(sinks);
        if (ns) {
            for (Py_ssize_t j = 0; j < ns; j++) {
                PyObject *c = PyList_GET_ITEM(sinks, j);
                if (pop(buf, c, &lst) < 0)
                    goto error;
                if (lst == NULL)
                    continue;  /* accumulate() returns at once for no terms */
                if (!PyList_CheckExact(lst)) {
                    /* one term, handed over in a list that accumulate() pops: no reference
                     * stays here, so the leaf may steal the array as under the Python walk */
                    PyObject *one = PyList_New(1);
                    if (one == NULL)
                        goto error;
                    PyList_SET_ITEM(one, 0, lst);
                    lst = one;
                }
                PyObject *r = PyObject_CallFunctionObjArgs(accumulate, c, lst, interp, NULL);
                Py_CLEAR(lst);
                if (r == NULL)
                    goto error;
                Py_DECREF(r);
            }
            if (PyList_SetSlice(sinks, 0, ns, NULL) < 0)
                goto error;
        }
        Py_CLEAR(nxt);
        Py_CLEAR(n);
    }
    Py_DECREF(ops);
    Py_DECREF(sinks);
    Py_XDECREF(last.shape);
    Py_XDECREF(last.dtype);
    Py_XDECREF(last.so);
    Py_RETURN_NONE;
error:
    Py_XDECREF(ready);
    Py_XDECREF(ready_g);
    Py_XDECREF(n);
    Py_XDECREF(g);
    Py_XDECREF(nxt);
    Py_XDECREF(grads);
    Py_XDECREF(gi);
    Py_XDECREF(lst);
    Py_XDECREF(hooks);
    Py_DECREF(ops);
    Py_DECREF(sinks);
    Py_XDECREF(last.shape);
    Py_XDECREF(last.dtype);
    Py_XDECREF(last.so);
    return NULL;
}

/* -- the dependency count ----------------------------------------------------------------- */

PyDoc_STRVAR(count_deps_doc,
"count_deps(edges) -> dict\n--\n\n"
"autograd._count_deps: node -> how many edges point at it, for every node reachable from edges.");

static PyObject *cwalk_count_deps(PyObject *self, PyObject *edges)
{
    if (!ready_for_use) {
        PyErr_SetString(PyExc_RuntimeError, "dyngraph._cwalk.setup() was not called");
        return NULL;
    }
    PyObject *roots = PySequence_Fast(edges, "count_deps() takes a sequence of nodes");
    if (roots == NULL)
        return NULL;
    PyObject *deps = PyDict_New(), *stack = PyList_New(0), *zero = PyLong_FromLong(0), *one = PyLong_FromLong(1);
    PyObject *nx = NULL;
    if (deps == NULL || stack == NULL || zero == NULL || one == NULL)
        goto error;
    for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(roots); j++) {
        PyObject *e = PySequence_Fast_GET_ITEM(roots, j);
        int has = PyDict_Contains(deps, e);
        if (has < 0)
            goto error;
        if (!has && (PyDict_SetItem(deps, e, zero) < 0 || PyList_Append(stack, e) < 0))
            goto error;
    }
    while (PyList_GET_SIZE(stack)) {
        Py_ssize_t top = PyList_GET_SIZE(stack) - 1;
        PyObject *e = Py_NewRef(PyList_GET_ITEM(stack, top));
        if (PyList_SetSlice(stack, top, top + 1, NULL) < 0) {
            Py_DECREF(e);
            goto error;
        }
        if ((PyObject *)Py_TYPE(e) == AccType) {  /* a sink: no edges */
            Py_DECREF(e);
            continue;
        }
        PyObject *raw = get(e, N_NEXT);
        Py_DECREF(e);
        if (raw == NULL)
            goto error;
        nx = PySequence_Fast(raw, "a node's next edges must be a tuple");
        Py_DECREF(raw);
        if (nx == NULL)
            goto error;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(nx); i++) {
            PyObject *c = PySequence_Fast_GET_ITEM(nx, i);
            if (c == Py_None)
                continue;
            PyObject *d = PyDict_GetItemWithError(deps, c);
            if (d == NULL) {
                if (PyErr_Occurred() || PyDict_SetItem(deps, c, one) < 0 || PyList_Append(stack, c) < 0)
                    goto error;
            }
            else {
                PyObject *d1 = PyNumber_Add(d, one);
                if (d1 == NULL)
                    goto error;
                int r = PyDict_SetItem(deps, c, d1);
                Py_DECREF(d1);
                if (r < 0)
                    goto error;
            }
        }
        Py_CLEAR(nx);
    }
    Py_DECREF(roots);
    Py_DECREF(stack);
    Py_DECREF(zero);
    Py_DECREF(one);
    return deps;
error:
    Py_DECREF(roots);
    Py_XDECREF(deps);
    Py_XDECREF(stack);
    Py_XDECREF(zero);
    Py_XDECREF(one);
    Py_XDECREF(nx);
    return NULL;
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
                                    "run_hooks", "unpack", "shape_only", "SHAPE_ONLY", "heappush", "heappop"};
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
    KEEP(heappush, "heappush");
    KEEP(heappop, "heappop");
#undef KEEP
    ready_for_use = 1;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"walk", (PyCFunction)(void (*)(void))cwalk_walk, METH_FASTCALL, walk_doc},
    {"count_deps", (PyCFunction)cwalk_count_deps, METH_O, count_deps_doc},
    {"setup", (PyCFunction)(void (*)(void))cwalk_setup, METH_VARARGS | METH_KEYWORDS, setup_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "dyngraph._cwalk",
    "dyngraph's backward walk, compiled (see dyngraph/_cwalk.c and dyngraph/engine.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__cwalk(void)
{
#define INTERN(v, s) if ((v = PyUnicode_InternFromString(s)) == NULL) return NULL
    INTERN(s_ops, "ops");
    INTERN(s_shape, "shape");
    INTERN(s_dtype, "dtype");
    INTERN(s_vjp, "vjp");
    INTERN(s_add_n, "add_n");
    INTERN(s_needs_input_grad, "needs_input_grad");
    INTERN(s_release, "release");
    INTERN(s_output, "output");
#undef INTERN
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddStringConstant(m, "SOURCE_HASH", GC_SOURCE_HASH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
