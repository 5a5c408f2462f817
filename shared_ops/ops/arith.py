"""Broadcasting arithmetic: add, sub, mul, div, neg.

Every binary rule undoes broadcasting with ``ops.sum_to`` and nothing else.
"""

from __future__ import annotations

from ..registry import register
from ._infer import elementwise


def _add_vjp(ops, g, inputs, output):
    a, b = inputs
    return (
        ops.sum_to(g, a.shape) if ops.needs_input_grad[0] else None,
        ops.sum_to(g, b.shape) if ops.needs_input_grad[1] else None,
    )


register(
    "add",
    doc="``a + b``, elementwise with broadcasting (as ``torch.add``).",
    forward_into=lambda xp, a, b, out: xp.add(a, b, out=out), commutative=True,
    forward=lambda xp, a, b: xp.add(a, b),
    infer=elementwise("add"),
    vjp=_add_vjp,
    elementwise=True, linear=True, save_inputs=False,
    torch_name="AddBackward0",
    scalar_expr=lambda a, b: f"({a} + {b})",
)


def _sub_vjp(ops, g, inputs, output):
    a, b = inputs
    return (
        ops.sum_to(g, a.shape) if ops.needs_input_grad[0] else None,
        ops.sum_to(ops.neg(g), b.shape) if ops.needs_input_grad[1] else None,
    )


register(
    "sub",
    doc="``a - b``, elementwise with broadcasting (as ``torch.sub``).",
    forward_into=lambda xp, a, b, out: xp.subtract(a, b, out=out),
    forward=lambda xp, a, b: xp.subtract(a, b),
    infer=elementwise("sub"),
    vjp=_sub_vjp,
    elementwise=True, linear=True, save_inputs=False,
    torch_name="SubBackward0",
    scalar_expr=lambda a, b: f"({a} - {b})",
)


def _mul_vjp(ops, g, inputs, output):
    a, b = inputs
    return (
        ops.sum_to(ops.mul(g, b), a.shape) if ops.needs_input_grad[0] else None,
        ops.sum_to(ops.mul(g, a), b.shape) if ops.needs_input_grad[1] else None,
    )


register(
    "mul",
    forward_into=lambda xp, a, b, out: xp.multiply(a, b, out=out), commutative=True,
    forward=lambda xp, a, b: xp.multiply(a, b),
    infer=elementwise("mul"),
    vjp=_mul_vjp,
    elementwise=True, grad_reads={0: (1,), 1: (0,)},
    torch_name="MulBackward0",
    doc="``a * b``, elementwise with broadcasting (as ``torch.mul``).",
    scalar_expr=lambda a, b: f"({a} * {b})",
)


def _div_vjp(ops, g, inputs, output):
    a, b = inputs
    ga = gb = None
    if ops.needs_input_grad[0]:
        ga = ops.sum_to(ops.div(g, b), a.shape)
    if ops.needs_input_grad[1]:  # d(a/b)/db = -a / b^2, as -(g * a) / (b * b)
        gb = ops.sum_to(ops.neg(ops.div(ops.mul(g, a), ops.mul(b, b))), b.shape)
    return ga, gb


register(
    "div",
    forward_into=lambda xp, a, b, out: xp.divide(a, b, out=out),
    forward=lambda xp, a, b: xp.divide(a, b),
    infer=elementwise("div", floating=True),
    vjp=_div_vjp,
    elementwise=True, grad_reads={0: (1,), 1: (0, 1)},
    torch_name="DivBackward0",
    doc="``a / b``, elementwise with broadcasting, on floats (as ``torch.div``).",
    scalar_expr=lambda a, b: f"({a} / {b})",
)


register(
    "neg",
    forward_into=lambda xp, a, out: xp.negative(a, out=out),
    exact=True,
    forward=lambda xp, x: xp.negative(x),
    infer=elementwise("neg"),
    vjp=lambda ops, g, inputs, output: (ops.neg(g),),
    elementwise=True, linear=True, save_inputs=False,
    torch_name="NegBackward0",
    doc="``-x``, elementwise (as ``torch.neg``).",
    scalar_expr=lambda x: f"(-{x})",
)
