"""Unary elementwise ops: exp log tanh sigmoid relu sqrt abs sign pow_scalar clip, and the
gradients of tanh and sigmoid from their outputs (tanh_grad, sigmoid_grad; two inputs).

Kinks follow PyTorch: ``relu'(0) = 0``, ``abs'(0) = sign(0) = 0``, and ``clip`` passes the
gradient where ``min <= x <= max`` (inclusive, as ``torch.clamp``). Rules that need only the
output (``exp``, ``tanh``, ``sigmoid``, ``sqrt``, ``relu``) save the output, not the input.
"""

from __future__ import annotations

import numpy as np

from ..registry import register
from ._infer import elementwise

_OUT_ONLY = dict(save_inputs=False, save_output=True)
_ndarray = np.ndarray


register(
    "exp",
    forward_into=lambda xp, a, out: xp.exp(a, out=out),
    forward=lambda xp, x: xp.exp(x),
    infer=elementwise("exp", floating=True),
    vjp=lambda ops, g, inputs, output: (ops.mul(g, output),),
    elementwise=True, **_OUT_ONLY,
    torch_name="ExpBackward0",
    doc="``e ** x``, elementwise (as ``torch.exp``).",
    scalar_expr=lambda x: f"math.exp({x})",
)


register(
    "log",
    forward_into=lambda xp, a, out: xp.log(a, out=out),
    forward=lambda xp, x: xp.log(x),
    infer=elementwise("log", floating=True),
    vjp=lambda ops, g, inputs, output: (ops.div(g, inputs[0]),),
    elementwise=True,
    torch_name="LogBackward0",
    doc="The natural logarithm, elementwise (as ``torch.log``).",
    scalar_expr=lambda x: f"math.log({x})",
)


register(
    "tanh",
    forward_into=lambda xp, a, out: xp.tanh(a, out=out),
    forward=lambda xp, x: xp.tanh(x),
    infer=elementwise("tanh", floating=True),
    # g * (1 - y^2): PyTorch's tanh_backward, one op (tanh_grad below)
    vjp=lambda ops, g, inputs, output: (ops.tanh_grad(g, output),),
    elementwise=True, **_OUT_ONLY,
    torch_name="TanhBackward0",
    doc="The hyperbolic tangent, elementwise (as ``torch.tanh``).",
    scalar_expr=lambda x: f"math.tanh({x})",
)


def _sigmoid_forward(xp, x):
    # exp of -|x| only, so no overflow for large |x| of either sign
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


register(
    "sigmoid",
    forward=_sigmoid_forward,
    numpy_calls=8,
    infer=elementwise("sigmoid", floating=True),
    # g * ((1 - y) * y): PyTorch's sigmoid_backward, one op (sigmoid_grad below)
    vjp=lambda ops, g, inputs, output: (ops.sigmoid_grad(g, output),),
    elementwise=True, **_OUT_ONLY,
    torch_name="SigmoidBackward0",
    doc="``1 / (1 + exp(-x))``, elementwise (as ``torch.sigmoid``).",
    scalar_expr=lambda x: f"(1.0 / (1.0 + math.exp(-{x})) if {x} >= 0 else math.exp({x}) / (1.0 + math.exp({x})))",
)



# --------------------------------------------------------------------------- gradients of tanh / sigmoid
# The rules of tanh and sigmoid as single ops (PyTorch's tanh_backward / sigmoid_backward): one
# kernel instead of three in every backward, with the same arithmetic in the same order as the
# three-op spelling (g * (1 - y*y), g * ((1 - y) * y)), so the values are unchanged. Their own
# rules (second order) follow PyTorch's derivatives of tanh_backward / sigmoid_backward.


def _tanh_grad_vjp(ops, gg, inputs, output):
    g, y = inputs
    return (
        # d/dg: gg * (1 - y^2)
        ops.sum_to(ops.tanh_grad(gg, y), g.shape) if ops.needs_input_grad[0] else None,
        # d/dy: gg * g * (-2 y)
        ops.sum_to(ops.mul(gg, ops.mul(ops.mul(y, -2.0), g)), y.shape) if ops.needs_input_grad[1] else None,
    )


def _tanh_grad_forward(xp, g, y):
    # g * (1 - y*y). NumPy arrays of one shape and dtype, large enough that an allocation costs
    # more than the out= keyword: the same three ufuncs in the same order (the same bits) write
    # into the first temporary (128x512 float32, W3's: about 100 -> 70 us)
    if g.__class__ is _ndarray and g.size >= 4096 and y.__class__ is _ndarray and g.shape == y.shape and g.dtype == y.dtype:
        t = y * y
        np.subtract(1, t, out=t)
        return np.multiply(g, t, out=t)
    return g * (1 - y * y)


register(
    "tanh_grad",
    forward=_tanh_grad_forward,
    numpy_calls=3,
    infer=elementwise("tanh_grad", floating=True),
    vjp=_tanh_grad_vjp,
    elementwise=True,
    torch_name="TanhBackwardBackward0",
    doc="tanh's gradient from its output: g * (1 - y*y) (PyTorch's tanh_backward).",
    scalar_expr=lambda g, y: f"({g} * (1.0 - {y} * {y}))",
)


def _sigmoid_grad_vjp(ops, gg, inputs, output):
    g, y = inputs
    return (
        # d/dg: gg * (1 - y) * y
        ops.sum_to(ops.sigmoid_grad(gg, y), g.shape) if ops.needs_input_grad[0] else None,
        # d/dy: gg * g * (1 - 2 y)
        ops.sum_to(ops.mul(ops.mul(gg, g), ops.sub(1.0, ops.mul(y, 2.0))), y.shape) if ops.needs_input_grad[1] else None,
    )


register(
    "sigmoid_grad",
    forward=lambda xp, g, y: g * ((1 - y) * y),
    numpy_calls=3,
    infer=elementwise("sigmoid_grad", floating=True),
    vjp=_sigmoid_grad_vjp,
    elementwise=True,
    torch_name="SigmoidBackwardBackward0",
    doc="sigmoid's gradient from its output: g * ((1 - y) * y) (PyTorch's sigmoid_backward).",
    scalar_expr=lambda g, y: f"({g} * ((1.0 - {y}) * {y}))",
)

register(
    "relu",
    exact=True,
    forward=lambda xp, x: xp.where(x > 0, x, xp.zeros_like(x)),
    infer=elementwise("relu"),
    # relu'(0) = 0 (PyTorch's threshold_backward keeps g only where the output is > 0)
    vjp=lambda ops, g, inputs, output: (ops.where(ops.gt(output, 0), g, ops.zeros_like(g)),),
    elementwise=True, **_OUT_ONLY,
    torch_name="ReluBackward0",
    doc="``max(x, 0)``, elementwise (as ``torch.relu``).",
    scalar_expr=lambda x: f"({x} if {x} > 0 else 0.0)",
)


register(
    "sqrt",
    forward_into=lambda xp, a, out: xp.sqrt(a, out=out),
    forward=lambda xp, x: xp.sqrt(x),
    infer=elementwise("sqrt", floating=True),
    vjp=lambda ops, g, inputs, output: (ops.div(g, ops.mul(output, 2.0)),),
    elementwise=True, **_OUT_ONLY,
    torch_name="SqrtBackward0",
    doc="The square root, elementwise (as ``torch.sqrt``).",
    scalar_expr=lambda x: f"math.sqrt({x})",
)


register(
    "abs",
    forward_into=lambda xp, a, out: xp.abs(a, out=out),
    exact=True,
    forward=lambda xp, x: xp.abs(x),
    infer=elementwise("abs"),
    # abs'(0) = sign(0) = 0, as PyTorch
    vjp=lambda ops, g, inputs, output: (ops.mul(g, ops.sign(inputs[0])),),
    elementwise=True,
    torch_name="AbsBackward0",
    doc="The absolute value, elementwise (as ``torch.abs``).",
    scalar_expr=lambda x: f"abs({x})",
)


register(
    "sign",
    doc="-1, 0 or 1 by the sign of ``x``, elementwise (as ``torch.sign``); the gradient is zero.",
    exact=True,
    forward=lambda xp, x: xp.sign(x),
    infer=elementwise("sign"),
    vjp=lambda ops, g, inputs, output: (None,),  # zero almost everywhere (PyTorch: zeros)
    elementwise=True, save_inputs=False,
    torch_name="SignBackward0",
    scalar_expr=lambda x: f"(({x} > 0) - ({x} < 0))",
)


def _pow_scalar_vjp(ops, g, inputs, output, *, exponent):
    if exponent == 0.0:  # PyTorch: zeros, not g * 0 * x**-1 (nan at 0)
        return (None,)
    # g * (exponent * x ** (exponent - 1)), as PowBackward0
    return (ops.mul(g, ops.mul(ops.pow_scalar(inputs[0], exponent=exponent - 1.0), exponent)),)


register(
    "pow_scalar",
    doc="``x ** exponent`` for a Python number ``exponent``, elementwise (as ``torch.pow`` with a scalar exponent).",
    # xp.pow (the array API's name; NumPy 2's np.pow is np.power; older CuPy has only power),
    # not `x ** e`: NumPy scalars (what 0-d results are) have their own scalar power, which
    # differs from the ufunc by an ulp; the two front ends must run one kernel
    forward=lambda xp, x, *, exponent: (xp.pow if hasattr(xp, "pow") else xp.power)(x, exponent),
    infer=elementwise("pow_scalar", floating=True),
    vjp=_pow_scalar_vjp,
    attrs=("exponent",), elementwise=True,
    torch_name="PowBackward0",
    scalar_expr=lambda x, *, exponent: f"({x} ** {float(exponent)!r})",
)


def _clip_forward(xp, x, *, min=None, max=None):
    return xp.clip(x, min, max)


def _clip_vjp(ops, g, inputs, output, *, min=None, max=None):
    # the gradient passes where min <= x <= max, inclusive at both ends (as torch.clamp)
    x, zero = inputs[0], ops.zeros_like(g)
    if min is not None:
        g = ops.where(ops.ge(x, min), g, zero)
    if max is not None:
        g = ops.where(ops.le(x, max), g, zero)
    return (g,)


def _clip_expr(x, *, min=None, max=None):
    if min is not None:
        x = f"max({x}, {float(min)!r})"
    if max is not None:
        x = f"min({x}, {float(max)!r})"
    return x


register(
    "clip",
    doc="``x`` limited to ``[min, max]`` (either bound may be None), elementwise (as ``torch.clamp``); the gradient passes where ``min <= x <= max``.",
    exact=True,
    forward=_clip_forward,
    infer=elementwise("clip", floating=True),
    vjp=_clip_vjp,
    attrs={"min": None, "max": None}, elementwise=True,
    torch_name="ClampBackward1",
    scalar_expr=_clip_expr,
)
