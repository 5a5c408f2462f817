"""Reductions: sum mean max min logsumexp, each ``op(x, axis=None|sorted tuple, keepdims=False)``.

Tie rule of ``max`` / ``min``: the gradient is split equally among all elements equal to the
extremum (as ``torch.amax`` / ``torch.amin``), so two tied maxima get ``g / 2`` each.
Every rule puts ``g`` back to ``x``'s shape with ``expand_dims`` + ``broadcast_to`` (no
shape arithmetic, so free dimensions of a static graph need nothing special).
"""

from __future__ import annotations

from ..dtypes import FLOATING, dtype_name
from ..errors import DTypeError
from ..backend import backend_of
from ..registry import REQUIRED, Spec, normalize_axis, register
from ._infer import reduction

_REDUCE_ATTRS = {"axis": None, "keepdims": False}


def _axes(x, axis):
    axes = normalize_axis("reduce", axis, x.ndim)
    return tuple(range(x.ndim)) if axes is None else axes


def _unreduce(ops, g, x, axis, keepdims):
    """``g`` with the reduced axes restored as size 1 (broadcastable against ``x``)."""
    if keepdims or axis is None and g.ndim == 0:
        return g
    return ops.expand_dims(g, axis=_axes(x, axis))


def _expand(ops, g, x, axis, keepdims):
    return ops.broadcast_to(_unreduce(ops, g, x, axis, keepdims), shape=x.shape)


def _numeric(op, infer):
    def checked(x, **attrs):
        if x.dtype == "bool":
            raise DTypeError(f"{op}: cannot reduce a bool array; convert it with .astype('int64') first")
        return infer(x, **attrs)

    return checked


def _sum_dtype(name: str) -> str:
    # PyTorch: integer and bool sums accumulate (and return) int64, floats keep their dtype
    return name if name in FLOATING else "int64"


def _sum_forward(xp, x, *, axis=None, keepdims=False):
    return xp.sum(x, axis=axis, keepdims=keepdims, dtype=getattr(xp, _sum_dtype(dtype_name(x.dtype))))


def _sum_infer(x, **attrs):
    spec = reduction("sum")(x, **attrs)
    return spec._replace(dtype=_sum_dtype(x.dtype))


register(
    "sum",
    doc="The sum over ``axis`` (all axes when None), ``keepdims`` as ``torch.sum``; the gradient is ``g`` broadcast back.",
    reduction=True,
    forward=_sum_forward,
    infer=_sum_infer,
    vjp=lambda ops, g, inputs, output, *, axis, keepdims: (_expand(ops, g, inputs[0], axis, keepdims),),
    attrs=_REDUCE_ATTRS, linear=True, save_inputs=False,
    torch_name=lambda attrs: "SumBackward0" if attrs.get("axis") is None else "SumBackward1",
)


def _mean_infer(x, **attrs):
    if x.dtype not in FLOATING:
        raise DTypeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {_TORCH_NAMES.get(x.dtype, x.dtype)} (convert with .float() first)"
        )
    return reduction("mean")(x, **attrs)


_TORCH_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _mean_vjp(ops, g, inputs, output, *, axis, keepdims):
    x = inputs[0]
    gx = _expand(ops, g, x, axis, keepdims)
    sizes = [x.shape[a] for a in _axes(x, axis)]
    if None in sizes:  # a free dimension of a static graph: count at run time
        return (ops.div(gx, ops.sum(ops.ones_like(gx), axis=_axes(x, axis), keepdims=True)),)
    n = 1
    for s in sizes:
        n *= s
    return (ops.div(gx, float(n)),)  # divided, as PyTorch's mean_backward


register(
    "mean",
    doc="The mean over ``axis`` (all axes when None), on floats (as ``torch.mean``).",
    forward=lambda xp, x, *, axis=None, keepdims=False: xp.mean(x, axis=axis, keepdims=keepdims),
    infer=_mean_infer,
    vjp=_mean_vjp,
    attrs=_REDUCE_ATTRS, linear=True, save_inputs=False,
    torch_name=lambda attrs: "MeanBackward0" if attrs.get("axis") is None else "MeanBackward1",
)


def _extremum_vjp(ops, g, inputs, output, *, axis, keepdims):
    # split equally among ties: (g / count) * mask, as torch.amax's scale_grad_by_count
    x = inputs[0]
    mask = ops.astype(ops.eq(x, _unreduce(ops, output, x, axis, keepdims)), dtype=dtype_name(g.dtype))
    count = ops.sum(mask, axis=_axes(x, axis), keepdims=True)
    return (ops.mul(ops.div(_unreduce(ops, g, x, axis, keepdims), count), mask),)


def _max_forward(xp, x, *, axis=None, keepdims=False):
    return xp.max(x, axis=axis, keepdims=keepdims)


def _min_forward(xp, x, *, axis=None, keepdims=False):
    return xp.min(x, axis=axis, keepdims=keepdims)


def _extremum_name(name: str):
    # x.max() over everything is PyTorch's max() (MaxBackward1); over axes it is amax (AmaxBackward0).
    # Both split the gradient equally among ties, as here.
    full, partial = f"{name.capitalize()}Backward1", f"A{name}Backward0"
    return lambda attrs: full if attrs.get("axis") is None else partial


for _name, _forward, _torch in (("max", _max_forward, _extremum_name("max")), ("min", _min_forward, _extremum_name("min"))):
    register(
        _name,
        forward=_forward,
        infer=_numeric(_name, reduction(_name)),
        vjp=_extremum_vjp,
        attrs=_REDUCE_ATTRS, save_output=True, exact=True,
        torch_name=_torch,
        doc=f"{_name} over axis; the gradient is split equally among tied elements (as torch.a{_name}).",
    )


def _logsumexp_forward(xp, x, *, axis=None, keepdims=False):
    # shift by the max (a primitive, not a composition, for exactly this stability)
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    return xp.reshape(out, tuple(d for i, d in enumerate(x.shape) if i not in _axes(x, axis)))


def _logsumexp_vjp(ops, g, inputs, output, *, axis, keepdims):
    x = inputs[0]  # g * exp(x - out), as PyTorch's logsumexp_backward
    return (ops.mul(_unreduce(ops, g, x, axis, keepdims), ops.exp(ops.sub(x, _unreduce(ops, output, x, axis, keepdims)))),)


register(
    "logsumexp",
    doc="``log(sum(exp(x)))`` over ``axis``, shifted by the maximum first (as ``torch.logsumexp``); the gradient is ``g * softmax(x)``.",
    forward=_logsumexp_forward,
    infer=reduction("logsumexp", floating=True),
    vjp=_logsumexp_vjp,
    attrs=_REDUCE_ATTRS, save_output=True,
    torch_name="LogsumexpBackward0",
)


# --------------------------------------------------------------------------- with indices
# x.max(dim) / x.min(dim) give (values, indices) as in PyTorch: the indices are the first
# extremum along the axis (argmax/argmin), and the values' gradient goes to that one element
# only (PyTorch's MaxBackward0), not split among ties as amax's. ``max_dim(x, indices)`` takes
# the indices as an input and its rule reads only them (and x's shape), as PyTorch's saves
# only the indices: an in-place change of x after the call leaves the gradient defined.


def _xp_of(x):
    return backend_of(x).xp


def _arg_forward(find):
    def forward(xp, x, *, axis=None, keepdims=False):
        return xp.astype(find(x, axis=axis, keepdims=keepdims), xp.int64)

    return forward


def _arg_infer(name):
    def infer(x, *, axis=None, keepdims=False):
        if axis is None:
            shape = (1,) * x.ndim if keepdims else ()
        else:
            a = normalize_axis(name, axis, x.ndim)[0]
            shape = tuple(1 if i == a else d for i, d in enumerate(x.shape)) if keepdims else tuple(
                d for i, d in enumerate(x.shape) if i != a
            )
        return Spec(shape, "int64")

    return infer


def _index_mask_forward(xp, like, index, *, axis):
    a = axis % like.ndim
    pos = xp.reshape(xp.arange(like.shape[a], dtype=index.dtype), tuple(-1 if i == a else 1 for i in range(like.ndim)))
    return pos == index


def _index_mask_infer(like, index, *, axis):
    normalize_axis("index_mask", axis, like.ndim)
    if index.dtype != "int64" or index.ndim != like.ndim:
        raise DTypeError(f"index_mask: index must be int64 with the rank of like ({like.ndim}), got {index.dtype} of rank {index.ndim}")
    return Spec(like.shape, "bool")


register(
    "index_mask",
    exact=True,
    forward=_index_mask_forward,
    infer=_index_mask_infer,
    attrs=("axis",), save_inputs=False,
    doc="True where the position along axis is index (one index per line, size 1 along axis), shaped as like.",
)


def _along_vjp(ops, g, inputs, output, *, axis, keepdims=False):
    x, index = inputs  # x is a stand-in: only its shape is read
    a = axis % x.ndim
    gx = ops.broadcast_to(g if keepdims else ops.expand_dims(g, axis=a), shape=x.shape)
    at = ops.index_mask(gx, index if keepdims else ops.expand_dims(index, axis=a), axis=a)
    return (ops.where(at, gx, ops.zeros_like(gx)), None)


def _along_infer(name):
    def infer(x, index, *, axis, keepdims=False):
        normalize_axis(name, axis, x.ndim)
        out = reduction(name)(x, axis=axis, keepdims=keepdims)
        if index.dtype != "int64" or len(index.shape) != len(out.shape):
            raise DTypeError(f"{name}: index must be the int64 argmax/argmin of x along axis {axis}, got {index.dtype} {index.shape}")
        return out

    return infer


for _name, _find, _reduce in (("max", "argmax", "max"), ("min", "argmin", "min")):
    _xp_find = (lambda f: lambda x, **kw: getattr(_xp_of(x), f)(x, **kw))(_find)
    register(
        _find,
        exact=True,
        forward=_arg_forward(_xp_find),
        infer=_arg_infer(_find),
        attrs={"axis": None, "keepdims": False}, save_inputs=False,
        doc=f"Index of the first {_name}imum (flattened when axis is None), int64, as torch.{_find}.",
    )
    register(
        f"{_name}_dim",
        exact=True,
        # the extremum itself (bitwise the value at index, which is x's first extremum)
        forward=(lambda r: lambda xp, x, index, *, axis, keepdims=False: getattr(xp, r)(x, axis=axis, keepdims=keepdims))(_reduce),
        infer=_along_infer(f"{_name}_dim"),
        vjp=_along_vjp,
        attrs={"axis": REQUIRED, "keepdims": False}, nondiff=frozenset({1}), save_inputs=(1,), grad_reads={0: (1,)},
        torch_name=f"{_name.capitalize()}Backward0",
        doc=f"The values of x.{_name}(dim) given its indices ({_find} along axis, keepdims alike): "
            f"the gradient goes to the indexed {_name}imum only (as PyTorch, which saves the indices).",
    )
