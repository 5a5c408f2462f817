"""Binary elementwise ops: pow maximum minimum where, and the comparisons.

The comparisons (``eq ne lt le gt ge``) are a declared non-differentiable family: bool
output, no ``vjp`` (``COMPARISONS`` lists them). Ties follow PyTorch: ``maximum``/``minimum``
give each input half the gradient where ``a == b``.
"""

from __future__ import annotations

import operator

from ..registry import Spec, broadcast_shapes, register
from ..errors import DTypeError
from ._infer import elementwise, same_dtype


def _pow_vjp(ops, g, inputs, output):
    a, b = inputs
    ga = gb = None
    zero = ops.zeros_like(g)
    if ops.needs_input_grad[0]:  # g * b * a**(b-1), zero where b == 0 (PowBackward1)
        d = ops.mul(g, ops.mul(b, ops.pow(a, ops.sub(b, 1.0))))
        ga = ops.sum_to(ops.where(ops.eq(b, 0), zero, d), a.shape)
    if ops.needs_input_grad[1]:  # g * a**b * log(a), zero where a == 0 and b >= 0
        d = ops.mul(g, ops.mul(output, ops.log(a)))
        gb = ops.sum_to(ops.where(ops.eq(a, 0), ops.where(ops.ge(b, 0), zero, d), d), b.shape)
    return ga, gb


register(
    "pow",
    doc="``a ** b``, elementwise with broadcasting, on floats (as ``torch.pow``); ``a``'s gradient is 0 where ``b == 0``, ``b``'s is 0 where ``a == 0`` and ``b >= 0``.",
    forward=lambda xp, a, b: xp.pow(a, b),
    infer=elementwise("pow", floating=True),
    vjp=_pow_vjp,
    elementwise=True, save_output=True,
    torch_name="PowBackward1",
    scalar_expr=lambda a, b: f"({a} ** {b})",
)


def _extremum_vjp(first_wins):
    def vjp(ops, g, inputs, output):
        # the winner takes g, the loser 0; at a tie each gets g / 2 (as PyTorch)
        a, b = inputs
        zero, half, tie = ops.zeros_like(g), ops.div(g, 2.0), ops.eq(a, b)
        ga = gb = None
        if ops.needs_input_grad[0]:
            ga = ops.sum_to(ops.where(first_wins(ops, a, b), g, ops.where(tie, half, zero)), a.shape)
        if ops.needs_input_grad[1]:
            gb = ops.sum_to(ops.where(first_wins(ops, b, a), g, ops.where(tie, half, zero)), b.shape)
        return ga, gb

    return vjp


register(
    "maximum",
    doc="The larger of ``a`` and ``b``, elementwise with broadcasting; at a tie each input gets half the gradient (as ``torch.maximum``).",
    forward_into=lambda xp, a, b, out: xp.maximum(a, b, out=out), commutative=True,
    exact=True,
    forward=lambda xp, a, b: xp.maximum(a, b),
    infer=elementwise("maximum"),
    vjp=_extremum_vjp(lambda ops, a, b: ops.gt(a, b)),
    elementwise=True,
    torch_name="MaximumBackward0",
    scalar_expr=lambda a, b: f"max({a}, {b})",
)

register(
    "minimum",
    doc="The smaller of ``a`` and ``b``, elementwise with broadcasting; at a tie each input gets half the gradient (as ``torch.minimum``).",
    forward_into=lambda xp, a, b, out: xp.minimum(a, b, out=out), commutative=True,
    exact=True,
    forward=lambda xp, a, b: xp.minimum(a, b),
    infer=elementwise("minimum"),
    vjp=_extremum_vjp(lambda ops, a, b: ops.lt(a, b)),
    elementwise=True,
    torch_name="MinimumBackward0",
    scalar_expr=lambda a, b: f"min({a}, {b})",
)


def _where_infer(c: Spec, x: Spec, y: Spec) -> Spec:
    if c.dtype != "bool":
        raise DTypeError(f"where: the condition must be bool, got {c.dtype}; compare first (x > 0)")
    return Spec(broadcast_shapes("where", c.shape, x.shape, y.shape), same_dtype("where", x, y))


def _where_vjp(ops, g, inputs, output):
    c, x, y = inputs
    zero = ops.zeros_like(g)
    return (
        None,
        ops.sum_to(ops.where(c, g, zero), x.shape) if ops.needs_input_grad[1] else None,
        ops.sum_to(ops.where(c, zero, g), y.shape) if ops.needs_input_grad[2] else None,
    )


register(
    "where",
    doc="``x`` where the bool ``c`` is true, else ``y``, with broadcasting (as ``torch.where``); the gradient goes to the chosen input, none to ``c``.",
    exact=True,
    forward=lambda xp, c, x, y: xp.where(c, x, y),
    infer=_where_infer,
    vjp=_where_vjp,
    elementwise=True, linear=True, nondiff=frozenset({0}), save_inputs=(0,),
    torch_name="WhereBackward0",
    scalar_expr=lambda c, x, y: f"({x} if {c} else {y})",
)


# --------------------------------------------------------------------------- clamp with tensor bounds


def _clamp_forward(xp, x, lo, hi, *, lower=True, upper=True):
    if lower:
        x = xp.maximum(x, lo)
    return xp.minimum(x, hi) if upper else x


def _clamp_vjp(ops, g, inputs, output, *, lower=True, upper=True):
    # PyTorch's clamp_backward and clamp_backward_min_max: x takes g where lo <= x <= hi; a
    # bound takes it where x is beyond it, lo only while lo < hi (else hi wins everywhere)
    x, lo, hi = inputs
    zero = ops.zeros_like(g)
    gx = glo = ghi = None
    if ops.needs_input_grad[0]:
        gx = ops.where(ops.ge(x, lo), g, zero) if lower else g
        gx = ops.sum_to(ops.where(ops.le(x, hi), gx, zero) if upper else gx, x.shape)
    if lower and ops.needs_input_grad[1]:  # x < lo, and lo < hi
        glo = ops.where(ops.lt(lo, hi), g, zero) if upper else g
        glo = ops.sum_to(ops.where(ops.lt(x, lo), glo, zero), lo.shape)
    if upper and ops.needs_input_grad[2]:  # x > hi, or hi < lo
        ghi = ops.where(ops.gt(x, hi), g, ops.where(ops.lt(hi, lo), g, zero) if lower else zero)
        ghi = ops.sum_to(ghi, hi.shape)
    return gx, glo, ghi


register(
    "clamp",
    exact=True,
    forward=_clamp_forward,
    infer=elementwise("clamp"),
    vjp=_clamp_vjp,
    attrs={"lower": True, "upper": True}, elementwise=True,
    torch_name="ClampBackward0",
    doc="x.clamp(lo, hi) with tensor bounds (broadcast): min(max(x, lo), hi); an absent bound "
        "(lower/upper False) is a placeholder input that is not read.",
)


# --------------------------------------------------------------------------- comparisons

COMPARISONS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
"""The non-differentiable family: op name -> Python operator (every array library has them)."""


def _comparison(name: str, sym: str) -> None:
    fn = getattr(operator, name)

    def forward(xp, a, b):
        return fn(a, b)

    register(
        name,
        forward=forward,
        infer=elementwise(name, out_dtype="bool"),
        vjp=None,
        elementwise=True, nondiff=frozenset({0, 1}), save_inputs=False,
        commutative=name in ("eq", "ne"),
        scalar_expr=lambda a, b: f"({a} {sym} {b})",
        doc=f"a {sym} b elementwise (bool, no gradient).",
    )


for _name, _sym in COMPARISONS.items():
    _comparison(_name, _sym)
