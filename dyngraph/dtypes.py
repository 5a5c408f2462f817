"""dtype aliases ``dg.float32``, ``dg.float64``, ...: objects with ``.name`` that compare equal to
their name, to NumPy dtypes and to each other (as ``torch.float32`` reads)."""

from __future__ import annotations

import numpy as np

from shared_ops import dtype_name
from shared_ops.dtypes import FLOATING


class DType:
    __slots__ = ("name", "is_floating_point", "itemsize")

    def __init__(self, name: str):
        self.name = name
        self.is_floating_point = name in FLOATING
        self.itemsize = np.dtype(name).itemsize

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return other.name == self.name
        try:
            return dtype_name(other) == self.name
        except Exception:
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"dyngraph.{self.name}"

    __str__ = __repr__


NAMES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
BY_NAME = {n: DType(n) for n in NAMES}


def of_array_dtype(dt) -> DType:
    """The alias for a backend array's dtype (NumPy, CuPy or array-api-strict)."""
    from .node import dtype_name_of

    return BY_NAME.get(dtype_name_of(dt)) or DType(dtype_name_of(dt))


def resolve(dtype) -> str | None:
    """A user's dtype (name, NumPy dtype, alias) as a name; None stays None."""
    return None if dtype is None else dtype_name(dtype)
