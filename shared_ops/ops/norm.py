"""``layer_norm`` (normalisation over the last ``ndim`` dimensions, no affine part) and its
fused gradient ``layer_norm_grad``, as PyTorch's native layer norm: one kernel forward, one
backward, instead of the ten ops of the composition.

    h  = (x - mean(x)) * r,   r = 1 / sqrt(mean((x - mean(x))^2) + eps)
    dx = r * (g - mean(g) - h * mean(g * h))          (layer_norm_grad(g, x))

The Jacobian ``J = r (I - 11^T/n - h h^T/n)`` is symmetric, so ``layer_norm_grad`` is linear in
``g`` with adjoint ``layer_norm_grad`` itself; its derivative in ``x`` (second order) is

    -r^2 h (s1 - a s2) / n - r s2 (J g) / n - r a (J u),
    s1 = sum(u * (g - mean(g))), s2 = sum(u * h), a = mean(g * h)

for a cotangent ``u`` (sums per normalised group). The scale and shift (``weight``, ``bias``) are
a ``mul`` and an ``add`` on the surface (``F.layer_norm``).
"""

from __future__ import annotations

import math

from ..dtypes import dtype_name
from ..errors import ShapeError
from ..registry import Spec, fmt_shape, register
from ._infer import require_float, same_dtype

_ATTRS = {"ndim": 1, "eps": 1e-5}


def _axes(nd, ndim):
    return tuple(range(nd - ndim, nd))


def _stats(xp, x, ndim, eps):
    axes = _axes(x.ndim, ndim)
    c = x - xp.mean(x, axis=axes, keepdims=True)
    return c, 1.0 / xp.sqrt(xp.mean(c * c, axis=axes, keepdims=True) + eps), axes


def _layer_norm_forward(xp, x, *, ndim=1, eps=1e-5):
    c, r, _ = _stats(xp, x, ndim, eps)
    return c * r


def _layer_norm_infer(x: Spec, *, ndim=1, eps=1e-5) -> Spec:
    require_float("layer_norm", x)
    if not 1 <= ndim <= x.ndim:
        raise ShapeError(f"layer_norm: cannot normalise the last {ndim} dimensions of a value of shape {fmt_shape(x.shape)}")
    return Spec(x.shape, x.dtype)


register(
    "layer_norm",
    forward=_layer_norm_forward,
    infer=_layer_norm_infer,
    vjp=lambda ops, g, inputs, output, *, ndim=1, eps=1e-5: (ops.layer_norm_grad(g, inputs[0], ndim=ndim, eps=eps),),
    attrs=_ATTRS,
    torch_name="NativeLayerNormBackward0",
    doc="(x - mean) / sqrt(var + eps) over the last ndim dimensions (biased variance), as F.layer_norm without weight and bias.",
)


def _grad_forward(xp, g, x, *, ndim=1, eps=1e-5):
    c, r, axes = _stats(xp, x, ndim, eps)
    h = c * r
    return r * (g - xp.mean(g, axis=axes, keepdims=True) - h * xp.mean(g * h, axis=axes, keepdims=True))


def _grad_infer(g: Spec, x: Spec, *, ndim=1, eps=1e-5) -> Spec:
    _layer_norm_infer(x, ndim=ndim, eps=eps)
    if len(g.shape) != len(x.shape) or any(a is not None and b is not None and a != b for a, b in zip(g.shape, x.shape)):
        raise ShapeError(f"layer_norm_grad: gradient {fmt_shape(g.shape)} and input {fmt_shape(x.shape)} differ")
    return Spec(x.shape, same_dtype("layer_norm_grad", g, x))


def _grad_vjp(ops, u, inputs, output, *, ndim=1, eps=1e-5):
    g, x = inputs
    kw = dict(ndim=ndim, eps=eps)
    gg = ops.layer_norm_grad(u, x, **kw) if ops.needs_input_grad[0] else None
    if not ops.needs_input_grad[1]:
        return gg, None
    axes = _axes(len(x.shape), ndim)
    sizes = [x.shape[a] for a in axes]
    if None in sizes:
        raise ShapeError("layer_norm: second-order gradients need the normalised dimensions' sizes (they are free here)")
    n = float(math.prod(sizes))
    h = ops.layer_norm(x, **kw)
    c = ops.sub(x, ops.mean(x, axis=axes, keepdims=True))
    r = ops.rsqrt(ops.add(ops.mean(ops.mul(c, c), axis=axes, keepdims=True), eps))
    s1 = ops.sum(ops.mul(u, ops.sub(g, ops.mean(g, axis=axes, keepdims=True))), axis=axes, keepdims=True)
    s2 = ops.sum(ops.mul(u, h), axis=axes, keepdims=True)
    a = ops.mean(ops.mul(g, h), axis=axes, keepdims=True)
    jg = output  # J g: this op's own result
    ju = gg if gg is not None else ops.layer_norm_grad(u, x, **kw)
    t1 = ops.mul(ops.mul(ops.mul(r, r), h), ops.div(ops.sub(ops.mul(a, s2), s1), n))
    t2 = ops.mul(ops.mul(r, ops.div(s2, n)), jg)
    t3 = ops.mul(ops.mul(r, a), ju)
    return gg, ops.sub(ops.sub(t1, t2), t3)


register(
    "layer_norm_grad",
    forward=_grad_forward,
    infer=_grad_infer,
    vjp=_grad_vjp,
    attrs=_ATTRS, save_output=True,
    torch_name="NativeLayerNormBackwardBackward0",
    doc="layer_norm's gradient in one kernel (PyTorch's native_layer_norm_backward without weight).",
)


# --------------------------------------------------------------------------- vector norms


def _vn_forward(xp, x, *, ord=2.0, axis=None, keepdims=False):
    a = xp.abs(x)
    if ord == math.inf:
        return xp.max(a, axis=axis, keepdims=keepdims)
    if ord == 1.0:
        return xp.sum(a, axis=axis, keepdims=keepdims)
    if ord == 2.0:
        return xp.sqrt(xp.sum(x * x, axis=axis, keepdims=keepdims))
    return xp.sum(a ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


def _vn_infer(x: Spec, *, ord=2.0, axis=None, keepdims=False) -> Spec:
    from ._infer import reduction

    if not (ord == math.inf or ord >= 1.0):
        raise ShapeError(f"vector_norm: ord must be >= 1 or inf, got {ord}")
    return reduction("vector_norm", floating=True)(x, axis=axis, keepdims=keepdims)


def _vn_vjp(ops, g, inputs, output, *, ord=2.0, axis=None, keepdims=False):
    # PyTorch's linalg_vector_norm_backward: 0 where the norm is 0 (no nan), ties of the inf
    # norm split equally (as amax)
    x = inputs[0]
    axes = tuple(range(x.ndim)) if axis is None else axis
    if not keepdims and axes:
        g, output = ops.expand_dims(g, axis=axes), ops.expand_dims(output, axis=axes)
    if ord == 1.0:
        return (ops.mul(g, ops.sign(x)),)
    if ord == math.inf:
        a = ops.abs(x)
        mask = ops.astype(ops.eq(a, output), dtype=dtype_name(x.dtype))
        count = ops.sum(mask, axis=axes, keepdims=True)
        return (ops.mul(ops.mul(ops.sign(x), mask), ops.div(g, count)),)
    zero = ops.eq(output, 0.0)
    scale = ops.where(zero, ops.zeros_like(output), ops.div(g, output if ord == 2.0 else ops.pow_scalar(output, exponent=ord - 1.0)))
    if ord == 2.0:
        return (ops.mul(x, scale),)
    return (ops.mul(ops.mul(x, ops.pow_scalar(ops.abs(x), exponent=ord - 2.0)), scale),)


register(
    "vector_norm",
    doc="The ``ord``-norm (``ord >= 1`` or ``inf``) over ``axis`` (as ``torch.linalg.vector_norm``); the gradient is 0 where the norm is 0.",
    forward=_vn_forward,
    infer=_vn_infer,
    vjp=_vn_vjp,
    attrs={"ord": 2.0, "axis": None, "keepdims": False}, save_output=True,
    torch_name="LinalgVectorNormBackward0",
)
