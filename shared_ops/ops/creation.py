"""Values that depend only on shapes, dtypes and attributes: ``ones_like``, ``zeros_like``, ``arange``.

None has a gradient. ``ones_like`` and ``zeros_like`` do not depend on their input's values
(gradient rules use ``zeros_like(g)`` for the zero branch of a ``where``); ``arange`` has no array
input at all, so, as ``torch.arange``, its result is a leaf: the values come from attributes.

``arange`` follows PyTorch: ``arange(end)`` or ``arange(start, end, step)``; integer arguments give
int64, any float argument the default float dtype (float32); the length is
``ceil((end - start) / step)``; element ``i`` is ``start + i * step`` computed in float64 (PyTorch's
accumulation type on the CPU) and rounded once to the dtype. With an integer dtype the arguments
are first truncated to integers, as PyTorch casts them, and the arithmetic is exact.
"""

from __future__ import annotations

import math

from ..dtypes import DEFAULT_FLOAT, INTEGER, dtype_name
from ..errors import DTypeError, ShapeError
from ..registry import REQUIRED, Spec, register

register(
    "ones_like",
    doc="Ones of ``x``'s shape and dtype; no gradient (the values do not depend on ``x``).",
    exact=True,
    forward=lambda xp, x: xp.ones_like(x),
    infer=lambda x: Spec(x.shape, x.dtype),
    vjp=None,
    elementwise=True, nondiff=frozenset({0}), save_inputs=False, preserve_format=True,
    scalar_expr=lambda x: "1",
)

register(
    "zeros_like",
    doc="Zeros of ``x``'s shape and dtype; no gradient (gradient rules use it for the zero branch of a ``where``).",
    exact=True,
    forward=lambda xp, x: xp.zeros_like(x),
    infer=lambda x: Spec(x.shape, x.dtype),
    vjp=None,
    elementwise=True, nondiff=frozenset({0}), save_inputs=False, preserve_format=True,
    scalar_expr=lambda x: "0",
)


# --------------------------------------------------------------------------- arange


def arange_length(start, end, step) -> int:
    """PyTorch's element count of ``arange(start, end, step)``, after PyTorch's checks (its texts).

    Raises ``ShapeError`` for a zero step, a non-finite bound, or a step whose sign walks away
    from ``end``.
    """
    if not (step > 0 or step < 0):
        raise ShapeError(f"arange: step must be nonzero (got step={step!r}); give a positive or negative step")
    if not all(math.isfinite(v) for v in (start, end, step)):
        raise ShapeError(f"arange: unsupported range: {start!r} -> {end!r} (step {step!r}); start, end and step must be finite")
    if not ((step > 0 and end >= start) or (step < 0 and end <= start)):
        raise ShapeError(
            f"arange: upper bound and lower bound inconsistent with step sign (start={start!r}, end={end!r}, "
            f"step={step!r}); for a decreasing range give a negative step, for an increasing one a positive step"
        )
    if all(isinstance(v, int) for v in (start, end, step)):
        return -((start - end) // step)  # exact ceil for integers of any size
    return math.ceil((end - start) / step)


def _arange(xp, *, start, end, step, dtype):
    n = arange_length(start, end, step)
    if dtype in INTEGER:
        i = xp.arange(n, dtype=xp.int64)
        return xp.astype(i * step + start, getattr(xp, dtype))
    i = xp.arange(n, dtype=xp.float64)
    return xp.astype(i * float(step) + float(start), getattr(xp, dtype))


register(
    "arange",
    forward=_arange,
    infer=lambda *, start, end, step, dtype: Spec((arange_length(start, end, step),), dtype),
    vjp=None,  # no array input, nothing to differentiate: the result is a leaf (as torch.arange's)
    attrs={"start": 0, "end": REQUIRED, "step": 1, "dtype": REQUIRED},
    save_inputs=False,
    doc="start, start + step, ... up to (not including) end; PyTorch's length, dtype rule and errors",
)


def _number(name: str, value):
    """A Python number from a front end's argument (a number, a NumPy scalar or a 0-d tensor)."""
    if isinstance(value, (bool, int, float)):
        return int(value) if isinstance(value, bool) else value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        v = item()
        if isinstance(v, (bool, int, float)):
            return int(v) if isinstance(v, bool) else v
    raise DTypeError(
        f"arange(): argument {name!r} must be a number, not {type(value).__name__}; pass a Python int or float "
        f"(a 0-d dyngraph tensor works too). In a static graph the length of arange is part of the graph's "
        f"shape, so start, end and step must be known when it is declared"
    )


def arange_attrs(start=None, end=None, step=1, dtype=None) -> dict:
    """The ``arange`` op's attributes from PyTorch's arguments (``arange(end)``, ``arange(start,
    end, step)``, ``dtype=``): integers give int64, any float the default float dtype; with an
    integer dtype the arguments are truncated to integers (as PyTorch casts them). Raises PyTorch's
    errors (``ShapeError``) for a zero step or a step of the wrong sign."""
    if end is None:
        if start is None:
            raise TypeError("arange() missing the required argument 'end': dg.arange(end) or dg.arange(start, end, step)")
        start, end = 0, start
    elif start is None:
        start = 0
    values = [_number(n, v) for n, v in (("start", start), ("end", end), ("step", step))]
    if dtype is None:
        dtype = "int64" if all(isinstance(v, int) for v in values) else DEFAULT_FLOAT
    dtype = dtype_name(dtype)
    if dtype == "bool":
        raise DTypeError("arange: dtype bool is not supported (PyTorch has no bool arange); use an integer or float dtype")
    arange_length(*values)  # as given: a non-finite bound is refused before int() could overflow
    if dtype in INTEGER:
        values = [int(v) for v in values]
    else:
        values = [float(v) for v in values]
    arange_length(*values)  # as cast to the dtype: a truncated step may be zero
    return dict(zip(("start", "end", "step"), values), dtype=dtype)
