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
        shape = _shape_args(shape)
        return self._op("reshape", self, shape=reshape_shape(self.shape, shape))

    def view(self, *shape):
        return self.reshape(*shape)

    def transpose(self, *axes):
        """``transpose()`` reverses; ``transpose(d0, d1)`` swaps two dims (PyTorch);
        ``transpose((2, 0, 1))`` or three or more ints permute (NumPy)."""
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
        dims = _shape_args(dims)
        n = self.ndim
        perm = tuple(normalize_axis("permute", d, n)[0] for d in dims)
        if sorted(perm) != list(range(n)):
            raise ShapeError(f"permute: {dims} is not a permutation of the {n} dimensions of shape {self.shape}")
        return self._named(self._op("transpose", self, axes=perm), "PermuteBackward0")

    def t(self):
        if self.ndim > 2:
            raise ShapeError(f"t() expects a tensor with <= 2 dimensions, got shape {self.shape}; use transpose")
        return self._named(self.transpose(), "TBackward0") if self.ndim == 2 else self

    @property
    def T(self):
        return self.transpose()

    def squeeze(self, axis=None, *, dim=None):
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
        axis = normalize_axis("unsqueeze", dim, self.ndim + 1)[0]
        return self._op("expand_dims", self, axis=axis)

    def expand_dims(self, axis):
        return self.unsqueeze(axis)

    def broadcast_to(self, *shape):
        shape = _shape_args(shape)
        return self._op("broadcast_to", self, shape=shape)

    def expand(self, *shape):
        shape = _shape_args(shape)
        pad = len(shape) - self.ndim
        shape = tuple(self.shape[i - pad] if s == -1 else s for i, s in enumerate(shape))
        return self.broadcast_to(shape)

    def flatten(self):
        return self.reshape(-1)

    def narrow(self, dim, start, length):
        """Elements ``start .. start+length`` along ``dim`` (a view in dyngraph)."""
        d = normalize_axis("narrow", dim, self.ndim)[0]
        return self._op("getitem", self, index=(("s", None, None, None),) * d + (("s", start, start + length, None), ("e",)))

    def select(self, dim, index):
        """Element ``index`` along ``dim``, the dimension removed (a view in dyngraph)."""
        d = normalize_axis("select", dim, self.ndim)[0]
        return self._op("getitem", self, index=(("s", None, None, None),) * d + (("i", int(index)), ("e",)))

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The diagonal of the ``(dim1, dim2)`` planes, as the last dimension (a view in dyngraph)."""
        d1, d2 = (normalize_axis("diagonal", d, self.ndim)[0] for d in (dim1, dim2))
        return self._op("diagonal", self, offset=int(offset), dim1=d1, dim2=d2)

    def flip(self, *dims):
        """Reverse the order along ``dims`` (a copy; ``x[::-1]`` is not allowed, as in PyTorch)."""
        dims = _shape_args(dims)
        return self._op("flip", self, dims=tuple(normalize_axis("flip", d, self.ndim)[0] for d in dims))

    def clone(self):
        return self._op("clone", self)

    def contiguous(self):
        return self

    def astype(self, dtype):
        name = dtype_name(dtype)
        if name == self._dtype_name:
            return self
        return self._op("astype", self, dtype=name)

    def float(self):
        return self.astype("float32")

    def double(self):
        return self.astype("float64")

