"""``ones_like`` and ``zeros_like``: values that depend only on the input's shape and dtype.

They have no gradient (the output does not depend on the input's values); gradient rules
use ``zeros_like(g)`` for the zero branch of a ``where``.
"""

from __future__ import annotations

from ..registry import Spec, register

register(
    "ones_like",
    exact=True,
    forward=lambda xp, x: xp.ones_like(x),
    infer=lambda x: Spec(x.shape, x.dtype),
    vjp=None,
    elementwise=True, nondiff=frozenset({0}), save_inputs=False,
    scalar_expr=lambda x: "1",
)

register(
    "zeros_like",
    exact=True,
    forward=lambda xp, x: xp.zeros_like(x),
    infer=lambda x: Spec(x.shape, x.dtype),
    vjp=None,
    elementwise=True, nondiff=frozenset({0}), save_inputs=False,
    scalar_expr=lambda x: "0",
)
