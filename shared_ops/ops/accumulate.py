"""``add_n``, the one gradient accumulator, and ``astype``."""

from __future__ import annotations

from ..dtypes import dtype_name, is_floating
from ..errors import ShapeError
from ..registry import Spec, fmt_shape, register
from ._infer import same_dtype


def _add_n_forward(xp, *terms):
    # A left fold in the order given, seeded with the first term (never with zeros, which
    # would turn -0.0 into +0.0). Front ends pass terms in consumer creation order.
    acc = terms[0]
    for t in terms[1:]:
        acc = xp.add(acc, t)
    return acc


def _add_n_infer(*terms: Spec) -> Spec:
    if not terms:
        raise ShapeError("add_n: needs at least one term")
    dtype = same_dtype("add_n", *terms)
    first = terms[0].shape
    for t in terms[1:]:
        if len(t.shape) != len(first) or any(a is not None and b is not None and a != b for a, b in zip(first, t.shape)):
            raise ShapeError(
                f"add_n: every term must have one shape, got {', '.join(fmt_shape(t.shape) for t in terms)}"
            )
    shape = tuple(next((d for d in dims if d is not None), None) for dims in zip(*(t.shape for t in terms)))
    return Spec(shape, dtype)


register(
    "add_n",
    doc="The sum of any number of inputs of one shape, left to right: how a gradient reaching a value along several paths is accumulated.",
    may_alias=(0,),  # one term is returned as it is
    forward=_add_n_forward,
    infer=_add_n_infer,
    vjp=lambda ops, g, inputs, output: tuple(g if ops.needs_input_grad[i] else None for i in range(len(inputs))),
    variadic=True, elementwise=True, linear=True, save_inputs=False,
    torch_name="AddNBackward0",
    scalar_expr=lambda *terms: "(" + " + ".join(terms) + ")",  # Python's + is a left fold too
)


def _astype_forward(xp, x, *, dtype):
    return xp.astype(x, getattr(xp, dtype))


def _astype_vjp(ops, g, inputs, output, *, dtype):
    src = dtype_name(inputs[0].dtype)
    if not is_floating(src):
        return (None,)
    return (ops.astype(g, dtype=src),)


register(
    "astype",
    doc="``x`` cast to ``dtype`` (as ``Tensor.to(dtype)``); the gradient is cast back to ``x``'s dtype, none for integer inputs.",
    may_alias=(0,),
    forward=_astype_forward,
    infer=lambda x, *, dtype: Spec(x.shape, dtype_name(dtype)),
    vjp=_astype_vjp,
    attrs=("dtype",), elementwise=True, linear=True, save_inputs=False, preserve_format=True,
    torch_name="ToCopyBackward0",
    scalar_expr=lambda x, *, dtype: f"{x}",  # the fused code casts every result to its dtype
)
