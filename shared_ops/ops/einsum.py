"""``einsum`` of two operands and constant ``pad``.

The ``einsum`` op takes exactly two operands whose every letter appears in the other operand or
in the output, each letter once per operand (the surface sums away letters of one operand only,
splits longer equations into pairs and rejects repeated letters), so its gradients are einsums
again: ``a_grad = einsum("out,b->a", g, b)``. The kernel groups letters into batch, kept and
contracted sets and runs one batched ``matmul``.

``pad(x, pad=((before, after), ...), value=)`` pads every dimension with a constant (one pair per
dimension); its gradient is the slice of ``g`` that ``x`` became.
"""

from __future__ import annotations

import math

from ..errors import OpAttributeError, ShapeError
from ..registry import Spec, fmt_shape, register
from ._infer import same_dtype


def parse_equation(equation: str) -> tuple:
    """``"ij,jk->ik"`` as (("ij", "jk"), "ik"), validated for the op's two-operand form."""
    if "->" not in equation or "." in equation:
        raise OpAttributeError(f"einsum: give an explicit output ('ij,jk->ik'); ellipses are not supported, got {equation!r}")
    ins, out = equation.replace(" ", "").split("->")
    terms = tuple(ins.split(","))
    for t in terms + (out,):
        if not t.isalpha() and t != "":
            raise OpAttributeError(f"einsum: subscripts must be letters, got {t!r} in {equation!r}")
        if len(set(t)) != len(t):
            raise OpAttributeError(f"einsum: letter repeated within {t!r} (diagonals are not supported) in {equation!r}")
    return terms, out


def _sizes(terms, shapes, equation):
    sizes: dict = {}
    for t, s in zip(terms, shapes):
        if len(t) != len(s):
            raise ShapeError(f"einsum: operand {t!r} has {len(t)} letters but shape {fmt_shape(s)} in {equation!r}")
        for ch, d in zip(t, s):
            if d is not None and sizes.get(ch) not in (None, d):
                raise ShapeError(f"einsum: letter {ch!r} has sizes {sizes[ch]} and {d} in {equation!r}")
            sizes[ch] = d if d is not None else sizes.get(ch)
    return sizes


def _einsum_infer(a: Spec, b: Spec, *, equation) -> Spec:
    (ta, tb), out = _check_pair(equation)
    sizes = _sizes((ta, tb), (a.shape, b.shape), equation)
    return Spec(tuple(sizes[ch] for ch in out), same_dtype("einsum", a, b))


def _check_pair(equation):
    terms, out = parse_equation(equation)
    if len(terms) != 2:
        raise OpAttributeError(f"einsum: the op takes two operands (the surface splits longer equations), got {equation!r}")
    ta, tb = terms
    for ch in out:
        if ch not in ta + tb:
            raise OpAttributeError(f"einsum: output letter {ch!r} is in no operand of {equation!r}")
    for t, other in ((ta, tb), (tb, ta)):
        for ch in t:
            if ch not in other and ch not in out:
                raise OpAttributeError(f"einsum: letter {ch!r} appears in one operand only; sum it first ({equation!r})")
    return (ta, tb), out


def _einsum_forward(xp, a, b, *, equation):
    (ta, tb), out = _check_pair(equation)
    size = {**dict(zip(ta, a.shape)), **dict(zip(tb, b.shape))}
    batch = [c for c in out if c in ta and c in tb]
    left = [c for c in out if c in ta and c not in tb]
    right = [c for c in out if c in tb and c not in ta]
    contr = [c for c in ta if c in tb and c not in out]
    n = lambda letters: math.prod(size[c] for c in letters)  # noqa: E731
    a2 = xp.reshape(xp.permute_dims(a, tuple(ta.index(c) for c in batch + left + contr)), (n(batch), n(left), n(contr)))
    b2 = xp.reshape(xp.permute_dims(b, tuple(tb.index(c) for c in batch + contr + right)), (n(batch), n(contr), n(right)))
    res = xp.reshape(xp.matmul(a2, b2), tuple(size[c] for c in batch + left + right))
    order = batch + left + right
    return xp.permute_dims(res, tuple(order.index(c) for c in out))


def _einsum_vjp(ops, g, inputs, output, *, equation):
    (ta, tb), out = _check_pair(equation)
    a, b = inputs
    return (
        ops.einsum(g, b, equation=f"{out},{tb}->{ta}") if ops.needs_input_grad[0] else None,
        ops.einsum(a, g, equation=f"{ta},{out}->{tb}") if ops.needs_input_grad[1] else None,
    )


register(
    "einsum",
    forward=_einsum_forward,
    infer=_einsum_infer,
    vjp=_einsum_vjp,
    attrs=("equation",), grad_reads={0: (1,), 1: (0,)},
    torch_name="ViewBackward0",  # PyTorch's einsum ends in a view of its bmm
    doc="Two-operand einsum as one batched matmul (the surface handles the general equation).",
)


# --------------------------------------------------------------------------- pad


def _pad_infer(x: Spec, *, pad, value=0.0) -> Spec:
    if len(pad) != x.ndim or any(len(p) != 2 or min(p) < 0 for p in pad):
        raise ShapeError(f"pad: needs one (before, after) pair of non-negative ints per dimension of {fmt_shape(x.shape)}, got {pad!r}")
    return Spec(tuple(None if d is None else d + p[0] + p[1] for d, p in zip(x.shape, pad)), x.dtype)


def _pad_forward(xp, x, *, pad, value=0.0):
    shape = tuple(d + p[0] + p[1] for d, p in zip(x.shape, pad))
    out = xp.full(shape, value, dtype=x.dtype)
    out[tuple(slice(p[0], p[0] + d) for d, p in zip(x.shape, pad))] = x
    return out


def _pad_vjp(ops, g, inputs, output, *, pad, value=0.0):
    # stops counted from the end, so a free (None) dimension needs nothing special
    return (ops.getitem(g, index=tuple(("s", p[0], -p[1] if p[1] else None, None) for p in pad)),)


register(
    "pad",
    doc="``x`` padded with the constant ``value``, one ``(before, after)`` pair per dimension; the gradient is the slice of ``g`` that ``x`` became.",
    exact=True,
    forward=_pad_forward,
    infer=_pad_infer,
    vjp=_pad_vjp,
    attrs={"pad": (), "value": 0.0}, save_inputs=False,  # affine when value != 0: not linear
    torch_name="ConstantPadNdBackward0",
)
