"""Applying an op to ``dg.Tensor``s: ``Tensor._apply_op``, the call every op of the user's
program goes through (run the kernel, make the result tensor, record its ``Node`` when autograd
needs one, give a view or a strided input's result its layout).

The compiled accelerator ``dyngraph/_crecord.c`` runs the same steps for the common calls (one or
two NumPy tensors, no dtype to check): ``bind`` puts its ``apply_op`` in place of ``apply_op``
below, which stays the reference it is tested against (``tests/dyngraph/test_crecord.py``) and
runs every call the compiled one hands back (another backend, an array among the inputs...).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np

from shared_ops import TensorSurface, common_backend
from shared_ops.dtypes import FLOATING_SET

from . import _accel
from .errors import DTypeError
from .grad_mode import MODE
from .node import dtype_name_of
from .record import INFO, NUMPY, InferenceVersion, explain, new, op_info, record
from .record_small import record_small
from .result_layout import lay_out
from .views import track

_ndarray = np.ndarray
_asarray = np.asarray
_FLOAT_NAMES = FLOATING_SET
_C = _accel.load("_crecord")
Tensor = wrap = None  # set by ``bind`` once ``tensors.py`` made the class (it imports this module)


def apply_op(cls, op, inputs, attrs):
    """``cls._apply_op(op, inputs, attrs)``: ``op`` applied to the tensors ``inputs``."""
    info = INFO.get(op) or op_info(op)
    n = len(inputs)
    try:
        if n == 2:
            a, b = inputs
            be = a._be
            rg = a._rg or b._rg
            if b._be is be:
                xp = be.xp
                try:
                    out = op.kernel(xp, a._data, b._data, **attrs) if attrs else op.kernel(xp, a._data, b._data)
                except Exception as exc:
                    explain(op, inputs, attrs, exc)
            else:
                out = _apply_mixed(op, inputs, attrs)
        elif n == 1:
            a = inputs[0]
            be = a._be
            rg = a._rg
            try:
                out = op.kernel(be.xp, a._data, **attrs)
            except Exception as exc:
                explain(op, inputs, attrs, exc)
        else:
            be = inputs[0]._be
            rg = False
            for x in inputs:
                if x._rg:
                    rg = True
                if x._be is not be:
                    be = None
            out = _apply_mixed(op, inputs, attrs) if be is None else _apply_n(op, be, inputs, attrs)
    except AttributeError:
        if all(isinstance(x, Tensor) for x in inputs):
            raise
        return cls._apply_op(op, _coerce(inputs), attrs)  # an array or a list among the inputs
    if out.__class__ is not _ndarray and be is NUMPY:
        out = _asarray(out)  # NumPy returns scalars (np.float32) from full reductions
    t = new(Tensor)
    t._data = out
    t._be = be
    t._ver = None
    t._meta = None
    t._view = None
    if rg and MODE.enabled and info.diff and not (info.float_check and dtype_name_of(out.dtype) not in _FLOAT_NAMES):
        if n < 3:
            record_small(op, attrs, inputs, t, info)  # the same node, unrolled
        else:
            record(op, attrs, inputs, t, info)  # sets _grad_fn and _rg
    else:
        t._grad_fn = None
        t._rg = False
        if MODE.inference:
            t._ver = InferenceVersion()
    if info.view and n == 1:
        track(t, inputs[0], op, attrs)
    elif not info.layout:  # matmul, reductions...: a contiguous result whatever the inputs
        pass
    elif n == 2:
        if a._view is not None or b._view is not None:  # a strided input: PyTorch's layout
            lay_out(t, op, inputs, attrs)
    elif n == 1:
        if a._view is not None:
            lay_out(t, op, inputs, attrs)
    elif any(x._view is not None for x in inputs):
        lay_out(t, op, inputs, attrs)
    return t


def _apply_n(op, be, inputs, attrs):
    try:
        return op.kernel(be.xp, *[x._data for x in inputs], **attrs)
    except Exception as exc:
        explain(op, inputs, attrs, exc)


def _apply_mixed(op, inputs, attrs):
    """Inputs on different backends: DeviceError naming both."""
    common_backend([x._data for x in inputs], op.name)
    return _apply_n(op, inputs[0]._be, inputs, attrs)  # pragma: no cover (common_backend raised)


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
            out.append(wrap(np.asarray(x), NUMPY))
    return tuple(out)


def bind(tensor_cls, wrap_fn, consts: dict) -> None:
    """Called by ``tensors.py`` once ``Tensor`` exists: the names this module needs from it, and
    the compiled accelerator put in place where it is built (``dyngraph._accel``)."""
    global Tensor, wrap, _C
    Tensor, wrap = tensor_cls, wrap_fn
    if _C is None:
        return
    from shared_ops import REGISTRY

    from . import binary_fast, node, record, views

    try:  # the classes' layout is checked there (object slots, no __new__ of their own)
        _C.setup({
            "Tensor": tensor_cls, "Node": node.Node, "SavedValue": node.SavedValue, "Version": record.Version,
            "InferenceVersion": InferenceVersion, "OpInfo": record.OpInfo, "Counters": node.Counters,
            "ndarray": np.ndarray, "NUMPY": NUMPY, "INFO": INFO, "MODE": MODE, "SEQ": node.SEQ, "STATS": node.STATS,
            "_SHAPE_ONLY": node._SHAPE_ONLY, "_CONST_TENSORS": consts, "_FLOAT_DTYPES": binary_fast._FLOAT_DTYPES,
            "OPS": REGISTRY._ops, "apply_globals": globals(), "fast_globals": vars(binary_fast),
            "apply_op": apply_op, "binary": binary_fast.BinaryFastPath._binary, "getitem": TensorSurface.__getitem__,
            "get_op": REGISTRY.get, "shape_only": node.shape_only, "edge": record.edge, "nbytes": record.nbytes,
            "refuse_inference": record.refuse_inference, "explain": explain, "asarray": np.asarray,
            "track": track, "ViewOf": views.ViewOf,
        })
    except (TypeError, KeyError) as exc:
        warnings.warn(f"dyngraph._crecord cannot run on these classes ({exc}); dyngraph runs its Python twin",
                      RuntimeWarning, stacklevel=2)
        _accel.LOADED.pop("_crecord", None)
        _C = None
        return
    _ENTRIES.update(_C.entries(binary_fast.BinaryFastPath))
    _PYTHON["_binary"] = binary_fast.BinaryFastPath.__dict__["_binary"]
    _install()


_ENTRIES: dict = {}  # the compiled surface entries (``_binary``, ``__add__``, ``__getitem__``...)
_PYTHON: dict = {}  # what they replace on ``BinaryFastPath``


def _install() -> None:
    from . import binary_fast

    Tensor._apply_op = classmethod(_C.apply_op)
    for name, method in _ENTRIES.items():
        setattr(binary_fast.BinaryFastPath, name, method)
    _C.set_installed(Tensor.__dict__["_apply_op"], _ENTRIES["_binary"])
    _C.install_finalizer()  # ``Node.__del__``'s accounting, without a Python frame per node


def functions() -> dict:
    """``dg.tanh`` and its kin (``exp``, ``log``, ``sigmoid``, ``relu``, ``sqrt``) for the
    ``dyngraph`` namespace: compiled where the accelerator is in use (a float tensor's op applied
    without the shared function's four Python calls), else none (the shared functions stay)."""
    if _C is None:
        return {}
    from shared_ops.functions import FUNCTIONS

    out = {}
    for name in ("exp", "log", "tanh", "sigmoid", "relu", "sqrt"):
        method = getattr(Tensor, name, None)
        if name in FUNCTIONS and getattr(method, "__name__", None) == name:
            out[name] = _C.unary_function(name, FUNCTIONS[name], method, Tensor._op)
    return out


@contextlib.contextmanager
def pure():
    """Inside, dyngraph runs the Python twins of the compiled functions (the tests compare both
    in one process; ``DYNGRAPH_PURE=1`` turns the compiled module off for a whole run)."""
    if _C is None or Tensor.__dict__["_apply_op"].__func__ is apply_op:
        yield
        return
    from . import binary_fast, node

    Tensor._apply_op = classmethod(apply_op)
    for name in _ENTRIES:
        delattr(binary_fast.BinaryFastPath, name)
    binary_fast.BinaryFastPath._binary = _PYTHON["_binary"]
    node.Node.__del__ = node.Node.__dict__["__del__"]  # the type's finalizer calls it again
    try:
        yield
    finally:
        _install()
