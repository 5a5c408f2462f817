"""Dtypes as plain names (``"float32"``), NumPy 2 promotion, Python scalars weak (NEP 50)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DTypeError

FLOATING = ("float16", "float32", "float64")
INTEGER = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
BOOL = ("bool",)
FLOATING_SET = frozenset(FLOATING)  # the same names, for membership tests on hot paths
ALL = FLOATING + INTEGER + BOOL
DEFAULT_FLOAT = "float32"  # PyTorch's default dtype: integer true division, int tensor with a Python float

_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int64"}


_NAME_CACHE: dict = {}
_OTHER_CACHE: dict = {}


def dtype_name(dtype: Any) -> str:
    """Normalise a dtype given as a name, NumPy dtype, NumPy type, alias object or backend dtype.

    Args:
        dtype: ``"float32"``, ``"float"`` (PyTorch's aliases), ``numpy.float32``,
            ``np.dtype("f4")``, ``dg.float32``, a CuPy or array-api-strict dtype.

    Returns:
        The dtype's name.

    Raises:
        DTypeError: a dtype graphcompare does not support (complex, strings).

    Examples:
        >>> import numpy as np
        >>> from shared_ops import dtype_name
        >>> dtype_name(np.float32), dtype_name("double"), dtype_name(np.dtype("i8"))
        ('float32', 'float64', 'int64')
    """
    if not isinstance(dtype, (str, np.dtype)):
        # Other backends' dtype objects hash like NumPy's but warn when compared with them, so
        # they get their own cache, keyed by identity (the entry keeps the object alive).
        entry = _OTHER_CACHE.get(id(dtype))
        if entry is None:
            entry = _OTHER_CACHE[id(dtype)] = (dtype, _dtype_name(dtype))
        return entry[1]
    name = _NAME_CACHE.get(dtype)
    if name is None:
        name = _dtype_name(dtype)
        if len(_NAME_CACHE) < 4096:
            _NAME_CACHE[dtype] = name
    return name


def _dtype_name(dtype: Any) -> str:
    if isinstance(dtype, str):
        name = _ALIASES.get(dtype, dtype).split(".")[-1]
    elif hasattr(dtype, "name") and isinstance(getattr(dtype, "name"), str) and not isinstance(dtype, type):
        name = dtype.name  # np.dtype, our DType alias objects
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = str(dtype).split(".")[-1].rstrip("'>")
    if name not in ALL:
        raise DTypeError(f"unsupported dtype {dtype!r}: use one of {', '.join(FLOATING + ('int32', 'int64', 'bool'))}")
    return name


def is_floating(dtype: Any) -> bool:
    """Whether ``dtype`` is a floating-point dtype (the ones with gradients).

    Args:
        dtype: a dtype in any form ``dtype_name`` takes.

    Returns:
        True for float16, float32 and float64.

    Examples:
        >>> from shared_ops import is_floating
        >>> is_floating("float16"), is_floating("int64")
        (True, False)
    """
    return dtype_name(dtype) in FLOATING


def is_integer(dtype: Any) -> bool:
    return dtype_name(dtype) in INTEGER


def result_dtype(*dtypes: str) -> str:
    """PyTorch's promotion of tensor dtypes: the highest category wins (bool < integer <
    floating) and its dtype is kept (``int64`` with ``float32`` gives ``float32``); within one
    category, NumPy's (``float32`` with ``float64`` gives ``float64``, ``int8`` with ``uint8``
    gives ``int16``).

    Args:
        dtypes: dtype names.

    Returns:
        The name of the promoted dtype.

    Examples:
        >>> from shared_ops import result_dtype
        >>> result_dtype("int64", "float32"), result_dtype("int8", "uint8"), result_dtype("bool", "bool")
        ('float32', 'int16', 'bool')
    """
    if len(dtypes) == 1:
        return dtypes[0]
    for category in (FLOATING, INTEGER):
        top = [d for d in dtypes if d in category]
        if top:
            return np.result_type(*[np.dtype(d) for d in top]).name
    return "bool"


def promoted_dtype(*operands: tuple) -> str:
    """PyTorch's promotion of tensor operands given as ``(dtype, is_zero_dim)``: dimensioned
    operands decide, unless a zero-dim one is of a higher category (bool < integer < floating),
    in which case the zero-dim operands of that category decide (``float32`` of shape (3,)
    times a 0-d ``float64`` gives ``float32``; an ``int64`` (3,) times a 0-d ``float64`` gives
    ``float64``)."""
    def category(d):
        return 2 if d in FLOATING else 1 if d in INTEGER else 0

    dims = [d for d, zero in operands if not zero]
    zeros = [d for d, zero in operands if zero]
    if not dims or not zeros:
        return result_dtype(*(d for d, _ in operands))
    top = max(category(d) for d in zeros)
    if top > max(category(d) for d in dims):
        return result_dtype(*(d for d in zeros if category(d) == top))
    return result_dtype(*dims)


def weak_scalar_dtype(value: Any, other: str) -> str:
    """The dtype a Python scalar takes when combined with an array of dtype ``other``.

    The scalar is weak (PyTorch, NEP 50), so the array's dtype wins when it can hold the
    scalar's kind; a Python float meeting an integer or bool array gives the default float
    dtype (``DEFAULT_FLOAT``, float32, as PyTorch).
    """
    if isinstance(value, bool):
        return other
    if isinstance(value, int):
        return other if other != "bool" else "int64"
    if isinstance(value, float):
        return other if other in FLOATING else DEFAULT_FLOAT
    raise DTypeError(f"expected a Python number, got {type(value).__name__} {value!r}")
