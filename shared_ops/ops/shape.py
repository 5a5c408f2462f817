"""Shape ops: reshape transpose squeeze expand_dims getitem index_scatter concatenate stack.

All are linear; their rules only move ``g`` back (``reshape`` <-> ``reshape``, ``squeeze`` <->
``expand_dims``, ``getitem`` <-> ``index_scatter``, ``concatenate``/``stack`` <-> ``getitem``).
Ops with a ``shape`` attribute take the optional last input ``like`` for free dimensions.
"""

from __future__ import annotations

import functools

import numpy as np

from ..backend import backend_of
from ..dtypes import INTEGER
from ..errors import DTypeError, ShapeError
from ..registry import Spec, fmt_shape, normalize_axis, register, reshape_shape, resolve_free, transpose_perm
from . import _index, _strides
from ._infer import same_dtype

_ndarray = np.ndarray


# --------------------------------------------------------------------------- reshape


def _reshape_target(shape, like):
    # a free dimension with no `like` is the one the surface resolved from a -1
    return tuple(-1 if d is None else d for d in resolve_free(shape, like))


def _reshape_forward(xp, x, like=None, *, shape):
    if like is not None or None in shape:
        shape = _reshape_target(shape, like)
    return xp.reshape(x, shape)


def _reshape_infer(x: Spec, like: Spec | None = None, *, shape) -> Spec:
    return Spec(reshape_shape(x.shape, resolve_free(shape, like)), x.dtype)


register(
    "reshape",
    doc="``x`` with a new ``shape`` (one ``-1`` inferred), elements in row-major order (as ``torch.reshape``).",
    view_of=(0,), strides=_strides.reshape,
    exact=True,
    forward=_reshape_forward,
    infer=_reshape_infer,
    vjp=lambda ops, g, inputs, output, *, shape: (ops.reshape(g, shape=inputs[0].shape),) + (None,) * (len(inputs) - 1),
    attrs=("shape",), linear=True, save_inputs=False, nondiff=frozenset({1}),
    torch_name="ViewBackward0",
)


# --------------------------------------------------------------------------- transpose


def _transpose_infer(x: Spec, *, axes=None) -> Spec:
    perm = transpose_perm(axes, x.ndim)
    if sorted(a % x.ndim if x.ndim else a for a in perm) != list(range(x.ndim)) or len(perm) != x.ndim:
        raise ShapeError(f"transpose: axes={axes!r} is not a permutation of the {x.ndim} dimensions of shape {fmt_shape(x.shape)}")
    return Spec(tuple(x.shape[a] for a in perm), x.dtype)


def _transpose_vjp(ops, g, inputs, output, *, axes=None):
    perm = [a % g.ndim for a in transpose_perm(axes, g.ndim)]
    inverse = tuple(sorted(range(len(perm)), key=perm.__getitem__))
    return (ops.transpose(g, axes=inverse),)


def _transpose_torch_name(attrs) -> str:
    perm = attrs.get("axes")
    moved = None if perm is None else [i for i, a in enumerate(perm) if a != i]
    return "TransposeBackward0" if moved is not None and len(moved) == 2 else "PermuteBackward0"


def _transpose_index_map(dims, in_shape, out_shape, *, axes=None):
    nd = len(out_shape)
    perm = tuple(a % nd for a in transpose_perm(axes, nd))
    new = [None] * nd
    for k, p in enumerate(perm):  # output dim k is input dim p
        new[p] = dims[k]
    return tuple(new)


register(
    "transpose",
    doc="``x`` with its axes permuted by ``axes`` (reversed when None, as ``numpy.transpose``); the gradient is the inverse permutation.",
    view_of=(0,), strides=_strides.transpose, index_map=_transpose_index_map,
    exact=True,
    forward=lambda xp, x, *, axes=None: x.T if x.ndim == 2 and axes in (None, (1, 0)) else xp.permute_dims(x, transpose_perm(axes, x.ndim)),
    infer=_transpose_infer,
    vjp=_transpose_vjp,
    attrs={"axes": None}, linear=True, save_inputs=False,
    torch_name=_transpose_torch_name,
)


# --------------------------------------------------------------------------- squeeze / expand_dims


def _as_tuple(axis):
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _squeeze_infer(x: Spec, *, axis) -> Spec:
    axes = normalize_axis("squeeze", axis, x.ndim) or ()
    for a in axes:
        if x.shape[a] not in (1, None):
            raise ShapeError(f"squeeze: dimension {a} of shape {fmt_shape(x.shape)} has size {x.shape[a]}, not 1")
    return Spec(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)


register(
    "squeeze",
    doc="``x`` without the size-1 dimensions listed in ``axis`` (as ``torch.squeeze``); the gradient is ``expand_dims``.",
    view_of=(0,), strides=_strides.squeeze,
    exact=True,
    forward=lambda xp, x, *, axis: xp.squeeze(x, axis=axis),
    infer=_squeeze_infer,
    vjp=lambda ops, g, inputs, output, *, axis: (ops.expand_dims(g, axis=normalize_axis("squeeze", axis, inputs[0].ndim)),),
    attrs=("axis",), linear=True, save_inputs=False,
    torch_name=lambda attrs: "SqueezeBackward1" if len(tuple(_as_tuple(attrs["axis"]))) == 1 else "SqueezeBackward2",
)


@functools.lru_cache(maxsize=4096)  # pure in (shape, axis); the kernel calls it on every run
def _expanded_shape(shape, axis):
    axes = normalize_axis("expand_dims", axis, len(shape) + (1 if isinstance(axis, int) else len(axis)))
    it = iter(shape)
    return tuple(1 if i in axes else next(it) for i in range(len(shape) + len(axes))), axes


def _expand_dims_index_map(dims, in_shape, out_shape, *, axis):
    nd = len(out_shape)
    axes = {a % nd for a in ((axis,) if isinstance(axis, int) else axis)}
    return tuple(d for k, d in enumerate(dims) if k not in axes)


def _expand_dims_forward(xp, x, *, axis):
    shape = _expanded_shape(x.shape, axis)[0]
    # an ndarray's own reshape: np.reshape's Python wrappers cost more than the view itself on
    # the small arrays of a matrix-vector gradient (two per product)
    return x.reshape(shape) if x.__class__ is _ndarray else xp.reshape(x, shape)


register(
    "expand_dims",
    doc="``x`` with new size-1 dimensions at ``axis`` (as ``torch.unsqueeze``); the gradient is ``squeeze``.",
    view_of=(0,), strides=_strides.expand_dims, index_map=_expand_dims_index_map,
    exact=True,
    forward=_expand_dims_forward,
    infer=lambda x, *, axis: Spec(_expanded_shape(x.shape, axis)[0], x.dtype),
    vjp=lambda ops, g, inputs, output, *, axis: (ops.squeeze(g, axis=_expanded_shape(inputs[0].shape, axis)[1]),),
    attrs=("axis",), linear=True, save_inputs=False,
    torch_name="UnsqueezeBackward0",
)


# --------------------------------------------------------------------------- getitem / index_scatter


def _getitem_infer(x: Spec, *arrays: Spec, index) -> Spec:
    for a in arrays:
        if a.dtype not in INTEGER:
            raise DTypeError(f"getitem: index arrays must be integers, got {a.dtype}")
    return Spec(_index.index_shape("getitem", x.shape, index, [a.shape for a in arrays]), x.dtype)


def _index_torch_name(attrs) -> str:
    spec = attrs.get("index", ())
    if any(e[0] == "a" for e in spec):
        return "IndexBackward0"
    last = next((e for e in reversed(spec) if e[0] != "e" and e != ("s", None, None, None)), None)
    return {None: "AliasBackward0", "s": "SliceBackward0", "i": "SelectBackward0", "n": "UnsqueezeBackward0"}[last and last[0]]


def _getitem_vjp(ops, g, inputs, output, *, index):
    x, arrays = inputs[0], inputs[1:]
    return (ops.index_scatter(g, *arrays, index=index, shape=x.shape),) + (None,) * len(arrays)


register(
    "getitem",
    view_of=(0,), strides=_strides.getitem,
    exact=True,
    forward=lambda xp, x, *arrays, index: _index.gather(xp, x, index, arrays),
    infer=_getitem_infer,
    vjp=_getitem_vjp,
    attrs=("index",), linear=True, variadic=True,
    nondiff=frozenset(range(1, 64)), save_inputs=tuple(range(1, 64)),  # the index arrays, never x
    torch_name=_index_torch_name,
    doc="x[index] with NumPy semantics; index is the spec built by shared_ops._surface_args._parse_index.",
)


def _split_like(index, rest):
    n = _index.n_arrays(index)
    return rest[:n], (rest[n] if len(rest) > n else None)


def _index_scatter_forward(xp, g, *rest, index, shape):
    arrays, like = _split_like(index, rest)
    return _index.scatter(xp, backend_of(g), g, index, arrays, resolve_free(shape, like))


def _index_scatter_infer(g: Spec, *rest: Spec, index, shape) -> Spec:
    arrays, like = _split_like(index, rest)
    shape = resolve_free(shape, like)
    _index.check_grad_shape("index_scatter", g.shape, _index.index_shape("index_scatter", shape, index, [a.shape for a in arrays]))
    return Spec(shape, g.dtype)


register(
    "index_scatter",
    forward=_index_scatter_forward,
    infer=_index_scatter_infer,
    vjp=lambda ops, g, inputs, output, *, index, shape: (ops.getitem(g, *_split_like(index, inputs[1:])[0], index=index),)
    + (None,) * (len(inputs) - 1),
    attrs=("index", "shape"), linear=True, variadic=True,
    nondiff=frozenset(range(1, 64)), save_inputs=tuple(range(1, 64)),
    torch_name=lambda attrs: "IndexPutBackward0" if any(e[0] == "a" for e in attrs.get("index", ())) else "SliceBackwardBackward0",
    doc="The adjoint of getitem: zeros of `shape` with g added at x[index] (repeats summed, deterministically).",
)


# --------------------------------------------------------------------------- concatenate / stack


def _concatenate_infer(*xs: Spec, axis=0) -> Spec:
    dtype = same_dtype("concatenate", *xs)
    nd = xs[0].ndim
    if nd == 0:
        raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated; use stack")
    a = normalize_axis("concatenate", axis, nd)[0]
    for x in xs:
        if x.ndim != nd or any(i != a and p is not None and q is not None and p != q for i, (p, q) in enumerate(zip(x.shape, xs[0].shape))):
            raise ShapeError(
                f"concatenate: shapes {', '.join(fmt_shape(x.shape) for x in xs)} differ outside axis {a}"
            )
    sizes = [x.shape[a] for x in xs]
    out = list(next((x.shape for x in xs if None not in x.shape), xs[0].shape))
    out[a] = None if None in sizes else sum(sizes)
    return Spec(tuple(out), dtype)


def _concatenate_vjp(ops, g, inputs, output, *, axis=0):
    a = axis % g.ndim
    grads, start = [], 0
    for i, x in enumerate(inputs):
        n = x.shape[a]
        if n is None:
            raise ShapeError("concatenate: the gradient needs the sizes along the axis; they are free (None) here")
        index = (("s", None, None, None),) * a + (("s", start, start + n, None),) + (("e",),)
        grads.append(ops.getitem(g, index=index) if ops.needs_input_grad[i] else None)
        start += n
    return tuple(grads)


register(
    "concatenate",
    doc="The inputs joined along the existing ``axis`` (as ``torch.cat``); each gets its slice of the gradient.",
    exact=True,
    forward=lambda xp, *xs, axis=0: xp.concat(xs, axis=axis),
    infer=_concatenate_infer,
    vjp=_concatenate_vjp,
    attrs={"axis": 0}, linear=True, variadic=True, save_inputs=False,
    torch_name="CatBackward0",
)


def _stack_infer(*xs: Spec, axis=0) -> Spec:
    dtype = same_dtype("stack", *xs)
    for x in xs:
        if x.ndim != xs[0].ndim or any(p is not None and q is not None and p != q for p, q in zip(x.shape, xs[0].shape)):
            raise ShapeError(f"stack: every input must have one shape, got {', '.join(fmt_shape(x.shape) for x in xs)}")
    a = normalize_axis("stack", axis, xs[0].ndim + 1)[0]
    shape = list(xs[0].shape)
    shape.insert(a, len(xs))
    return Spec(tuple(shape), dtype)


def _stack_vjp(ops, g, inputs, output, *, axis=0):
    a = axis % g.ndim
    return tuple(
        ops.getitem(g, index=(("s", None, None, None),) * a + (("i", i), ("e",))) if ops.needs_input_grad[i] else None
        for i in range(len(inputs))
    )


register(
    "stack",
    doc="The inputs (one shape) stacked along a new ``axis`` (as ``torch.stack``); each gets its slice of the gradient.",
    exact=True,
    forward=lambda xp, *xs, axis=0: xp.stack(xs, axis=axis),
    infer=_stack_infer,
    vjp=_stack_vjp,
    attrs={"axis": 0}, linear=True, variadic=True, save_inputs=False,
    torch_name="StackBackward0",
)
