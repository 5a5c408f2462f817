"""Copies, overwrites and the view ops beyond ``shape.py``: clone flip fill copy diagonal
diagonal_scatter view_scatter index_put.

They exist for PyTorch's in-place semantics in dyngraph (``x[1:].mul_(y)``, ``x[idx] = v``,
``x.zero_()``) and work in every front end like any op:

- ``view_scatter(base, src, chain=...)``: ``base`` with the region that the view ``chain``
  selects replaced by ``src`` (PyTorch's ``CopySlices``). Written with the adjoints of the view
  ops themselves, so a new view op needs nothing here: its ``vjp`` places a value back.
- ``index_put(x, value, *arrays, index=...)``: ``x[index] = value`` for integer-array indices
  (PyTorch's ``index_put_``: with repeated positions the last write wins).
- ``fill`` / ``copy``: overwrites; ``x`` gets a zero gradient, as PyTorch's ``FillBackward0``
  and ``CopyBackwards``.

Every kernel here gathers and selects (``take``, ``where``) and never sums, so each is exact.
"""

from __future__ import annotations

import math

from ..errors import ShapeError
from ..interp import ALL_TRUE, ShapeOnly, array_ops
from ..backend import backend_of
from ..registry import REGISTRY, REQUIRED, Spec, fmt_shape, normalize_axis, register
from . import _index, _strides
from ._infer import same_dtype

# --------------------------------------------------------------------------- clone / flip

register(
    "clone",
    doc="A copy of ``x`` that shares no memory with it (as ``Tensor.clone``); the gradient passes unchanged.",
    exact=True,
    forward=lambda xp, x: xp.asarray(x, copy=True),
    infer=lambda x: Spec(x.shape, x.dtype),
    vjp=lambda ops, g, inputs, output: (g,),
    elementwise=True, linear=True, save_inputs=False, preserve_format=True,
    torch_name="CloneBackward0",
    scalar_expr=lambda x: f"{x}",
)


def _flip_infer(x: Spec, *, dims) -> Spec:
    normalize_axis("flip", dims, x.ndim)
    return Spec(x.shape, x.dtype)


register(
    "flip",
    doc="``x`` with the order of elements reversed along ``dims`` (as ``torch.flip``); the gradient is flipped back.",
    exact=True,
    forward=lambda xp, x, *, dims: xp.asarray(xp.flip(x, axis=dims), copy=True),  # a copy, as PyTorch's
    infer=_flip_infer,
    vjp=lambda ops, g, inputs, output, *, dims: (ops.flip(g, dims=dims),),
    attrs=("dims",), linear=True, save_inputs=False, preserve_format=True,
    torch_name="FlipBackward0",
)

# --------------------------------------------------------------------------- fill / copy


def _fill_forward(xp, x, *, value, kind="fill"):
    return xp.full(x.shape, value, dtype=x.dtype)


register(
    "fill",
    exact=True,
    forward=_fill_forward,
    infer=lambda x, *, value, kind="fill": Spec(x.shape, x.dtype),
    vjp=lambda ops, g, inputs, output, *, value, kind="fill": (ops.zeros_like(g),),
    attrs={"value": REQUIRED, "kind": "fill"}, save_inputs=False,
    torch_name=lambda attrs: "ZeroBackward0" if attrs.get("kind") == "zero" else "FillBackward2",
    doc="x's shape and dtype, every element `value` (x.fill_(v), x.zero_()); x gets a zero gradient.",
)


def _copy_infer(x: Spec, src: Spec) -> Spec:
    same_dtype("copy", x, src)
    _broadcastable("copy", src.shape, x.shape)
    return Spec(x.shape, x.dtype)


def _broadcastable(op, src, dst):
    if len(src) > len(dst) or any(s not in (1, d) and None not in (s, d) for s, d in zip(src[::-1], dst[::-1])):
        raise ShapeError(f"{op}: the source of shape {fmt_shape(src)} cannot be broadcast to the destination's {fmt_shape(dst)}")


def _copy_vjp(ops, g, inputs, output):
    x, src = inputs
    return (
        ops.zeros_like(g) if ops.needs_input_grad[0] else None,
        ops.sum_to(g, src.shape) if ops.needs_input_grad[1] else None,
    )


register(
    "copy",
    exact=True,
    forward=lambda xp, x, src: xp.asarray(xp.broadcast_to(src, x.shape), copy=True),
    infer=_copy_infer,
    vjp=_copy_vjp,
    linear=True, save_inputs=False,
    torch_name="torch::autograd::CopyBackwards",
    doc="src broadcast to x's shape (x.copy_(src)); x gets a zero gradient, src the summed one.",
)

# --------------------------------------------------------------------------- diagonal


def _diag_geometry(shape, offset, dim1, dim2):
    nd = len(shape)
    d1, d2 = dim1 % nd, dim2 % nd
    if d1 == d2:
        raise ShapeError(f"diagonal: dim1 and dim2 cannot be the same dimension ({dim1}, {dim2})")
    rest = tuple(i for i in range(nd) if i not in (d1, d2))
    n1, n2 = shape[d1], shape[d2]
    if n1 is None or n2 is None:
        k = None
    else:
        k = max(0, min(n1, n2 - offset)) if offset >= 0 else max(0, min(n1 + offset, n2))
    return d1, d2, rest, n1, n2, k


def _diag_positions(n1, n2, offset, k):
    # flat positions, in the (n1, n2) plane, of the k diagonal elements
    return [(i - min(offset, 0)) * n2 + i + max(offset, 0) for i in range(k)]


def _diagonal_forward(xp, x, *, offset=0, dim1=0, dim2=1):
    d1, d2, rest, n1, n2, k = _diag_geometry(x.shape, offset, dim1, dim2)
    y = xp.permute_dims(x, rest + (d1, d2))
    flat = xp.reshape(y, tuple(y.shape[:-2]) + (n1 * n2,))
    return xp.take(flat, xp.asarray(_diag_positions(n1, n2, offset, k), dtype=xp.int64), axis=flat.ndim - 1)


def _diagonal_infer(x: Spec, *, offset=0, dim1=0, dim2=1) -> Spec:
    if x.ndim < 2:
        raise ShapeError(f"diagonal: needs at least 2 dimensions, got shape {fmt_shape(x.shape)}")
    normalize_axis("diagonal", (dim1, dim2), x.ndim)
    d1, d2, rest, n1, n2, k = _diag_geometry(x.shape, offset, dim1, dim2)
    return Spec(tuple(x.shape[i] for i in rest) + (k,), x.dtype)


_DIAG_ATTRS = {"offset": 0, "dim1": 0, "dim2": 1}

register(
    "diagonal",
    doc="The diagonal of ``x`` in the plane ``(dim1, dim2)``, shifted by ``offset``, as the last dimension (as ``torch.diagonal``).",
    view_of=(0,), strides=_strides.diagonal,
    exact=True,
    forward=_diagonal_forward,
    infer=_diagonal_infer,
    vjp=lambda ops, g, inputs, output, **a: (ops.diagonal_scatter(g, shape=tuple(inputs[0].shape), **a),),
    attrs=_DIAG_ATTRS, linear=True, save_inputs=False,
    torch_name="DiagonalBackward0",
)


def _diagonal_scatter_forward(xp, g, *, shape, offset=0, dim1=0, dim2=1):
    """Zeros of ``shape`` with ``g`` on the diagonal: each (i, j) of the plane gathers the
    element of ``g`` it would hold, and a mask keeps the diagonal ones."""
    d1, d2, rest, n1, n2, k = _diag_geometry(shape, offset, dim1, dim2)
    lead = tuple(shape[i] for i in rest)
    if k == 0:
        out = xp.zeros(lead + (n1, n2), dtype=g.dtype)
    else:
        src = [min(i if offset >= 0 else j, k - 1) for i in range(n1) for j in range(n2)]
        on = xp.asarray([j - i == offset for i in range(n1) for j in range(n2)])
        picked = xp.take(g, xp.asarray(src, dtype=xp.int64), axis=g.ndim - 1)
        out = xp.reshape(xp.where(on, picked, xp.zeros_like(picked)), lead + (n1, n2))
    order = rest + (d1, d2)
    inverse = tuple(sorted(range(len(order)), key=order.__getitem__))
    return xp.permute_dims(out, inverse)


register(
    "diagonal_scatter",
    exact=True,
    forward=_diagonal_scatter_forward,
    infer=lambda g, *, shape, **a: Spec(tuple(shape), g.dtype),
    vjp=lambda ops, g, inputs, output, *, shape, **a: (ops.diagonal(g, **a),),
    attrs={"shape": REQUIRED, **_DIAG_ATTRS}, linear=True, save_inputs=False,
    torch_name="DiagonalBackwardBackward0",
    doc="The adjoint of diagonal: zeros of `shape` with g on the diagonal.",
)

# --------------------------------------------------------------------------- view_scatter


def chain_step(name: str, attrs: dict) -> tuple:
    """One view op of a chain, as a hashable attribute: ``(name, ((attr, value), ...))``."""
    return (name, tuple(sorted(attrs.items())))


def replay(ops, x, chain):
    """The view ``chain`` applied to ``x`` through ``ops`` (arrays, tensors or graph nodes)."""
    for name, attrs in chain:
        x = ops.call(name, x, **dict(attrs))
    return x


def _chain_specs(base: Spec, chain) -> list:
    specs = [base]
    for name, attrs in chain:
        specs.append(REGISTRY.get(name).infer(specs[-1], **dict(attrs)))
    return specs


def _place(ops, src, specs, chain):
    """``src`` (the view's shape) put where the chain reads it, zeros elsewhere: each view op's
    own ``vjp`` is its adjoint, and the adjoint of an injective view places values."""
    for (name, attrs), parent, child in zip(reversed(chain), reversed(specs[:-1]), reversed(specs[1:])):
        op = REGISTRY.get(name)
        stand_in = ShapeOnly(parent.shape, parent.dtype)
        (src,) = op.vjp(ops, src, (stand_in,), ShapeOnly(child.shape, child.dtype), **dict(attrs))
    return src


def _view_scatter_forward(xp, base, src, *, chain):
    ops = array_ops(backend_of(base))
    ops.needs_input_grad = ALL_TRUE
    specs = _chain_specs(Spec(tuple(base.shape), "float64"), chain)
    placed = _place(ops, src, specs, chain)
    # counted in int8, not bool: an expand's adjoint sums, and the array API sums numbers only
    inside = _place(ops, xp.ones(src.shape, dtype=xp.int8), specs, chain) != 0
    return xp.where(inside, placed, base)


def _view_scatter_infer(base: Spec, src: Spec, *, chain) -> Spec:
    same_dtype("view_scatter", base, src)
    view = _chain_specs(base, chain)[-1]
    if len(view.shape) != len(src.shape) or any(None not in (a, b) and a != b for a, b in zip(view.shape, src.shape)):
        raise ShapeError(f"view_scatter: the source has shape {fmt_shape(src.shape)} but the view {fmt_shape(view.shape)}")
    return Spec(base.shape, base.dtype)


def _view_scatter_vjp(ops, g, inputs, output, *, chain):
    view = replay(ops, g, chain)
    gb = ops.view_scatter(g, ops.zeros_like(view), chain=chain) if ops.needs_input_grad[0] else None
    return gb, view if ops.needs_input_grad[1] else None


register(
    "view_scatter",
    exact=True,
    forward=_view_scatter_forward,
    infer=_view_scatter_infer,
    vjp=_view_scatter_vjp,
    attrs=("chain",), linear=True, save_inputs=False,
    torch_name="torch::autograd::CopySlices",
    doc="base with the region the view chain selects replaced by src (an in-place write through a view).",
)

# --------------------------------------------------------------------------- index_put


def _index_put_forward(xp, x, value, *arrays, index):
    size = math.prod(x.shape)
    where = _index.gather(xp, xp.reshape(xp.arange(size, dtype=xp.int64), x.shape), index, arrays, "index_put")
    p = xp.reshape(where, (-1,))
    v = xp.reshape(xp.broadcast_to(value, where.shape), (-1,))
    flat = xp.reshape(x, (-1,))
    if p.shape[0] == 0:
        return xp.asarray(x, copy=True)
    # the last write to each position wins: sort the positions (stably), and let every
    # position find its last writer by binary search
    order = xp.argsort(p, stable=True)
    ps = xp.take(p, order)
    r = xp.searchsorted(ps, xp.arange(size, dtype=xp.int64), side="right") - 1
    rc = xp.where(r < 0, xp.zeros_like(r), r)
    hit = (r >= 0) & (xp.take(ps, rc) == xp.arange(size, dtype=xp.int64))
    return xp.reshape(xp.where(hit, xp.take(v, xp.take(order, rc)), flat), x.shape)


def _index_put_infer(x: Spec, value: Spec, *arrays: Spec, index) -> Spec:
    same_dtype("index_put", x, value)
    target = _index.index_shape("index_put", x.shape, index, [a.shape for a in arrays])
    _broadcastable("index_put", value.shape, target)
    return Spec(x.shape, x.dtype)


def _index_put_vjp(ops, g, inputs, output, *, index):
    value, arrays = inputs[1], inputs[2:]
    picked = ops.getitem(g, *arrays, index=index)
    gx = ops.index_put(g, ops.zeros_like(picked), *arrays, index=index) if ops.needs_input_grad[0] else None
    gv = ops.sum_to(picked, value.shape) if ops.needs_input_grad[1] else None
    return (gx, gv) + (None,) * len(arrays)


register(
    "index_put",
    exact=True,
    forward=_index_put_forward,
    infer=_index_put_infer,
    vjp=_index_put_vjp,
    attrs=("index",), linear=True, variadic=True,
    nondiff=frozenset(range(2, 64)), save_inputs=tuple(range(2, 64)),
    torch_name="IndexPutBackward0",
    doc="x with x[index] = value (integer arrays; repeated positions: the last write wins).",
)
