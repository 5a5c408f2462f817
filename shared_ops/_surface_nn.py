"""Tensor methods of the ops added for models, with PyTorch's names and arguments.

``TensorSurface`` imports these into its class body (one block at its end), so ``dg.Tensor``
and ``sg.Node`` both have them. Each is a plain function of ``self``; the ops are in
``shared_ops/ops`` (special, logical, scatter, norm, pool, random, einsum).
"""

from __future__ import annotations

import operator

from ._surface_sort import (  # noqa: F401 - TensorSurface and functions_nn take them from here
    SortResult, _dim, _floating, argsort, chunk, cumsum, gather, norm, prod, scatter_add, sort, split, std, topk,
    unbind, var,
)
from ._surface_math import binary_method, unary_method
from .errors import OpAttributeError
from .registry import normalize_axis


sin = unary_method("sin", "[0.0]", "tensor([0.])", to_float=True)
cos = unary_method("cos", "[0.0]", "tensor([1.])", to_float=True)
erf = unary_method("erf", "[0.0, 10.0]", "tensor([0., 1.])", to_float=True)
log1p = unary_method("log1p", "[0.0]", "tensor([0.])", to_float=True)
expm1 = unary_method("expm1", "[0.0]", "tensor([0.])", to_float=True)
rsqrt = unary_method("rsqrt", "[4.0]", "tensor([0.5000])", to_float=True)


def square(self):
    """``self * self``.

    Returns:
        The elementwise square.

    Examples:
        >>> dg.tensor([3.0, -2.0]).square()
        tensor([9., 4.])
    """
    return self * self


def add(self, other, *, alpha=1):
    """``self + alpha * other`` (as ``torch.add``).

    Parameters:
        other: a value, an array or a number (broadcast).
        alpha: the factor of ``other``.

    Returns:
        The sum.

    Examples:
        >>> dg.tensor([1.0, 2.0]).add(dg.tensor([1.0, 1.0]), alpha=10)
        tensor([11., 12.])
    """
    return self + (other if alpha == 1 else other * alpha)


def sub(self, other, *, alpha=1):
    """``self - alpha * other`` (as ``torch.sub``).

    Parameters:
        other: a value, an array or a number (broadcast).
        alpha: the factor of ``other``.

    Returns:
        The difference.

    Examples:
        >>> dg.tensor([1.0, 2.0]).sub(1.0, alpha=2)
        tensor([-1.,  0.])
    """
    return self - (other if alpha == 1 else other * alpha)


# ----------------------------------------------------------------- logical, integer-style


def _as_bool(x):
    return x if x._dtype_name == "bool" else x != 0


def logical_and(self, other):
    """Elementwise logical and (non-zero is true), with broadcasting.

    Parameters:
        other: a value or a number.

    Returns:
        A bool value.

    Examples:
        >>> dg.tensor([True, False]).logical_and(dg.tensor([True, True]))
        tensor([ True, False])
    """
    return self._op("logical_and", _as_bool(self), _as_bool(self._as_operand(other)))


def logical_or(self, other):
    """Elementwise logical or (non-zero is true), with broadcasting.

    Parameters:
        other: a value or a number.

    Returns:
        A bool value.

    Examples:
        >>> dg.tensor([True, False]).logical_or(dg.tensor([True, True]))
        tensor([ True,  True])
    """
    return self._op("logical_or", _as_bool(self), _as_bool(self._as_operand(other)))


def logical_not(self):
    """Elementwise logical not (non-zero is true).

    Returns:
        A bool value.

    Examples:
        >>> dg.tensor([True, False]).logical_not()
        tensor([False,  True])
    """
    return self._op("logical_not", _as_bool(self))


def __and__(self, other):
    return logical_and(self, other)


def __rand__(self, other):
    return logical_and(self._as_operand(other), self)


def __or__(self, other):
    return logical_or(self, other)


def __ror__(self, other):
    return logical_or(self._as_operand(other), self)


def __invert__(self):
    if self._dtype_name != "bool":
        raise OpAttributeError(f"~ is logical not here: it needs a bool tensor, got {self._dtype_name}")
    return logical_not(self)


floor_divide = binary_method("floor_divide", operator.floordiv, "dg.tensor([7, -7]).floor_divide(2)", "tensor([ 3, -4])")
remainder = binary_method("remainder", operator.mod, "dg.tensor([7.0, -7.0]).remainder(3)", "tensor([1., 2.])")


def __floordiv__(self, other):
    return self._binary("floor_divide", self, other)


def __rfloordiv__(self, other):
    return self._binary("floor_divide", other, self)


def __mod__(self, other):
    return self._binary("remainder", self, other)


def __rmod__(self, other):
    return self._binary("remainder", other, self)


def _bool_reduce(self, name, dim, keepdim):
    axis = None if dim is None else normalize_axis(name, dim, self.ndim)
    return self._op(name, _as_bool(self), axis=axis, keepdims=bool(keepdim))


def all(self, dim=None, keepdim=False):  # noqa: A001
    """True where every element along ``dim`` is true (default every element), as ``torch.all``;
    non-bool values count as true when non-zero.

    Parameters:
        dim: the dimension, or ``None``.
        keepdim: keep it with size 1.

    Returns:
        A bool value.

    Examples:
        >>> dg.tensor([[True, False], [True, True]]).all(1)
        tensor([False,  True])
    """
    return _bool_reduce(self, "all", dim, keepdim)


def any(self, dim=None, keepdim=False):  # noqa: A001
    """True where some element along ``dim`` is true (default every element), as ``torch.any``;
    non-bool values count as true when non-zero.

    Parameters:
        dim: the dimension, or ``None``.
        keepdim: keep it with size 1.

    Returns:
        A bool value.

    Examples:
        >>> dg.tensor([[True, False], [True, True]]).any(1)
        tensor([ True,  True])
    """
    return _bool_reduce(self, "any", dim, keepdim)


def masked_fill(self, mask, value):
    """``value`` where ``mask`` is True, else ``self`` (no gradient flows to the filled places).

    Parameters:
        mask: a bool value broadcastable to ``self``; value: the number (or value) put there.

    Returns:
        The filled copy.

    Examples:
        >>> x = dg.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> x.masked_fill(x > 2, 0.0)
        tensor([[1., 2.],
                [0., 0.]])
    """
    from .functions import where

    return where(_as_bool(self._as_operand(mask)), value, self)


def tril(self, diagonal=0):
    """The lower triangle of the last two dimensions; the rest set to zero.

    Parameters:
        diagonal: keep up to this diagonal (0: the main one, 1: one above...).

    Returns:
        A value of ``self``'s shape.

    Examples:
        >>> dg.ones(2, 2).tril()
        tensor([[1., 0.],
                [1., 1.]])
    """
    return self._op("tril", self, k=int(diagonal))


def triu(self, diagonal=0):
    """The upper triangle of the last two dimensions; the rest set to zero.

    Parameters:
        diagonal: keep from this diagonal on (0: the main one, 1: one above...).

    Returns:
        A value of ``self``'s shape.

    Examples:
        >>> dg.ones(2, 2).triu(1)
        tensor([[0., 1.],
                [0., 0.]])
    """
    return self._op("triu", self, k=int(diagonal))


METHODS = (
    "sin", "cos", "erf", "log1p", "expm1", "rsqrt", "square", "add", "sub", "logical_and", "logical_or",
    "logical_not", "__and__", "__rand__", "__or__", "__ror__", "__invert__", "floor_divide", "remainder",
    "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "all", "any", "masked_fill", "tril", "triu",
    "cumsum", "prod", "var", "std", "norm", "argsort", "sort", "topk", "gather", "scatter_add", "split", "chunk",
    "unbind",
)
