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
    *refuse_fn, *explain_fn, *asarray_fn, *track_fn;
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

/* the module's parts, one translation unit (setup.py hashes them with this file: SOURCE_HASH) */
#include "_crecord_record.h"
#include "_crecord_views.h"
#include "_crecord_apply.h"
#include "_crecord_entries.h"
#include "_crecord_functions.h"

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
    TAKE(explain_fn, "explain"); TAKE(asarray_fn, "asarray"); TAKE(track_fn, "track");
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
    /* objects are made by ``tp_alloc``, what ``object.__new__`` calls: no class may have its own
     * ``__new__`` or allocator */
    PyTypeObject *made[] = {Tensor_T, Node_T, SavedValue_T, Version_T, ViewOf_T};
    for (size_t k = 0; k < sizeof(made) / sizeof(made[0]); k++)
        if (made[k]->tp_alloc != PyType_GenericAlloc || made[k]->tp_new != PyBaseObject_Type.tp_new) {
            PyErr_Format(PyExc_TypeError, "dyngraph._crecord: %s has its own __new__ or allocator", made[k]->tp_name);
            return NULL;
        }
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
