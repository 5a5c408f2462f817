"""Tensor methods of the shared surface that reduce, scan, sort and index (``prod``, ``std``,
``norm``, ``sort``, ``topk``, ``gather``, ``scatter_add``, ``split``, ``chunk``, ``unbind``...),
with PyTorch's names and arguments. As those of ``_surface_nn`` (which re-exports them), each is
a plain function of ``self`` that ``TensorSurface`` imports into its class body.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .dtypes import FLOATING_SET
from .errors import ShapeError
from .registry import normalize_axis


class SortResult(NamedTuple):
    """``x.sort()`` / ``x.topk()``: ``values`` (differentiable) and int64 ``indices``.

    Attributes:
        values: the sorted values.
        indices: where they were, int64.

    Examples:
        >>> dg.tensor([3.0, 1.0]).sort().indices
        tensor([1, 0])
    """

    values: object
    indices: object


def _dim(self, dim, name):
    return normalize_axis(name, dim, self.ndim)[0] if self.ndim else 0


def _floating(self):
    return self if self._dtype_name in FLOATING_SET else self.astype("float32")


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
    """The product over ``dim`` (default every element), as ``torch.prod``.

    Parameters:
        dim: the dimension, or ``None``.
        keepdim: keep it with size 1.

    Returns:
        The product.

    Examples:
        >>> dg.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(), dg.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(1)
        (tensor(24.), tensor([ 2., 12.]))
    """
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
    """Standard deviation: the square root of ``var`` (same arguments).

    Parameters:
        dim: the dimension(s) reduced; default all.
        correction: subtracted from the count in the denominator (1: Bessel's).
        keepdim: keep the reduced dimensions with size 1.
        unbiased: PyTorch's older switch (``True``: correction 1, ``False``: 0).

    Returns:
        The standard deviation.

    Examples:
        >>> dg.tensor([[1.0, 2.0], [3.0, 4.0]]).std(0, correction=0)
        tensor([1., 1.])
    """
    return var(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased).sqrt()


def norm(self, p=2, dim=None, keepdim=False):
    """The vector norm (as ``Tensor.norm`` / ``torch.linalg.vector_norm``).

    Parameters:
        p: the order (2: Euclidean, 1: sum of magnitudes, ``inf``: the largest).
        dim: the dimension(s) reduced; default all.
        keepdim: keep them with size 1.

    Returns:
        The norm.

    Examples:
        >>> dg.tensor([3.0, 4.0]).norm(), dg.tensor([3.0, -4.0]).norm(1)
        (tensor(5.), tensor(7.))
    """
    from .functions_nn import vector_norm

    return vector_norm(self, p, dim, keepdim)


# ----------------------------------------------------------------- sorting and indexing


def argsort(self, dim=-1, descending=False):
    """The indices that sort ``self`` along ``dim`` (stable), int64.

    Parameters:
        dim: the dimension sorted along.
        descending: largest first.

    Returns:
        The indices, of ``self``'s shape.

    Examples:
        >>> dg.tensor([3.0, 1.0, 2.0]).argsort()
        tensor([1, 2, 0])
    """
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
    return SortResult(self._op("sorted_values", self, idx, axis=axis), idx)


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
    idx = self._owned(idx[(slice(None),) * axis + (slice(0, k),)])
    return SortResult(self._op("sorted_values", self, idx, axis=axis, kind="topk"), idx)


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
    """A copy of ``self`` with ``src`` added at ``index`` along ``dim`` (as ``torch.scatter_add``):
    for ``dim=0``, ``out[index[i]] += src[i]``; repeated indices add up.

    Parameters:
        dim: the dimension indexed.
        index: int64 indices, of ``src``'s shape.
        src: the values added (cast to ``self``'s dtype).

    Returns:
        A value of ``self``'s shape.

    Examples:
        >>> dg.zeros(3).scatter_add(0, dg.tensor([0, 2, 0]), dg.tensor([1.0, 2.0, 3.0]))
        tensor([4., 0., 2.])
    """
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
    """``chunks`` pieces along ``dim`` of equal size (the last may be smaller), as ``torch.chunk``.

    Parameters:
        chunks: how many pieces at most.
        dim: the dimension split.

    Returns:
        A tuple of values.

    Examples:
        >>> dg.arange(5.0).chunk(2)
        (tensor([0., 1., 2.]), tensor([3., 4.]))
    """
    axis = _dim(self, dim, "chunk")
    n = self.shape[axis]
    return split(self, -(-n // chunks), axis)


def unbind(self, dim=0):
    """The slices along ``dim``, that dimension removed (as ``torch.unbind``).

    Parameters:
        dim: the dimension.

    Returns:
        A tuple of values, one per index along ``dim``.

    Examples:
        >>> dg.tensor([[1.0, 2.0], [3.0, 4.0]]).unbind(1)
        (tensor([1., 3.]), tensor([2., 4.]))
    """
    axis = _dim(self, dim, "unbind")
    return tuple(self[(slice(None),) * axis + (i,)] for i in range(self.shape[axis]))
