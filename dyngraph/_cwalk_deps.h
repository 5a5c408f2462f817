/* dyngraph/_cwalk.c: the dependency count, and one gradient routed along one edge. */

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

/* One contribution gi (a reference this takes over; NULL for None) along the edge to c, as
 * walk_py's edge loop does: c's dependency count drops by one; while consumers are still to
 * come the contribution is buffered, else c is ready with its buffer, this contribution last:
 * a sink waits in ``sinks``, a node becomes the next to run (``ready``) or goes on the heap. */
static int route(PyObject *c, PyObject *gi, PyObject *deps, PyObject *buf, PyObject *heap, PyObject *sinks,
                 PyObject **ready, PyObject **ready_g)
{
    PyObject *lst = NULL;
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
        if (gi == NULL)
            return 0;
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
        Py_DECREF(gi);
        return 0;
    }
    if (pop(buf, c, &lst) < 0)  /* c is ready: its buffer, this contribution last */
        goto error;
    if (lst != NULL) {
        if (gi == NULL)
            gi = lst;
        else if (PyList_CheckExact(lst)) {
            if (PyList_Append(lst, gi) < 0)
                goto error;
            Py_SETREF(gi, lst);
        }
        else {
            PyObject *two = PyList_New(2);
            if (two == NULL)
                goto error;
            PyList_SET_ITEM(two, 0, lst);
            PyList_SET_ITEM(two, 1, gi);
            gi = two;
        }
        lst = NULL;
    }
    if ((PyObject *)Py_TYPE(c) == AccType) {
        if (stash(buf, c, gi) < 0 || PyList_Append(sinks, c) < 0)
            goto error;
        Py_XDECREF(gi);
        return 0;
    }
    if (*ready == NULL) {
        *ready = Py_NewRef(c);
        *ready_g = gi;
        return 0;
    }
    long long cs, rs;
    if (seq_of(c, &cs) < 0 || seq_of(*ready, &rs) < 0)
        goto error;
    if (cs > rs) {  /* c runs first; the one that was next waits on the heap */
        if (push(heap, *ready) < 0 || stash(buf, *ready, *ready_g) < 0)
            goto error;
        Py_SETREF(*ready, Py_NewRef(c));
        Py_XSETREF(*ready_g, gi);
        return 0;
    }
    if (push(heap, c) < 0 || stash(buf, c, gi) < 0)
        goto error;
    Py_XDECREF(gi);
    return 0;
error:
    Py_XDECREF(gi);
    Py_XDECREF(lst);
    return -1;
}
