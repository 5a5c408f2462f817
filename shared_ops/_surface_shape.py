"""The shape methods of the shared tensor surface (``reshape``, ``transpose``, ``permute``,
``squeeze``, views such as ``narrow``/``select``/``diagonal``, ``astype``): a mixin of
``TensorSurface``, which supplies ``_op``, ``_named`` and ``_alias``."""

from __future__ import annotations

from .dtypes import dtype_name
from .errors import ShapeError
from .registry import normalize_axis, reshape_shape
from ._surface_args import _shape_args


class ShapeMethods:
    """Reshaping, permuting and viewing; every method goes through ``self._op``."""

    __slots__ = ()

    def reshape(self, *shape):
        """The same elements in a new shape; one size may be -1 (inferred).

        Parameters:
            *shape: the sizes, as integers or one tuple.

        Returns:
            A value of that shape (a view in dyngraph when the data allows it).

        Examples:
            >>> dg.zeros(5, 10, 15).reshape(50, -1).shape
            (50, 15)
        """
        shape = _shape_args(shape)
        return self._op("reshape", self, shape=reshape_shape(self.shape, shape))

    def view(self, *shape):
        """``reshape`` under PyTorch's name: ``x.view(-1, 15)``.

        Parameters:
            *shape: the sizes, as integers or one tuple; one may be -1.

        Returns:
            A value of that shape.

        Examples:
            >>> dg.zeros(5, 10, 15).view(-1, 15).shape
            (50, 15)
        """
        return self.reshape(*shape)

    def transpose(self, *axes):
        """``transpose()`` reverses; ``transpose(d0, d1)`` swaps two dims (PyTorch);
        ``transpose((2, 0, 1))`` or three or more ints permute (NumPy).

        Parameters:
            *axes: nothing, two dimensions, or a permutation.

        Returns:
            The transposed value.

        Examples:
            >>> x = dg.zeros(5, 10, 15)
            >>> x.transpose(0, 2).shape, x.transpose().shape
            ((15, 10, 5), (15, 10, 5))
        """
        n = self.ndim
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            perm = tuple(axes[0])
        elif not axes:
            perm = tuple(range(n))[::-1]
        elif len(axes) == 2:
            d0, d1 = (normalize_axis("transpose", a, n)[0] for a in axes)
            perm = list(range(n))
            perm[d0], perm[d1] = perm[d1], perm[d0]
            perm = tuple(perm)
        else:
            perm = tuple(axes)
        out = self.permute(*perm)
        return self._named(out, "TransposeBackward0") if len(axes) == 2 else out

    def permute(self, *dims):
        """Reorder the dimensions: dimension ``k`` of the result is ``dims[k]`` of ``self``.

        Parameters:
            *dims: a permutation of ``range(ndim)``, as integers or one tuple.

        Returns:
            The permuted value.

        Raises:
            ShapeError: ``dims`` is not a permutation.

        Examples:
            >>> dg.zeros(5, 10, 15).permute(2, 0, 1).shape
            (15, 5, 10)
        """
        dims = _shape_args(dims)
        n = self.ndim
        perm = tuple(normalize_axis("permute", d, n)[0] for d in dims)
        if sorted(perm) != list(range(n)):
            raise ShapeError(f"permute: {dims} is not a permutation of the {n} dimensions of shape {self.shape}")
        return self._named(self._op("transpose", self, axes=perm), "PermuteBackward0")

    def t(self):
        """The transpose of a matrix (0-d and 1-d values are returned as they are).

        Returns:
            The transposed value.

        Raises:
            ShapeError: more than two dimensions (use ``transpose``).

        Examples:
            >>> dg.arange(6.0).view(2, 3).t().shape
            (3, 2)
        """
        if self.ndim > 2:
            raise ShapeError(f"t() expects a tensor with <= 2 dimensions, got shape {self.shape}; use transpose")
        return self._named(self.transpose(), "TBackward0") if self.ndim == 2 else self

    @property
    def T(self):
        """``transpose()``: every dimension reversed."""
        return self.transpose()

    def squeeze(self, axis=None, *, dim=None):
        """Drop dimensions of size 1 (all, or those of ``axis``; other sizes are kept, as PyTorch).

        Parameters:
            axis: a dimension or a tuple; default every size-1 dimension.
            dim: PyTorch's name for ``axis``.

        Returns:
            The squeezed value.

        Examples:
            >>> dg.zeros(1, 3, 1).squeeze().shape, dg.zeros(1, 3, 1).squeeze(0).shape
            ((3,), (3, 1))
        """
        axis = dim if dim is not None else axis
        if axis is None:
            axes = tuple(i for i, d in enumerate(self.shape) if d == 1)
        else:
            axes = normalize_axis("squeeze", axis, self.ndim)
            axes = tuple(a for a in axes if self.shape[a] == 1)  # PyTorch: non-1 dims are kept
        if not axes:  # nothing to squeeze: a new view, as PyTorch's, in front ends that have views
            return self._alias(self, "SqueezeBackward0" if axis is None else "SqueezeBackward1")
        out = self._op("squeeze", self, axis=axes)
        return self._named(out, "SqueezeBackward0") if axis is None else out

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 at ``dim``.

        Parameters:
            dim: its position in the result (negative counts from the end).

        Returns:
            A value with one more dimension.

        Examples:
            >>> dg.zeros(3).unsqueeze(0).shape
            (1, 3)
        """
        axis = normalize_axis("unsqueeze", dim, self.ndim + 1)[0]
        return self._op("expand_dims", self, axis=axis)

    def expand_dims(self, axis):
        """``unsqueeze`` under NumPy's name.

        Parameters:
            axis: the new dimension's position.

        Returns:
            A value with one more dimension.

        Examples:
            >>> dg.zeros(3).expand_dims(1).shape
            (3, 1)
        """
        return self.unsqueeze(axis)

    def broadcast_to(self, *shape):
        """Broadcast to ``shape`` (NumPy's rules); the gradient sums back.

        Parameters:
            *shape: the target shape, as integers or one tuple.

        Returns:
            The broadcast value.

        Examples:
            >>> dg.zeros(3).broadcast_to(2, 3).shape
            (2, 3)
        """
        shape = _shape_args(shape)
        return self._op("broadcast_to", self, shape=shape)

    def expand(self, *shape):
        """``broadcast_to`` under PyTorch's name; -1 keeps a dimension's size.

        Parameters:
            *shape: the target shape; -1 for "as it is".

        Returns:
            The expanded value.

        Examples:
            >>> dg.zeros(3, 1).expand(-1, 4).shape
            (3, 4)
        """
        shape = _shape_args(shape)
        pad = len(shape) - self.ndim
        shape = tuple(self.shape[i - pad] if s == -1 else s for i, s in enumerate(shape))
        return self.broadcast_to(shape)

    def flatten(self):
        """All elements in one dimension (``reshape(-1)``).

        Returns:
            A 1-d value.

        Examples:
            >>> dg.arange(6.0).view(2, 3).flatten()
            tensor([0., 1., 2., 3., 4., 5.])
        """
        return self.reshape(-1)

    def narrow(self, dim, start, length):
        """Elements ``start .. start+length`` along ``dim`` (a view in dyngraph).

        Parameters:
            dim: the dimension.
            start: the first index.
            length: how many elements.

        Returns:
            The slice, with ``dim`` of size ``length``.

        Raises:
            IndexError: ``start`` is outside ``[-size, size]``.
            ShapeError: ``start + length`` exceeds the dimension's size.

        Examples:
            >>> dg.arange(6.0).view(2, 3).narrow(1, 1, 2)
            tensor([[1., 2.],
                    [4., 5.]])
        """
        d = normalize_axis("narrow", dim, self.ndim)[0]
        n = self.shape[d]
        if n is not None:  # PyTorch's checks; a negative start counts from the end
            if not -n <= start <= n:
                raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
            start = start + n if start < 0 else start
            if start + length > n:
                self._fail(ShapeError(f"start ({start}) + length ({length}) exceeds dimension size ({n})."))
        return self._op("getitem", self, index=(("s", None, None, None),) * d + (("s", start, start + length, None), ("e",)))

    def select(self, dim, index):
        """Element ``index`` along ``dim``, the dimension removed (a view in dyngraph).

        Parameters:
            dim: the dimension.
            index: the position along it.

        Returns:
            A value with one dimension fewer; ``x.select(1, 0)`` is ``x[:, 0]``.

        Examples:
            >>> dg.arange(6.0).view(2, 3).select(1, 0)
            tensor([0., 3.])
        """
        d = normalize_axis("select", dim, self.ndim)[0]
        return self._op("getitem", self, index=(("s", None, None, None),) * d + (("i", int(index)), ("e",)))

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The diagonal of the ``(dim1, dim2)`` planes, as the last dimension (a view in dyngraph).

        Parameters:
            offset: above (positive) or below (negative) the main diagonal.
            dim1: the first dimension of the planes.
            dim2: the second.

        Returns:
            The diagonal elements.

        Examples:
            >>> dg.arange(9.0).view(3, 3).diagonal()
            tensor([0., 4., 8.])
        """
        d1, d2 = (normalize_axis("diagonal", d, self.ndim)[0] for d in (dim1, dim2))
        return self._op("diagonal", self, offset=int(offset), dim1=d1, dim2=d2)

    def flip(self, *dims):
        """Reverse the order along ``dims`` (a copy; ``x[::-1]`` is not allowed, as in PyTorch).

        Parameters:
            *dims: the dimensions to reverse, as integers or one tuple.

        Returns:
            The flipped copy.

        Examples:
            >>> dg.arange(6.0).view(2, 3).flip(1)
            tensor([[2., 1., 0.],
                    [5., 4., 3.]])
        """
        dims = _shape_args(dims)
        return self._op("flip", self, dims=tuple(normalize_axis("flip", d, self.ndim)[0] for d in dims))

    def clone(self):
        """A copy (its own storage in dyngraph); the gradient passes through.

        Returns:
            The copy.

        Examples:
            >>> dg.tensor([1.0, 2.0]).clone()
            tensor([1., 2.])
        """
        return self._op("clone", self)

    def contiguous(self):
        """``self``: values here are always laid out as their kernels need (PyTorch's name, kept).

        Returns:
            ``self``.

        Examples:
            >>> x = dg.ones(2); x.contiguous() is x
            True
        """
        return self

    def astype(self, dtype):
        """Convert to ``dtype`` (``self`` when it already is); the gradient converts back.

        Parameters:
            dtype: a dtype, its name, or a NumPy dtype.

        Returns:
            The converted value.

        Examples:
            >>> dg.tensor([1.5, 2.5]).astype("int64")
            tensor([1, 2])
        """
        name = dtype_name(dtype)
        if name == self._dtype_name:
            return self
        return self._op("astype", self, dtype=name)

    def float(self):
        """``astype("float32")``.

        Returns:
            The float32 value.

        Examples:
            >>> dg.tensor([1, 2]).float()
            tensor([1., 2.])
        """
        return self.astype("float32")

    def double(self):
        """``astype("float64")``.

        Returns:
            The float64 value.

        Examples:
            >>> dg.tensor([1, 2]).double().dtype
            dyngraph.float64
        """
        return self.astype("float64")

