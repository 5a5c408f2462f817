"""Tensor methods of the ops added for models, with PyTorch's names and arguments.

``TensorSurface`` imports these into its class body (one block at its end), so ``dg.Tensor``
and ``sg.Node`` both have them. Each is a plain function of ``self``; the ops are in
``shared_ops/ops`` (special, logical, scatter, norm, pool, random, einsum).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .dtypes import FLOATING
from .errors import OpAttributeError, ShapeError
from .registry import normalize_axis


class SortResult(NamedTuple):
    """``x.sort()`` / ``x.topk()``: ``values`` (differentiable) and int64 ``indices``."""

    values: object
    indices: object


def _dim(self, dim, name):
    return normalize_axis(name, dim, self.ndim)[0] if self.ndim else 0


def _floating(self):
    return self if self._dtype_name in FLOATING else self.astype("float32")


def _unary(name):
    def method(self):
        return self._op(name, _floating(self))

    method.__name__ = name
    method.__doc__ = f"""Elementwise ``{name}`` (as ``torch.{name}``); integers are converted to float32 first.

    Returns:
        A float value of ``self``'s shape.

    Examples:
        >>> dg.tensor([1.0]).{name}().shape
        (1,)
    """
    return method


sin, cos, erf, log1p, expm1, rsqrt = (_unary(n) for n in ("sin", "cos", "erf", "log1p", "expm1", "rsqrt"))


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
    return self._op("logical_and", _as_bool(self), _as_bool(self._as_operand(other)))


def logical_or(self, other):
    return self._op("logical_or", _as_bool(self), _as_bool(self._as_operand(other)))


def logical_not(self):
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


def floor_divide(self, other):
    return self._binary("floor_divide", self, other)


def remainder(self, other):
    return self._binary("remainder", self, other)


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
    return _bool_reduce(self, "all", dim, keepdim)


def any(self, dim=None, keepdim=False):  # noqa: A001
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
    return self._op("tril", self, k=int(diagonal))


def triu(self, diagonal=0):
    return self._op("triu", self, k=int(diagonal))


# ----------------------------------------------------------------- reductions and scans


def cumsum(self, dim):
    """Running sums along ``dim``.

    Parameters:
        dim: the dimension summed along.

    Returns:
        A value of ``self``'s shape.

    Examples:
        >>> dg.tensor([[1.0, 2.0], [3.0, 4.0]]).cumsum(0)
        tensor([[1., 2.],
                [4., 6.]])
    """
    return self._op("cumsum", self, axis=_dim(self, dim, "cumsum"))


def prod(self, dim=None, keepdim=False):
    axis = None if dim is None else _dim(self, dim, "prod")
    return self._op("prod", self, axis=axis, keepdims=bool(keepdim))


def var(self, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """Variance with ``correction`` (1: Bessel's, as ``torch.var``); ``unbiased=False`` is 0.

    Parameters:
        dim: the dimension(s) reduced; default all.
        correction: subtracted from the count in the denominator.
        keepdim: keep the reduced dimensions with size 1.
        unbiased: PyTorch's older switch (``True``: correction 1, ``False``: 0).

    Returns:
        The variance.

    Raises:
        ShapeError: a reduced dimension is free (``None``) in a static graph.

    Examples:
        >>> dg.tensor([[1.0, 2.0], [3.0, 4.0]]).var()
        tensor(1.6667)
    """
    if unbiased is not None:
        correction = 1 if unbiased else 0
    x = _floating(self)
    axes = tuple(range(x.ndim)) if dim is None else normalize_axis("var", dim, x.ndim)
    n = math.prod(x.shape[a] for a in axes) if None not in [x.shape[a] for a in axes] else None
    if n is None:
        raise ShapeError("var: the reduced dimensions must have known sizes")
    c = x - x.mean(axis=axes, keepdims=True)
    return (c * c).sum(axis=axes, keepdims=keepdim) / float(max(n - correction, 0))


def std(self, dim=None, *, correction=1, keepdim=False, unbiased=None):
    return var(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased).sqrt()


def norm(self, p=2, dim=None, keepdim=False):
    """The vector norm (as ``Tensor.norm`` / ``torch.linalg.vector_norm``)."""
    from .functions_nn import vector_norm

    return vector_norm(self, p, dim, keepdim)


# ----------------------------------------------------------------- sorting and indexing


def argsort(self, dim=-1, descending=False):
    return self._op("argsort", self, axis=_dim(self, dim, "argsort"), descending=bool(descending))


def sort(self, dim=-1, descending=False, stable=False):
    """``(values, indices)``; ties keep their order (a stable sort, whatever ``stable`` says).

    Parameters:
        dim: the dimension sorted along; descending: largest first; stable: accepted (always stable).

    Returns:
        ``SortResult(values, indices)``.

    Examples:
        >>> dg.tensor([3.0, 1.0, 2.0]).sort()
        SortResult(values=tensor([1., 2., 3.]), indices=tensor([1, 2, 0]))
    """
    axis = _dim(self, dim, "sort")
    idx = self._op("argsort", self, axis=axis, descending=bool(descending))
    return SortResult(self._op("gather", self, idx, axis=axis), idx)


def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """The ``k`` largest (``largest=False``: smallest) along ``dim``: ``(values, indices)``.

    Parameters:
        k: how many; dim: the dimension; largest: the largest or the smallest; sorted: accepted (always sorted).

    Returns:
        ``SortResult(values, indices)``.

    Raises:
        ShapeError: ``k`` outside ``0 .. size``.

    Examples:
        >>> dg.tensor([3.0, 1.0, 2.0]).topk(2)
        SortResult(values=tensor([3., 2.]), indices=tensor([0, 2]))
    """
    axis = _dim(self, dim, "topk")
    n = self.shape[axis]
    if n is not None and not 0 <= k <= n:
        raise ShapeError(f"topk: k={k} is out of range for dimension {axis} of size {n}")
    idx = self._op("argsort", self, axis=axis, descending=bool(largest))
    idx = idx[(slice(None),) * axis + (slice(0, k),)]
    return SortResult(self._op("gather", self, idx, axis=axis), idx)


def gather(self, dim, index):
    """``out[i][j] = self[i][index[i][j]]`` for ``dim=1`` (as ``torch.gather``).

    Parameters:
        dim: the dimension indexed; index: int64 indices, of ``self``'s number of dimensions.

    Returns:
        A value of ``index``'s shape.

    Examples:
        >>> dg.tensor([[1.0, 2.0], [3.0, 4.0]]).gather(1, dg.tensor([[1], [0]]))
        tensor([[2.],
                [3.]])
    """
    index = self._as_operand(index)
    return self._op("gather", self, index, axis=_dim(self, dim, "gather"))


def scatter_add(self, dim, index, src):
    index, src = self._as_operand(index), self._as_operand(src)
    if src._dtype_name != self._dtype_name:
        src = src.astype(self._dtype_name)
    return self._op("scatter_add", self, index, src, axis=_dim(self, dim, "scatter_add"))


def split(self, split_size_or_sections, dim=0):
    """Pieces along ``dim``: of size ``split_size`` (the last may be smaller) or of the given sizes.

    Parameters:
        split_size_or_sections: one size, or a list of sizes adding up to the dimension.
        dim: the dimension split.

    Returns:
        A tuple of values.

    Raises:
        ShapeError: sections that do not add up, or a size split of a free dimension.

    Examples:
        >>> dg.arange(5.0).split(2)
        (tensor([0., 1.]), tensor([2., 3.]), tensor([4.]))
    """
    axis = _dim(self, dim, "split")
    n = self.shape[axis]
    if isinstance(split_size_or_sections, int):
        if n is None:
            raise ShapeError("split: cannot split a free (None) dimension by size")
        step = split_size_or_sections
        sizes = [min(step, n - s) for s in range(0, n, step)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if n is not None and sum(sizes) != n:
            raise ShapeError(f"split: sections {sizes} do not add up to dimension {axis} of size {n}")
    out, start = [], 0
    for s in sizes:
        out.append(self[(slice(None),) * axis + (slice(start, start + s),)])
        start += s
    return tuple(out)


def chunk(self, chunks, dim=0):
    axis = _dim(self, dim, "chunk")
    n = self.shape[axis]
    return split(self, -(-n // chunks), axis)


def unbind(self, dim=0):
    axis = _dim(self, dim, "unbind")
    return tuple(self[(slice(None),) * axis + (i,)] for i in range(self.shape[axis]))


METHODS = (
    "sin", "cos", "erf", "log1p", "expm1", "rsqrt", "square", "add", "sub", "logical_and", "logical_or",
    "logical_not", "__and__", "__rand__", "__or__", "__ror__", "__invert__", "floor_divide", "remainder",
    "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "all", "any", "masked_fill", "tril", "triu",
    "cumsum", "prod", "var", "std", "norm", "argsort", "sort", "topk", "gather", "scatter_add", "split", "chunk",
    "unbind",
)
