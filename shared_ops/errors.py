"""Error classes of graphcompare, shared by every package.

Each class has a section on the docs' errors page (``docs/errors.md``); the anchor is the
lower-cased class name, and every message ends by pointing there. A message says what was
wrong (the op, the shapes, the dtypes) and what to do about it.
"""

from __future__ import annotations


class GraphCompareError(Exception):
    """Base class of every error raised on purpose by graphcompare."""

    def __init__(self, message: str):
        anchor = type(self).__name__.lower()
        super().__init__(f"{message}\n  (see docs/errors.md#{anchor})")


class ShapeError(GraphCompareError, ValueError):
    """Input shapes that an op cannot combine (both shapes are named in the message)."""


class DTypeError(GraphCompareError, TypeError):
    """A dtype an op does not accept, or a value that is not a numeric array."""


class AxisError(GraphCompareError, ValueError):
    """An axis out of range for the input's rank, or repeated."""


class UnknownOpError(GraphCompareError, KeyError):
    """An op name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class OpAttributeError(GraphCompareError, TypeError):
    """A missing, unexpected, or unhashable attribute passed to an op."""


class BackendError(GraphCompareError, RuntimeError):
    """A backend that cannot be used here (CuPy not installed, no CUDA device, ...)."""


class DeviceError(GraphCompareError, RuntimeError):
    """Arrays on different devices mixed in one op."""


class RegistryError(GraphCompareError, ValueError):
    """An op registered twice, or registered with an incomplete declaration."""
