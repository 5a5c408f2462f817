"""``dg.Tensor``: an array plus autograd state, on the shared tensor surface.

Every operator and method comes from ``shared_ops.TensorSurface``; this class supplies how an
op is applied (``_apply_op``: run the kernel, record a ``Node`` when needed), constants
(``_const``), and PyTorch's autograd attributes. The in-place ops live in ``inplace.py``.
"""

from __future__ import annotations

import weakref

import numpy as np

from shared_ops import ShapeOnly, TensorSurface, backend_of, common_backend, dtype_name, get_backend
from shared_ops.backend import default_backend
from shared_ops.dtypes import FLOATING

from . import dtypes as _dt
from .errors import AutogradError, DTypeError, as_runtime
from .grad_mode import MODE
from .inplace import InplaceMixin
from .node import SEQ, STATS, AccumulateGrad, Node, SavedValue, _Handle

_new = object.__new__
_NUMPY = get_backend("numpy")
_ndarray = np.ndarray
_FLOAT_NAMES = frozenset(FLOATING)

# backend dtype object -> name (NumPy, CuPy and array-api-strict dtypes are hashable)
_NAME: dict = {}


def _dtype_name_of(dt) -> str:
    n = _NAME.get(dt)
    if n is None:
        n = _NAME[dt] = dtype_name(dt)
    return n


class _Version:
    """The version counter of a storage, shared by a tensor, its ``detach()``es and views."""

    __slots__ = ("v",)

    def __init__(self):
        self.v = 0


class _OpInfo:
    """What recording needs to know about an op, computed once per op."""

    __slots__ = ("diff", "save_all", "save_pos", "save_output", "float_check", "view")

    def __init__(self, op):
        self.diff = op.vjp is not None
        s = op.save_inputs
        self.save_all = s is True
        self.save_pos = frozenset(s) if isinstance(s, tuple) else frozenset()
        self.save_output = bool(op.save_output)
        self.float_check = op.name in ("astype",)  # the one differentiable op that may leave floats
        self.view = op.name in ("reshape", "transpose", "squeeze", "expand_dims", "broadcast_to", "getitem")


_INFO: dict = {}
_SHAPE_ONLY: dict = {}


def _shape_only(shape, dtype_obj) -> ShapeOnly:
    key = (shape, dtype_obj)
    s = _SHAPE_ONLY.get(key)
    if s is None:
        if len(_SHAPE_ONLY) > 4096:
            _SHAPE_ONLY.clear()
        s = _SHAPE_ONLY[key] = ShapeOnly(shape, _dtype_name_of(dtype_obj))
    return s


def _nbytes(a) -> int:
    try:
        return a.nbytes
    except AttributeError:
        return int(a.size) * _dt.BY_NAME[_dtype_name_of(a.dtype)].itemsize


def _record(op, attrs, inputs, out, info) -> Node:
    """The node for ``out = op(*inputs, **attrs)``; sets ``out.grad_fn``."""
    node = _new(Node)
    node.op = op
    node.attrs = attrs
    node.seq = next(SEQ)
    node.released = False
    node.hooks = node.retain = None
    nxt = []
    saved = []
    nbytes = 0
    save_all = info.save_all
    pos = info.save_pos
    i = 0
    for x in inputs:
        if x._rg:
            fn = x._grad_fn
            if fn is None:
                fn = x._accumulator()
            nxt.append(fn)
        else:
            nxt.append(None)
        d = x._data
        if save_all or i in pos:
            v = x._ver
            saved.append(SavedValue(x, d, 0 if v is None else v.v, None))
            nbytes += _nbytes(d)
        else:
            saved.append(_shape_only(d.shape, d.dtype))
        i += 1
    node.next = tuple(nxt)
    node.saved = tuple(saved)
    d = out._data
    if info.save_output:
        v = out._ver = _Version()
        node.out = SavedValue(None, d, 0, v)
        nbytes += _nbytes(d)
    else:
        node.out = _shape_only(d.shape, d.dtype)
    node.nbytes = nbytes
    if nbytes:
        b = STATS.saved_bytes = STATS.saved_bytes + nbytes
        if b > STATS.peak_saved_bytes:
            STATS.peak_saved_bytes = b
    STATS.created += 1
    out._grad_fn = node
    out._rg = True
    return node


def _explain(op, inputs, attrs, exc):
    """A kernel failed: let ``infer`` name the problem (both shapes), else re-raise as is."""
    from shared_ops import Spec

    specs = tuple(Spec(tuple(x._data.shape), _dtype_name_of(x._data.dtype)) for x in inputs)
    try:
        op.infer(*specs, **op.bind_attrs(attrs))
    except Exception as clear:
        raise as_runtime(clear) from None
    raise exc


class Tensor(InplaceMixin, TensorSurface):
    """An n-dimensional array that can record the ops applied to it (``requires_grad``).

    ``dg.Tensor(2, 3)`` makes an uninitialised float32 tensor, as ``torch.Tensor(2, 3)``.
    """

    __slots__ = ("_data", "_be", "_ver", "_rg", "_grad_fn", "_grad", "_acc", "_hooks", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, *shape, device=None):
        be = get_backend(device) if device is not None else default_backend()
        if len(shape) == 1 and isinstance(shape[0], (list, tuple)) and not all(isinstance(s, int) for s in shape[0]):
            data = be.asarray(np.asarray(shape[0], dtype=np.float32))
        else:
            if len(shape) == 1 and isinstance(shape[0], tuple):
                shape = shape[0]
            data = be.xp.empty(tuple(int(s) for s in shape), dtype=be.xp.float32)
        _init(self, data, be)

    # ------------------------------------------------------------------ surface plumbing
    @classmethod
    def _apply_op(cls, op, inputs, attrs):
        info = _INFO.get(op)
        if info is None:
            info = _INFO[op] = _OpInfo(op)
        try:
            be = inputs[0]._be
            rg = False
            for x in inputs:
                if x._be is not be:
                    be = None
                    break
                if x._rg:
                    rg = True
        except AttributeError:  # a non-tensor operand (an array, a list): make it a constant
            inputs = _coerce(inputs)
            return cls._apply_op(op, inputs, attrs)
        if be is None:  # mixed backends: DeviceError naming both (or the one they share)
            be = common_backend([x._data for x in inputs], op.name)
        try:
            if len(inputs) == 2:
                a, b = inputs
                out = op.kernel(be.xp, a._data, b._data, **attrs)
            elif len(inputs) == 1:
                out = op.kernel(be.xp, inputs[0]._data, **attrs)
            else:
                out = op.kernel(be.xp, *[x._data for x in inputs], **attrs)
        except Exception as exc:
            _explain(op, inputs, attrs, exc)
        if be is _NUMPY and out.__class__ is not _ndarray:
            out = np.asarray(out)
        t = _new(Tensor)
        t._data = out
        t._be = be
        t._ver = None
        t._grad = None
        t._acc = None
        t._hooks = None
        t._grad_fn = None
        t._rg = False
        if rg and MODE.enabled and info.diff:
            if info.float_check and _dtype_name_of(out.dtype) not in _FLOAT_NAMES:
                return t
            _record(op, attrs, inputs, t, info)
        if info.view:
            _share_version_if_view(t, inputs[0])
        return t

    def _const(self, value, dtype):
        return _const(self._be, value, dtype)

    # ------------------------------------------------------------------ array attributes
    @property
    def data(self):
        """The backend array (NumPy, CuPy or array-api-strict), outside autograd's view."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else self._be.asarray(value)

    @property
    def shape(self) -> tuple:
        return self._data.shape

    def size(self, dim=None):
        s = self._data.shape
        return tuple(s) if dim is None else s[dim]

    def dim(self) -> int:
        return len(self._data.shape)

    def numel(self) -> int:
        n = 1
        for d in self._data.shape:
            n *= d
        return n

    @property
    def dtype(self) -> _dt.DType:
        return _dt.of_array_dtype(self._data.dtype)

    @property
    def _dtype_name(self) -> str:
        return _dtype_name_of(self._data.dtype)

    def is_floating_point(self) -> bool:
        return self._dtype_name in _FLOAT_NAMES

    @property
    def device(self) -> str:
        return self._be.device

    @property
    def backend(self):
        """The ``shared_ops.Backend`` the data lives on."""
        return self._be

    def numpy(self, force: bool = False) -> np.ndarray:
        """The data as a NumPy array (shared with the tensor on the NumPy backend)."""
        if self._rg and not force:
            raise AutogradError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        return self._be.to_numpy(self._data)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def tolist(self):
        return self._be.to_numpy(self._data).tolist()

    def item(self):
        a = self._be.to_numpy(self._data)
        if a.size != 1:
            raise AutogradError(
                f"a Tensor with {a.size} elements cannot be converted to Scalar; index one element first"
            )
        return a.reshape(()).item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._dtype_name in _FLOAT_NAMES:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    def to(self, target=None, dtype=None, *, device=None):
        """``to("cpu")``/``to("cuda")`` moves the data; ``to(dg.float64)`` casts (recorded)."""
        if target is not None and not isinstance(target, str) and device is None:
            dtype, target = target, None
        t = self
        if dtype is not None:
            t = t.astype(dtype)
        dev = device if device is not None else target
        if dev is None:
            return t
        be = get_backend(dev)
        if be is t._be:
            return t
        out = _init(_new(Tensor), be.asarray(t._be.to_numpy(t._data)), be)
        if t._rg:
            out._rg = True  # a copy on another device is a new leaf
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index: int = 0):
        return self.to(f"cuda:{index}")

    def __repr__(self) -> str:
        arr = np.asarray(self._be.to_numpy(self._data))
        body = np.array2string(arr, separator=", ", prefix="tensor(")
        extra = []
        if self._dtype_name not in ("float32", "int64", "bool"):
            extra.append(f"dtype={self.dtype!r}")
        if self._be.device != "cpu":
            extra.append(f"device='{self._be.device}'")
        if self._grad_fn is not None:
            extra.append(f"grad_fn=<{self._grad_fn.name()}>")
        elif self._rg:
            extra.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extra) + ")"

    # ------------------------------------------------------------------ autograd attributes
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True):
        if self._grad_fn is not None:
            if not requires_grad:
                raise AutogradError(
                    "you can only change requires_grad flags of leaf variables. If you want to use a "
                    "computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach()."
                )
            return self
        if requires_grad and self._dtype_name not in _FLOAT_NAMES:
            raise AutogradError(
                "Only Tensors of floating point and complex dtype can require gradients "
                f"(this one is {self._dtype_name}; make it with dtype=dg.float32)"
            )
        self._rg = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None and not isinstance(value, Tensor):
            raise AutogradError(f"assigned grad expected to be a Tensor or None but got {type(value).__name__}")
        if value is not None and tuple(value.shape) != tuple(self.shape):
            raise AutogradError(
                f"assigned grad has data of a different size: {tuple(value.shape)} vs the tensor's {tuple(self.shape)}"
            )
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        fn = self._grad_fn
        return fn is not None and fn.retain is not None and fn.retain() is self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (a no-op on leaves)."""
        if not self._rg:
            raise AutogradError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is not None:
            self._grad_fn.retain = weakref.ref(self)

    def register_hook(self, fn):
        """``fn(grad) -> Tensor or None`` runs on this tensor's gradient before it is used;
        a returned tensor replaces the gradient. Returns a handle with ``.remove()``."""
        if not self._rg:
            raise AutogradError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            return self._grad_fn.register_prehook(fn)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _Handle(self._hooks, fn)

    def detach(self):
        """A new leaf sharing this tensor's data and version counter, outside the graph."""
        t = _init(_new(Tensor), self._data, self._be)
        v = self._ver
        if v is None:
            v = self._ver = _Version()
        t._ver = v
        return t

    def detach_(self):
        if self._grad_fn is not None and self._grad_fn.retain is not None:
            self._grad_fn.retain = None
        self._grad_fn = None
        self._rg = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Sum d(self)/d(leaf) into every leaf's ``.grad`` (see ``dyngraph.engine``)."""
        from .engine import backward

        backward((self,), None if gradient is None else (gradient,), retain_graph, create_graph, inputs)

    def _accumulator(self) -> AccumulateGrad:
        r = self._acc
        acc = r() if r is not None else None
        if acc is None:
            acc = AccumulateGrad(self)
            self._acc = weakref.ref(acc)
        return acc


def _init(t: Tensor, data, be) -> Tensor:
    if be is _NUMPY and data.__class__ is not _ndarray:
        data = np.asarray(data)
    t._data = data
    t._be = be
    t._ver = None
    t._grad = None
    t._acc = None
    t._hooks = None
    t._grad_fn = None
    t._rg = False
    return t


def wrap(data, be=None) -> Tensor:
    """A leaf tensor (no grad) around a backend array."""
    return _init(_new(Tensor), data, be if be is not None else backend_of(data))


def _share_version_if_view(t: Tensor, src: Tensor) -> None:
    """NumPy views (reshape, transpose, basic indexing...) share their base's version counter."""
    d = t._data
    if t._be is _NUMPY and d.base is not None and np.may_share_memory(d, src._data):
        v = src._ver
        if v is None:
            v = src._ver = _Version()
        t._ver = v


_CONSTS: dict = {}
_NP_DTYPES = {n: np.dtype(n) for n in _dt.NAMES}


def _const(be, value, dtype: str) -> Tensor:
    """A constant tensor; Python scalars on NumPy share one read-only 0-d array per value."""
    if be is _NUMPY and value.__class__ in (float, int) and value == value and value != 0:
        key = (value, dtype)
        arr = _CONSTS.get(key)
        if arr is None:
            if len(_CONSTS) > 1024:
                _CONSTS.clear()
            arr = np.asarray(value, dtype=_NP_DTYPES[dtype])
            arr.flags.writeable = False
            _CONSTS[key] = arr
        return _init(_new(Tensor), arr, be)
    return _init(_new(Tensor), be.asarray(value, dtype), be)


def _coerce(inputs) -> tuple:
    like = next((x for x in inputs if isinstance(x, Tensor)), None)
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            out.append(x)
        elif isinstance(x, TensorSurface):
            raise DTypeError(f"cannot mix a dg.Tensor with {type(x).__name__}: dyngraph and staticgraph values do not combine")
        elif like is not None:
            out.append(like._as_operand(x))
        else:
            out.append(wrap(np.asarray(x), _NUMPY))
    return tuple(out)
