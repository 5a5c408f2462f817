"""dyngraph's errors: ``GraphCompareError`` subclasses that are also ``RuntimeError``.

PyTorch raises ``RuntimeError`` for every autograd misuse and for shape mismatches, so code
written for PyTorch (``except RuntimeError``) works unchanged. Messages reuse PyTorch's texts
where PyTorch has one, then say what to do.
"""

from __future__ import annotations

from shared_ops import errors as _e


class AutogradError(_e.GraphCompareError, RuntimeError):
    """Autograd used in a way it cannot follow (no grad_fn, integer dtype, non-scalar root...)."""


class FreedGraphError(AutogradError):
    """Backward through saved values already freed by an earlier backward."""


class InplaceError(AutogradError):
    """An in-place change that autograd cannot allow (a leaf, or a value saved for backward)."""


class ShapeError(_e.ShapeError, RuntimeError):
    """Shapes an op cannot combine (both shapes named). Also a ``ValueError``."""


class DTypeError(_e.DTypeError, RuntimeError):
    """A dtype an op does not accept. Also a ``TypeError``."""


def message(exc: BaseException) -> str:
    """The message of a GraphCompareError without its trailing docs pointer."""
    text = str(exc.args[0]) if exc.args else str(exc)
    return text.split("\n  (see docs/errors.md")[0]


def as_runtime(exc: BaseException) -> BaseException:
    """``exc`` re-created as the dyngraph class that is also a RuntimeError (when there is one)."""
    if isinstance(exc, RuntimeError):
        return exc
    if isinstance(exc, _e.ShapeError):
        return ShapeError(message(exc))
    if isinstance(exc, _e.DTypeError):
        return DTypeError(message(exc))
    return exc
