"""Index ops along one axis and scans: gather scatter_add argsort cumsum prod.

``gather`` and ``scatter_add`` follow ``torch.gather`` / ``Tensor.scatter_add``: ``index`` has
the input's number of dimensions and (outside ``axis``) no larger sizes. Each is the other's
gradient. ``argsort`` (int64, no gradient) plus ``gather`` is how the surface spells ``sort``
and ``topk``, so their values are differentiable through ``gather``. Repeated indices are
summed by the backend's deterministic ``scatter_add`` (sort, then segment sums; no atomics).
``prod``'s gradient is the product of the other elements (PyTorch's rule, correct at zeros),
from ``prod_others``. Its own gradient, for second-order gradients through ``prod``, is a sum of
products of all elements but two, again without division (exact at zeros): ``prod_others`` of
an (n, n) stack of ``x`` with one element set to 1 in each row. That costs n times the memory
of ``x`` along the axis, only when a second derivative is asked for.
"""

from __future__ import annotations

import math

from ..backend import backend_of
from ..dtypes import INTEGER, dtype_name
from ..errors import DTypeError, ShapeError
from ..registry import REQUIRED, Spec, fmt_shape, normalize_axis, register
from ._infer import same_dtype
from .reduce import _sum_dtype


def _axis(op, axis, ndim):
    return normalize_axis(op, axis, ndim)[0] if ndim else 0


def _check_index(op, x: Spec, index: Spec, axis, src: Spec | None = None):
    if index.dtype not in INTEGER:
        raise DTypeError(f"{op}: index must be integers, got {index.dtype}")
    if index.ndim != x.ndim:
        raise ShapeError(f"{op}: index {fmt_shape(index.shape)} must have as many dimensions as the input {fmt_shape(x.shape)}")
    a = _axis(op, axis, x.ndim)
    for d, (i, n) in enumerate(zip(index.shape, x.shape)):
        if d != a and i is not None and n is not None and i > n:
            raise ShapeError(f"{op}: index {fmt_shape(index.shape)} is larger than the input {fmt_shape(x.shape)} in dimension {d}")
    if src is not None and any(i is not None and s is not None and i > s for i, s in zip(index.shape, src.shape)):
        raise ShapeError(f"{op}: index {fmt_shape(index.shape)} is larger than src {fmt_shape(src.shape)}")
    return a


def _flat_positions(xp, shape, index, axis, op):
    """Row-major positions in an array of ``shape`` of the elements ``index`` names along ``axis``."""
    n = shape[axis]
    idx = xp.astype(index, xp.int64)
    if bool(xp.any((idx < 0) | (idx >= n))):  # no negative indices, as torch.gather
        raise IndexError(f"{op}: an index is out of bounds for dimension {axis} with size {n} (must be in [0, {n}))")
    pos = xp.zeros(tuple(index.shape), dtype=xp.int64)
    stride = 1
    for d in range(len(shape) - 1, -1, -1):
        coord = idx if d == axis else xp.reshape(
            xp.arange(index.shape[d], dtype=xp.int64), tuple(index.shape[d] if k == d else 1 for k in range(len(shape))))
        pos = pos + coord * stride
        stride *= shape[d]
    return pos


def _gather_forward(xp, x, index, *, axis):
    a = _axis("gather", axis, x.ndim)
    pos = _flat_positions(xp, tuple(x.shape), index, a, "gather")
    return xp.reshape(xp.take(xp.reshape(x, (-1,)), xp.reshape(pos, (-1,))), tuple(index.shape))


def _gather_infer(x: Spec, index: Spec, *, axis) -> Spec:
    _check_index("gather", x, index, axis)
    return Spec(index.shape, x.dtype)


register(
    "gather",
    exact=True,
    forward=_gather_forward,
    infer=_gather_infer,
    vjp=lambda ops, g, inputs, output, *, axis: (ops.scatter_add(ops.zeros_like(inputs[0]), inputs[1], g, axis=axis), None),
    attrs=("axis",), linear=True, nondiff=frozenset({1}),
    torch_name="GatherBackward0",
    doc="torch.gather: out[i][j] = x[index[i][j]][j] along axis (index has x's rank).",
)


# The values of sort and topk: x gathered at the indices argsort found. The rule reads only the
# indices and x's shape (a stand-in), as PyTorch's SortBackward0/TopkBackward0 save only the
# indices: an in-place change of x after the call leaves their gradient defined (torch.gather
# saves x, and so does ``gather`` here).


def _sorted_values_vjp(ops, g, inputs, output, *, axis, kind="sort"):
    x, index = inputs  # x is a stand-in: only its shape is read
    a = _axis("sorted_values", axis, len(x.shape))
    zeros = ops.zeros_like(ops.broadcast_to(ops.sum(g, axis=a, keepdims=True), shape=x.shape))
    return (ops.scatter_add(zeros, index, g, axis=axis), None)


def _sorted_values_infer(x: Spec, index: Spec, *, axis, kind="sort") -> Spec:
    out = _gather_infer(x, index, axis=axis)
    a = _axis("sorted_values", axis, x.ndim)
    if any(None not in (i, d) and i != d and k != a for k, (i, d) in enumerate(zip(index.shape, x.shape))):
        raise ShapeError(f"sorted_values: index {fmt_shape(index.shape)} must have x's shape {fmt_shape(x.shape)} "
                         f"but along axis {a} (the indices of a sort or topk of x)")
    return out


register(
    "sorted_values",
    exact=True,
    forward=lambda xp, x, index, *, axis, kind="sort": _gather_forward(xp, x, index, axis=axis),
    infer=_sorted_values_infer,
    vjp=_sorted_values_vjp,
    attrs={"axis": REQUIRED, "kind": "sort"}, linear=True, nondiff=frozenset({1}), save_inputs=(1,),
    torch_name=lambda attrs: "TopkBackward0" if attrs.get("kind") == "topk" else "SortBackward0",
    preserve_format=lambda attrs: attrs.get("kind", "sort") == "sort",  # PyTorch's topk: contiguous
    doc="sort's/topk's values (kind): x gathered at index along axis; the gradient reads only index.",
)


def _scatter_add_forward(xp, x, index, src, *, axis):
    a = _axis("scatter_add", axis, x.ndim)
    ix = tuple(index.shape)
    src = src[tuple(slice(0, k) for k in ix)] if tuple(src.shape) != ix else src
    pos = _flat_positions(xp, tuple(x.shape), index, a, "scatter_add")
    size = math.prod(x.shape)
    added = backend_of(x).extras.scatter_add(xp.reshape(pos, (-1,)), xp.reshape(src, (-1,)), size)
    return x + xp.reshape(added, tuple(x.shape))


def _scatter_add_infer(x: Spec, index: Spec, src: Spec, *, axis) -> Spec:
    same_dtype("scatter_add", x, src)
    _check_index("scatter_add", x, index, axis, src)
    return Spec(x.shape, x.dtype)


def _scatter_add_vjp(ops, g, inputs, output, *, axis):
    x, index, src = inputs
    gs = None
    if ops.needs_input_grad[2]:
        gs = ops.gather(g, index, axis=axis)
        if tuple(src.shape) != tuple(index.shape):  # src larger than index: zeros beyond it
            gs = ops.pad(gs, pad=tuple((0, s - i) for s, i in zip(src.shape, index.shape)), value=0.0)
    return (g if ops.needs_input_grad[0] else None, None, gs)


register(
    "scatter_add",
    forward=_scatter_add_forward,
    infer=_scatter_add_infer,
    vjp=_scatter_add_vjp,
    attrs=("axis",), linear=True, nondiff=frozenset({1}), save_inputs=(1,),
    torch_name="ScatterAddBackward0",
    doc="Tensor.scatter_add: x with src added at index along axis (repeats summed, deterministically).",
)


def _argsort_forward(xp, x, *, axis=-1, descending=False):
    if xp.__name__.startswith("array_api"):
        return xp.argsort(x, axis=axis, descending=descending, stable=True)
    # NumPy and CuPy sort ascending only; a stable descending order is the ascending order of
    # the reversed array, reversed, with positions mapped back (ties keep their first-come order)
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    idx = xp.flip(xp.argsort(xp.flip(x, axis=axis), axis=axis, kind="stable"), axis=axis)
    return (n - 1) - idx


def _argsort_infer(x: Spec, *, axis=-1, descending=False) -> Spec:
    if x.ndim == 0:
        raise ShapeError("argsort: needs at least one dimension (sort a 0-d value by reshaping it to (1,))")
    normalize_axis("argsort", axis, x.ndim)
    return Spec(x.shape, "int64")


register(
    "argsort",
    exact=True,
    forward=_argsort_forward,
    infer=_argsort_infer,
    vjp=None,
    attrs={"axis": -1, "descending": False}, nondiff=frozenset({0}), save_inputs=False,
    doc="Indices that sort x along axis (stable: ties keep their order); int64, no gradient.",
    preserve_format=True,  # as sort's indices
)


# --------------------------------------------------------------------------- scans and products


def _cumsum_forward(xp, x, *, axis, reverse=False):
    if reverse:
        return xp.flip(xp.cumulative_sum(xp.flip(x, axis=axis), axis=axis, dtype=x.dtype), axis=axis)
    return xp.cumulative_sum(x, axis=axis, dtype=x.dtype)


def _cumsum_infer(x: Spec, *, axis, reverse=False) -> Spec:
    if x.dtype == "bool":
        raise DTypeError("cumsum: cannot sum a bool array; convert it with .astype('int64') first")
    normalize_axis("cumsum", axis, x.ndim)
    return Spec(x.shape, x.dtype)


register(
    "cumsum",
    doc="The running sum along ``axis`` (from the end when ``reverse``; as ``torch.cumsum``); the gradient is the reversed running sum of ``g``.",
    forward=_cumsum_forward,
    infer=_cumsum_infer,
    # the adjoint of a running sum is the running sum from the other end
    vjp=lambda ops, g, inputs, output, *, axis, reverse=False: (ops.cumsum(g, axis=axis, reverse=not reverse),),
    attrs={"axis": REQUIRED, "reverse": False},
    linear=True, save_inputs=False,
    torch_name="CumsumBackward0",
)


def _prod_forward(xp, x, *, axis=None, keepdims=False):
    # integers and bools multiply in int64, as PyTorch's prod (and sum) accumulate
    return xp.prod(x, axis=axis, keepdims=keepdims, dtype=getattr(xp, _sum_dtype(dtype_name(x.dtype))))


def _prod_infer(x: Spec, *, axis=None, keepdims=False) -> Spec:
    if axis is not None and not isinstance(axis, int):
        raise ShapeError(f"prod: axis must be one int or None (as torch.prod), got {axis!r}")
    a = _axis("prod", axis, x.ndim) if axis is not None else None
    dtype = _sum_dtype(x.dtype)
    if a is None:
        return Spec(tuple(1 for _ in x.shape) if keepdims else (), dtype)
    return Spec(tuple((1 if i == a else d) for i, d in enumerate(x.shape) if keepdims or i != a), dtype)


def _prod_vjp(ops, g, inputs, output, *, axis=None, keepdims=False):
    x = inputs[0]
    if axis is None:
        flat = ops.reshape(x, shape=(-1,))
        others = ops.reshape(ops.prod_others(flat, axis=0), shape=x.shape)
        return (ops.mul(ops.broadcast_to(ops.reshape(g, shape=()), shape=x.shape), others),)
    a = axis % x.ndim
    gk = g if keepdims else ops.expand_dims(g, axis=a)
    return (ops.mul(ops.broadcast_to(gk, shape=x.shape), ops.prod_others(x, axis=a)),)


register(
    "prod",
    doc="The product over ``axis`` (as ``torch.prod``); the gradient is the product of the other elements, exact at zeros.",
    forward=_prod_forward,
    infer=_prod_infer,
    vjp=_prod_vjp,
    attrs={"axis": None, "keepdims": False},
    torch_name=lambda attrs: "ProdBackward0" if attrs.get("axis") is None else "ProdBackward1",
)


def _prod_others_forward(xp, x, *, axis):
    # product of all other elements along axis: exclusive running products from both ends
    # (no division, so zeros are handled exactly as PyTorch's prod_backward)
    n = x.shape[axis]
    one = xp.ones_like(xp.take(x, xp.asarray([0]), axis=axis))
    head = xp.take(x, xp.arange(n - 1), axis=axis)
    tail = xp.take(x, xp.arange(1, n), axis=axis)
    before = xp.cumulative_prod(xp.concat([one, head], axis=axis), axis=axis, dtype=x.dtype)
    rev = xp.flip(xp.concat([tail, one], axis=axis), axis=axis)
    after = xp.flip(xp.cumulative_prod(rev, axis=axis, dtype=x.dtype), axis=axis)
    return before * after


def _prod_others_vjp(ops, g, inputs, output, *, axis):
    """``d/dx_i sum_j g_j prod_{k != j} x_k = sum_{j != i} g_j prod_{k != i, j} x_k``.

    Along a new axis ``i`` before ``axis``: ``y[i, k]`` is ``x_k`` with ``y[i, i] = 1``, so
    ``prod_others(y)[i, j]`` is the product of all but ``x_i`` and ``x_j``; the diagonal
    (``j = i``) is dropped. The positions come from a running sum of ones, so a free dimension
    needs no static size.
    """
    x = inputs[0]
    a = axis % x.ndim
    pos = ops.cumsum(ops.ones_like(x), axis=a, reverse=False)
    eye = ops.eq(ops.expand_dims(pos, axis=a + 1), ops.expand_dims(pos, axis=a))  # [.., i, j, ..]
    xk = ops.expand_dims(x, axis=a)  # x along the second of the two axes
    y = ops.where(eye, ops.ones_like(xk), xk)
    p = ops.prod_others(y, axis=a + 1)
    p = ops.where(eye, ops.zeros_like(p), p)
    return (ops.sum(ops.mul(p, ops.expand_dims(g, axis=a)), axis=(a + 1,), keepdims=False),)


register(
    "prod_others",
    forward=_prod_others_forward,
    infer=lambda x, *, axis: Spec(x.shape, x.dtype),
    vjp=_prod_others_vjp,
    attrs=("axis",),
    torch_name="ProdBackwardBackward0",  # PyTorch's double backward of prod is a composition; named as layer_norm_grad's
    doc="prod's gradient factor: the product of the other elements along axis.",
)
