"""Applying an op to tensors: run the kernel, and record a ``Node`` when autograd needs one.

This is dyngraph's hot path (one call per op of the user's program), so it is written flat:
per-op facts are computed once (``OpInfo``), objects are made without ``__init__`` calls,
the common cases of ``edge`` (an input with history) and ``shape_only`` (a cached NumPy key)
are inlined, and a failing kernel is explained by the op's ``infer`` only after it failed.
"""

from __future__ import annotations

import numpy as np

from shared_ops import ShapeOnly, Spec, get_backend

from .errors import AutogradError, DTypeError, ShapeError, as_runtime
from .node import _SHAPE_ONLY, SEQ, STATS, Node, SavedValue, dtype_name_of, shape_only, version_error

new = object.__new__
ndarray = np.ndarray
NUMPY = get_backend("numpy")
_NP_DTYPES = {n: np.dtype(n) for n in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")}


class Version:
    """The version counter of a storage, shared by a tensor, its ``detach()``es and views."""

    __slots__ = ("v", "views")

    def __init__(self):
        self.v = 0
        self.views = None  # weak references to the other live tensors on the storage (``views.py``)


class InferenceVersion(Version):
    """The counter of a tensor made in ``inference_mode``: it never counts (``v`` stays -1, so
    the engine's version checks take their slow path, where ``not_saved_if_inference`` refuses)."""

    __slots__ = ()

    def __init__(self):
        self.v = -1
        self.views = None


INFERENCE_SAVED_MSG = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference "
    "mode in computation tracked by autograd. To work around this, you can make a clone to get a normal "
    "tensor and use it in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`."
)


def refuse_inference(*versions) -> None:
    for v in versions:
        if v.__class__ is InferenceVersion:
            raise AutogradError(INFERENCE_SAVED_MSG)


class OpInfo:
    """What recording needs to know about an op, computed once per op."""

    __slots__ = ("diff", "save_all", "save_pos", "save_output", "saves", "float_check", "view", "reads", "read_bits",
                 "plain", "save1", "save2", "layout")

    def __init__(self, op):
        self.diff = op.vjp is not None
        s = op.save_inputs
        self.save_all = s is True
        self.save_pos = frozenset(s) if isinstance(s, tuple) else frozenset()
        self.save_output = bool(op.save_output)
        self.saves = self.save_all or bool(self.save_pos) or self.save_output
        self.float_check = op.name == "astype"  # the one differentiable op that may leave floats
        self.view = bool(op.view_of)  # a view of its one input (ops with index arrays gather: copies)
        # its result may take a strided input's layout (``result_layout.lay_out``; others are contiguous)
        self.layout = bool(op.elementwise) or bool(op.preserve_format)
        # ops that declare grad_reads: per mask of the inputs that require grad (one bit per
        # ``read_bits`` entry), the positions of the inputs to save; else None
        self.reads = self.read_bits = None
        if op.grad_reads is not None:
            keys = sorted(op.grad_reads)
            self.read_bits = tuple((1 << j, k) for j, k in enumerate(keys))
            self.reads = tuple(
                op.saved_for(tuple(k in keys and m >> keys.index(k) & 1 for k in range(keys[-1] + 1)))[0]
                for m in range(1 << len(keys))
            )
        # saves none of its inputs, whichever require grad (the engine has no saved input to check)
        self.plain = not (self.save_all or self.save_pos) if self.reads is None else not any(self.reads)
        # for ``record_small``: whether to save each input of a call with one input (indexed by
        # whether it requires grad) or two (``save2[a_requires_grad][b_requires_grad]``: two
        # lookups by bool cost less than building a mask of two bits)
        self.save1 = tuple(0 in op.saved_for((m,))[0] for m in (False, True))
        self.save2 = tuple(
            tuple((0 in keep, 1 in keep) for keep in (op.saved_for((ra, rb))[0] for rb in (False, True)))
            for ra in (False, True)
        )


INFO: dict = {}


def op_info(op) -> OpInfo:
    info = INFO.get(op)
    if info is None:
        info = INFO[op] = OpInfo(op)
    return info


def nbytes(a) -> int:
    if a.__class__ is np.ndarray:
        return a.nbytes
    return int(a.size) * _NP_DTYPES[dtype_name_of(a.dtype)].itemsize  # array-api-strict has no nbytes


def record(op, attrs, inputs, out, info) -> None:
    """Make the node for ``out = op(*inputs, **attrs)`` and make it ``out.grad_fn``.

    Per input: the edge to its history (``edge``), and the tensor itself where the op saves it
    (with its version when it was already changed in place) or a ``ShapeOnly`` stand-in. An op
    that declares ``grad_reads`` saves only the inputs the inputs that require grad read.
    """
    node = new(Node)
    node.op = op
    node.attrs = attrs
    node.info = info
    node.seq = next(SEQ)
    node.released = False
    node.hooks = None
    node.label = None
    node.vers = None
    node.nbytes = 0  # set before anything below can raise: __del__ reads it
    save_all = info.save_all
    pos = info.save_pos
    if info.reads is not None:  # only what the gradients of the inputs that require grad read
        m = 0
        for b, k in info.read_bits:
            if inputs[k]._rg:
                m |= b
        pos = info.reads[m]
        save_all = False
    size = 0
    changed = False
    nxt = []
    saved = []
    i = 0
    for x in inputs:
        if x._rg:
            fn = x._grad_fn
            nxt.append(fn if fn is not None else edge(x))
        else:
            nxt.append(None)
        d = x._data
        if save_all or i in pos:
            saved.append(x)
            size += d.nbytes if d.__class__ is ndarray else nbytes(d)
            v = x._ver
            if v is not None and v.v:  # already changed in place (or an inference tensor)
                refuse_inference(v)
                changed = True
        else:  # the stand-in, from shape_only's cache directly when the key is NumPy's
            so = _SHAPE_ONLY.get((d.shape, d.dtype)) if d.__class__ is ndarray else None
            saved.append(so if so is not None else shape_only(d.shape, d.dtype))
        i += 1
    node.next = tuple(nxt)
    node.saved = saved = tuple(saved)
    if changed:  # else every saved tensor was at version 0, which unpack expects
        node.vers = tuple(0 if e.__class__ is ShapeOnly or e._ver is None else e._ver.v for e in saved)
    if info.save_output:
        d = out._data
        sv = new(SavedValue)
        sv.data = d
        v = new(Version)
        v.v = 0
        v.views = None
        sv.counter = out._ver = v
        node.out = sv
        size += d.nbytes if d.__class__ is ndarray else nbytes(d)
    else:
        node.out = None
    node.nbytes = size
    if size:
        st = STATS
        b = st.saved_bytes = st.saved_bytes + size
        if b > st.peak_saved_bytes:
            st.peak_saved_bytes = b
    out._grad_fn = node
    out._rg = True


def edge(x):
    """The node a gradient for ``x`` goes to: its ``grad_fn``, or a leaf's ``AccumulateGrad``."""
    fn = x._grad_fn
    if fn is not None:
        return fn
    m = x._meta
    r = m.acc if m is not None else None
    acc = r() if r is not None else None
    return acc if acc is not None else x._accumulator()


def unpack(node, as_tensors: bool) -> tuple:
    """The saved inputs for the rule (arrays, or the tensors with ``as_tensors``) and stand-ins,
    after checking that no saved tensor was changed in place since it was saved."""
    vers = node.vers
    out = []
    k = 0
    for e in node.saved:
        if e.__class__ is ShapeOnly:
            out.append(e)
        else:
            v = e._ver
            if v is not None and v.v != (0 if vers is None else vers[k]):
                raise version_error(node, e._data, v.v, 0 if vers is None else vers[k])
            out.append(e if as_tensors else e._data)
        k += 1
    return tuple(out)


def explain(op, inputs, attrs, exc):
    """A kernel failed: let ``infer`` name the problem (both shapes), else re-raise the
    kernel's error, a TypeError or ValueError as dyngraph's class that is also a RuntimeError
    (PyTorch raises RuntimeError for an op it cannot run)."""
    specs = tuple(Spec(tuple(x._data.shape), dtype_name_of(x._data.dtype)) for x in inputs)
    try:
        op.infer(*specs, **op.bind_attrs(attrs))
    except Exception as clear:
        raise as_runtime(clear) from None
    if isinstance(exc, (TypeError, ValueError)) and not isinstance(exc, RuntimeError):
        kind = DTypeError if isinstance(exc, TypeError) else ShapeError
        raise kind(f"{op.name}: {exc}") from exc
    raise exc


_CONSTS: dict = {}


def const_array(be, value, dtype: str):
    """A constant array; on NumPy, Python scalars share one read-only 0-d array per value
    (0 is not cached: 0.0 == -0.0 would share one entry)."""
    if be is NUMPY:
        if value.__class__ in (float, int) and value == value and value != 0:
            key = (value, dtype)
            arr = _CONSTS.get(key)
            if arr is None:
                if len(_CONSTS) > 1024:
                    _CONSTS.clear()
                arr = np.asarray(value, dtype=_NP_DTYPES[dtype])
                arr.flags.writeable = False
                _CONSTS[key] = arr
            return arr
        return np.asarray(value, dtype=_NP_DTYPES[dtype])
    return be.asarray(value, dtype)
