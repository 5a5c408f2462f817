"""``broadcast_to`` and its adjoint ``sum_to``: the one place broadcasting is undone.

Both take the target as the ``shape`` attribute. A ``None`` entry (a free dimension of a
static graph) is resolved when the kernel runs from an optional second input ``like`` whose
runtime shape the target mirrors; staticgraph adds that input, no rule needs to.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..registry import Spec, broadcast_shapes, fmt_shape, register
from ..registry import resolve_free as _resolve
from . import _strides


_ndarray = np.ndarray
_LEADING = [tuple(range(n)) for n in range(8)]


def _same(a, b) -> bool:
    """Equal shapes, a free (None) dimension matching anything."""
    return all(p is None or q is None or p == q for p, q in zip(a, b))


def _broadcast_to_forward(xp, x, like=None, *, shape):
    return xp.broadcast_to(x, _resolve(shape, like))


def _broadcast_to_infer(x: Spec, like: Spec | None = None, *, shape) -> Spec:
    shape = tuple(shape)
    if len(shape) < x.ndim or not _same(broadcast_shapes("broadcast_to", x.shape, shape), shape):
        raise ShapeError(f"broadcast_to: cannot broadcast shape {fmt_shape(x.shape)} to {fmt_shape(shape)}")
    return Spec(shape, x.dtype)


def _broadcast_to_index_map(dims, in_shape, out_shape, *, shape):
    lead = len(out_shape) - len(in_shape)  # right-aligned; a size-1 input dim broadcasts
    return tuple(None if s == 1 else dims[lead + k] for k, s in enumerate(in_shape))


register(
    "broadcast_to",
    doc="``x`` broadcast to ``shape`` (as ``Tensor.expand``); its gradient is ``sum_to``.",
    view_of=(0,), strides=_strides.broadcast_to, index_map=_broadcast_to_index_map,
    exact=True,
    forward=_broadcast_to_forward,
    infer=_broadcast_to_infer,
    vjp=lambda ops, g, inputs, output, *, shape: (ops.sum_to(g, inputs[0].shape),) + (None,) * (len(inputs) - 1),
    attrs=("shape",), linear=True, save_inputs=False, nondiff=frozenset({1}),
    torch_name="ExpandBackward0",
)


def _sum_to_forward(xp, x, like=None, *, shape):
    if like is None and x.__class__ is _ndarray:
        lead = x.ndim - len(shape)
        if lead > 0 and shape and x.shape[lead:] == shape:
            # a bias's gradient (one per layer per step): the branch below for axes
            # (0, .., lead - 1), written out (bench_dyngraph_opcodes W3: 36 opcodes fewer each)
            return np.add.reduce(x, axis=_LEADING[lead] if lead < 8 else tuple(range(lead)))
    shape = _resolve(shape, like)
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1
    )
    if not axes:
        return x
    if x.__class__ is _ndarray and len(axes) == lead and shape:
        # only leading axes summed (a bias's gradient): the same reduction, its result owned
        # rather than a reshaped view, so the dyngraph engine can hand it over without a copy
        # (a full reduction stays below: NumPy would give a scalar, not a 0-d array)
        return x.sum(axis=axes)
    out = xp.sum(x, axis=axes, keepdims=True)
    return xp.reshape(out, tuple(out.shape[lead:])) if lead else out


def _sum_to_infer(x: Spec, like: Spec | None = None, *, shape) -> Spec:
    shape = tuple(shape)
    if len(shape) > x.ndim or not _same(broadcast_shapes("sum_to", x.shape, shape), x.shape):
        raise ShapeError(
            f"sum_to: cannot sum shape {fmt_shape(x.shape)} down to {fmt_shape(shape)} "
            "(the target must broadcast to the input)"
        )
    return Spec(shape, x.dtype)


register(
    "sum_to",
    may_alias=(0,), reduction=True,
    forward=_sum_to_forward,
    infer=_sum_to_infer,
    vjp=lambda ops, g, inputs, output, *, shape: (ops.broadcast_to(g, shape=inputs[0].shape),) + (None,) * (len(inputs) - 1),
    attrs=("shape",), linear=True, save_inputs=False, nondiff=frozenset({1}),
    torch_name="SumToBackward0",
    doc="Sum x down to shape: the adjoint of broadcast_to, used by every broadcasting rule.",
)
