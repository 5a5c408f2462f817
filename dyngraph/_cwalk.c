/* dyngraph's backward walk, compiled: engine.walk_py and engine.count_deps in C.
 *
 * The Python twins (dyngraph/engine.py walk_py and count_deps) are the
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
 * the Python walk lets it (sinks.owned counts references).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#ifndef GC_SOURCE_HASH
#define GC_SOURCE_HASH "unknown"
#endif

#include "_cwalk_slots.h"  /* the classes' fields, and setup() */
#include "_cwalk_rule.h"   /* one node's rule: unpacking, the stand-in, the call, the release */
#include "_cwalk_deps.h"   /* the dependency count, and routing a gradient along an edge */

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
    PyObject *ops_dict = plain_dict_of(ops);  /* NULL: needs_input_grad through setattr */
    LastStandIn last = {NULL, NULL, NULL};
    /* owned references; ready/ready_g: the next node while it is the only ready one, and its buffer */
    PyObject *ready = NULL, *ready_g = NULL, *n = NULL, *g = NULL, *nxt = NULL, *grads = NULL,
             *lst = NULL, *hooks = NULL, *result = NULL;

    while (ready != NULL || PyList_GET_SIZE(heap)) {
        int take_ready = ready != NULL;
        if (take_ready && PyList_GET_SIZE(heap)) {
            long long rs, top;
            if (heap_key(heap, 0, &top) < 0 || seq_of(ready, &rs) < 0)
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
            PyObject *item = heap_pop(heap);
            if (item == NULL)
                goto error;
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
            grads = run_node(n, g, nxt, ops, ops_dict, interp, retain, &last);
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
            PyObject *gi = NULL;
            if (grads != NULL && (gi = grad_at(grads, i)) == NULL && PyErr_Occurred())
                goto error;
            if (route(c, gi, deps, buf, heap, sinks, &ready, &ready_g) < 0)  /* takes gi over */
                goto error;
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
    result = Py_None;
    Py_INCREF(result);
    goto done;
error:
    Py_XDECREF(ready);
    Py_XDECREF(ready_g);
    Py_XDECREF(n);
    Py_XDECREF(g);
    Py_XDECREF(nxt);
    Py_XDECREF(grads);
    Py_XDECREF(lst);
    Py_XDECREF(hooks);
done:  /* what both ends release */
    Py_DECREF(ops);
    Py_XDECREF(ops_dict);
    Py_DECREF(sinks);
    Py_XDECREF(last.shape);
    Py_XDECREF(last.dtype);
    Py_XDECREF(last.so);
    return result;
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
