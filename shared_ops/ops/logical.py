"""Logical and integer-style ops: logical_and/or/not, all, any, floor_divide, remainder,
and the triangle masks of models: tril, triu (``clone`` is in ``views``).

``logical_*``, ``all`` and ``any`` take bool inputs (the surface converts with ``!= 0``) and
have no gradient. ``floor_divide``'s gradient is zero (PyTorch's), ``remainder``'s is
``(g, -g * floor(a / b))`` (PyTorch's). ``tril``/``triu`` keep the lower/upper triangle of the
last two dimensions, diagonal offset ``k`` as ``torch.tril(x, diagonal=k)``.
"""

from __future__ import annotations

from ..errors import DTypeError
from ..registry import Spec, register
from ._infer import check_rank, elementwise, reduction


def _bool_only(op, infer):
    def checked(*specs, **attrs):
        for s in specs:
            if s.dtype != "bool":
                raise DTypeError(f"{op}: needs bool input, got {s.dtype}; compare first (x != 0)")
        return infer(*specs, **attrs)

    return checked


# no scalar_expr here: the fused kernels' translators cover arithmetic, comparisons and libm only
for _name, _fn, _doc in (
    ("logical_and", lambda xp, a, b: xp.logical_and(a, b), "``a and b``, elementwise on bools (as ``torch.logical_and``); no gradient."),
    ("logical_or", lambda xp, a, b: xp.logical_or(a, b), "``a or b``, elementwise on bools (as ``torch.logical_or``); no gradient."),
):
    register(
        _name,
        doc=_doc,
        exact=True,
        forward=_fn,
        infer=_bool_only(_name, elementwise(_name, out_dtype="bool")),
        vjp=None,
        elementwise=True, nondiff=frozenset({0, 1}), save_inputs=False, commutative=True,
    )

register(
    "logical_not",
    doc="``not x``, elementwise on bools (as ``torch.logical_not``); no gradient.",
    exact=True,
    forward=lambda xp, x: xp.logical_not(x),
    infer=_bool_only("logical_not", elementwise("logical_not", out_dtype="bool")),
    vjp=None,
    elementwise=True, nondiff=frozenset({0}), save_inputs=False,
)


def _all_any(name, doc):
    def forward(xp, x, *, axis=None, keepdims=False):
        return getattr(xp, name)(x, axis=axis, keepdims=keepdims)

    inner = reduction(name)

    register(
        name,
        exact=True,
        forward=forward,
        infer=_bool_only(name, lambda x, **attrs: Spec(inner(x, **attrs).shape, "bool")),
        vjp=None,
        attrs={"axis": None, "keepdims": False}, nondiff=frozenset({0}), save_inputs=False, doc=doc,
    )


_all_any("all", "Whether every element over ``axis`` is true (bool; as ``torch.all``); no gradient.")
_all_any("any", "Whether some element over ``axis`` is true (bool; as ``torch.any``); no gradient.")


def _numeric(op, infer):
    def checked(*specs):
        if any(s.dtype == "bool" for s in specs):
            raise DTypeError(f"{op}: not defined for bool inputs; convert with .astype('int64')")
        return infer(*specs)

    return checked


register(
    "floor_divide",
    exact=False,
    forward=lambda xp, a, b: xp.floor_divide(a, b),
    infer=_numeric("floor_divide", elementwise("floor_divide")),
    vjp=lambda ops, g, inputs, output: (None, None),  # zero almost everywhere (PyTorch: zeros)
    elementwise=True, save_inputs=False,
    torch_name="DivBackward2",  # torch.div(rounding_mode="floor"); floor_divide itself has no backward
    doc="``a // b``: the quotient rounded down, elementwise with broadcasting (as ``torch.floor_divide``).",
)


def _remainder_vjp(ops, g, inputs, output):
    a, b = inputs
    return (
        ops.sum_to(g, a.shape) if ops.needs_input_grad[0] else None,
        ops.sum_to(ops.neg(ops.mul(g, ops.floor_divide(a, b))), b.shape) if ops.needs_input_grad[1] else None,
    )


register(
    "remainder",
    forward=lambda xp, a, b: xp.remainder(a, b),
    infer=_numeric("remainder", elementwise("remainder")),
    vjp=_remainder_vjp,
    elementwise=True, grad_reads={1: (0, 1)},
    torch_name="RemainderBackward1",
    doc="``a % b``, with the sign of ``b``, elementwise with broadcasting (as ``torch.remainder``).",
)


def _tri_mask(xp, shape, k, lower):
    rows, cols = shape[-2], shape[-1]
    r = xp.reshape(xp.arange(rows, dtype=xp.int64), (rows, 1))
    c = xp.reshape(xp.arange(cols, dtype=xp.int64), (1, cols))
    return (c - r <= k) if lower else (c - r >= k)


def _tri(name, lower, doc):
    def forward(xp, x, *, k=0):
        return xp.where(_tri_mask(xp, tuple(x.shape), k, lower), x, xp.zeros_like(x))

    def infer(x, *, k=0):
        check_rank(name, x, tuple(range(2, 33)), "input (at least 2-D)")
        return Spec(x.shape, x.dtype)

    register(
        name,
        exact=True,
        forward=forward,
        infer=infer,
        vjp=lambda ops, g, inputs, output, *, k=0: (getattr(ops, name)(g, k=k),),
        attrs={"k": 0}, linear=True, save_inputs=False,
        torch_name=f"{name.capitalize()}Backward0", doc=doc,
    )


_tri("tril", True, "The lower triangle of the last two dimensions, above diagonal ``k`` zeroed (as ``torch.tril(x, diagonal=k)``).")
_tri("triu", False, "The upper triangle of the last two dimensions, below diagonal ``k`` zeroed (as ``torch.triu(x, diagonal=k)``).")
