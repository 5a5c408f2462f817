"""The shared tensor surface: every operator and method of both front ends, written once.

``dyngraph.Tensor`` and ``staticgraph.Node`` both inherit ``TensorSurface`` and supply only:

- ``_apply_op(cls, op, inputs, attrs)`` (classmethod): apply a registered op to inputs of this
  kind (record a node and run the kernel, or declare a node);
- ``_const(self, value, dtype)``: a constant of this kind beside ``self``;
- ``shape``, ``dtype`` properties.

So the same model function runs in both modes, and the two cannot drift apart in what they
accept. Python scalars are weak (NEP 50): ``x * 2.0`` keeps ``x``'s float32. Inputs of
different dtypes are promoted with an explicit ``astype`` node, so every kernel sees one dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dtypes import DEFAULT_FLOAT, FLOATING, dtype_name, promoted_dtype, weak_scalar_dtype
from .errors import DTypeError, OpAttributeError
from .registry import REGISTRY, Spec, normalize_axis
from ._surface_args import _parse_index, _split_ints
from ._surface_math import MathMethods, ReductionResult  # noqa: F401 - ReductionResult is importable from here
from ._surface_shape import ShapeMethods

_SCALAR_TYPES = (bool, int, float, np.number, np.bool_)


def _no_bool_sub(x, a, b):
    if any(isinstance(v, TensorSurface) and v._dtype_name == "bool" for v in (a, b)):
        x._fail(DTypeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
            "invert a mask, use the `~` or `logical_not()` operator instead."
        ))
    return a, b


def _true_division(x, a, b):
    """PyTorch: true division of integers (or bools) gives the default float dtype."""
    others = [v for v in (a, b) if v is not x]
    other = others[0] if others else x
    floats = x._dtype_name in FLOATING or (isinstance(other, TensorSurface) and other._dtype_name in FLOATING)
    if floats or isinstance(other, float):
        return a, b
    cast = x._promoted(DEFAULT_FLOAT)
    return (cast, b) if a is x else (a, cast)


class TensorSurface(ShapeMethods, MathMethods):
    """Operators and methods shared by ``dg.Tensor`` and ``sg.Node``.

    Examples:
        >>> model = lambda x: (x * 2.0).tanh().sum()  # one function, both front ends
        >>> model(dg.ones(3)).shape, model(sg.placeholder((3,), name="x")).shape
        ((), ())
    """

    __slots__ = ()
    __array_ufunc__ = None  # numpy_array * tensor -> tensor.__rmul__
    __hash__ = object.__hash__

    # ----------------------------------------------------------------- to implement
    @classmethod
    def _apply_op(cls, op, inputs: tuple, attrs: dict):  # pragma: no cover
        raise NotImplementedError

    def _const(self, value: Any, dtype: str):  # pragma: no cover
        raise NotImplementedError

    def _fail(self, exc: Exception):
        """Raise ``exc``, an error the surface itself finds (a front end may re-class it)."""
        raise exc

    def _alias(self, x, torch_name: str):
        """``x`` unchanged, as a call PyTorch names ``torch_name`` returns it: a graph value is
        itself (no node), dyngraph makes a new view."""
        return x

    def _promoted(self, dtype: str):
        """``self`` cast to ``dtype`` for an op on mixed dtypes (the surface's implicit promotion);
        a front end that checks saved values for in-place changes checks ``self`` through it."""
        return self.astype(dtype)

    def _owned(self, x):
        """``x``, a part of what a call computed (``topk``'s first k indices), as a tensor of its
        own, as PyTorch's call returns it: a graph value is itself, dyngraph copies a view."""
        return x

    def _named(self, result, torch_name: str):
        """``result``, just made by a call PyTorch names ``torch_name`` (``t()``: ``TBackward0``)
        where the op alone would name it otherwise; a front end with grad_fn names keeps it."""
        return result

    # ----------------------------------------------------------------- plumbing
    @property
    def _dtype_name(self) -> str:
        return dtype_name(self.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def _op(self, name: str, *inputs: Any, **attrs: Any):
        return type(self)._apply_op(REGISTRY.get(name), inputs, attrs)

    def _as_operand(self, other: Any):
        """``other`` as a value of this kind: scalars weakly typed, arrays/lists as constants."""
        if isinstance(other, TensorSurface):
            return other
        if isinstance(other, _SCALAR_TYPES):
            value = other.item() if isinstance(other, (np.number, np.bool_)) else other
            return self._const(value, weak_scalar_dtype(value, self._dtype_name))
        if isinstance(other, (list, tuple)) or hasattr(other, "__array__") or hasattr(other, "__dlpack__"):
            arr = np.asarray(other) if isinstance(other, (list, tuple)) else other
            dt = getattr(arr, "dtype", None)
            name = dtype_name(dt) if dt is not None else self._dtype_name
            if isinstance(other, (list, tuple)) and name == "float64":
                name = self._dtype_name if self._dtype_name in FLOATING else name
            return self._const(arr, name)
        raise DTypeError(
            f"cannot combine a {type(self).__name__} with {type(other).__name__} {other!r}: "
            "use a number, an array, or a tensor"
        )

    def _binary(self, name: str, a: Any, b: Any):
        cls = self.__class__
        ca, cb = a.__class__, b.__class__
        # Fast paths for the two common cases: two values of this kind, or one and a Python float.
        if ca is cls and cb is cls:
            if a._dtype_name == b._dtype_name:
                return cls._apply_op(REGISTRY.get(name), (a, b), {})
        elif ca is cls and cb is float:
            da = a._dtype_name
            b = a._const(b, da if da in FLOATING else DEFAULT_FLOAT)
            if b._dtype_name == da:
                return cls._apply_op(REGISTRY.get(name), (a, b), {})
        elif cb is cls and ca is float:
            db = b._dtype_name
            a = b._const(a, db if db in FLOATING else DEFAULT_FLOAT)
            if a._dtype_name == db:
                return cls._apply_op(REGISTRY.get(name), (a, b), {})
        a = self._as_operand(a)
        b = self._as_operand(b)
        da, db = a._dtype_name, b._dtype_name
        if da != db:
            common = promoted_dtype((da, a.ndim == 0), (db, b.ndim == 0))
            a = a if da == common else a._promoted(common)
            b = b if db == common else b._promoted(common)
        return self._op(name, a, b)

    # ----------------------------------------------------------------- arithmetic
    def __add__(self, other):
        return self._binary("add", self, other)

    def __radd__(self, other):
        return self._binary("add", other, self)

    def __sub__(self, other):
        return self._binary("sub", *_no_bool_sub(self, self, other))

    def __rsub__(self, other):
        out = self._binary("sub", *_no_bool_sub(self, other, self))
        return self._named(out, "RsubBackward1") if isinstance(other, _SCALAR_TYPES) else out

    def __mul__(self, other):
        return self._binary("mul", self, other)

    def __rmul__(self, other):
        return self._binary("mul", other, self)

    def __truediv__(self, other):
        return self._binary("div", *_true_division(self, self, other))

    def __rtruediv__(self, other):
        return self._binary("div", *_true_division(self, other, self))

    def __pow__(self, other):
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            return self._op("pow_scalar", self, exponent=float(other))
        return self._binary("pow", self, other)

    def __rpow__(self, other):
        return self._binary("pow", other, self)

    def __matmul__(self, other):
        out = self._binary("matmul", self, other)
        if getattr(other, "ndim", None) == 1:  # (1, 1) and (2, 1) have names of their own (no key tuple)
            nd = self.ndim
            if nd == 1:
                return self._named(out, "DotBackward0")
            if nd == 2:
                return self._named(out, "MvBackward0")
        return out

    def __rmatmul__(self, other):
        return self._binary("matmul", other, self)

    def __neg__(self):
        return self._op("neg", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self._op("abs", self)

    # comparisons: elementwise, bool result, no gradient
    def __lt__(self, other):
        return self._binary("lt", self, other)

    def __le__(self, other):
        return self._binary("le", self, other)

    def __gt__(self, other):
        return self._binary("gt", self, other)

    def __ge__(self, other):
        return self._binary("ge", self, other)

    def __eq__(self, other):  # type: ignore[override]
        return self._binary("eq", self, other)

    def __ne__(self, other):  # type: ignore[override]
        return self._binary("ne", self, other)

    # ----------------------------------------------------------------- indexing
    def __getitem__(self, key):
        spec, arrays = _parse_index(self, key)
        if arrays and any(e[0] == "i" for e in spec):  # PyTorch: the integers select first
            first, second = _split_ints(spec, self.ndim)
            selected = self._op("getitem", self, index=first)
            return selected._op("getitem", selected, *arrays, index=second)
        return self._op("getitem", self, *arrays, index=spec)

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        n = self.shape[0]
        if n is None:
            raise TypeError("cannot iterate over a free (None) dimension; index it explicitly")
        return (self[i] for i in range(n))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        if self.shape[0] is None:
            raise TypeError("len() of a free (None) dimension is unknown until the graph runs")
        return self.shape[0]

    # ----------------------------------------------------------------- reductions
    def _reduce(self, name: str, axis, keepdims, dim, keepdim):
        if dim is not None:
            if axis is not None:
                raise OpAttributeError(f"{name}: pass axis= or dim=, not both")
            axis = dim
        if keepdim is not None:
            keepdims = keepdim
        axis = normalize_axis(name, axis, self.ndim)
        return self._op(name, self, axis=axis, keepdims=bool(keepdims))

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The sum over ``axis`` (NumPy's names) or ``dim`` (PyTorch's); default every element.

        Parameters:
            axis: a dimension or a tuple (``dim=``: the same, PyTorch's name).
            keepdims: keep the reduced dimensions with size 1 (``keepdim=``, PyTorch's name).

        Returns:
            The sum.

        Examples:
            >>> dg.arange(6.0).view(2, 3).sum(), dg.arange(6.0).view(2, 3).sum(dim=0)
            (tensor(15.), tensor([3., 5., 7.]))
        """
        return self._reduce("sum", axis, keepdims, dim, keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """The mean over ``axis``/``dim`` (as ``sum``); a float dtype is required, as in PyTorch.

        Parameters:
            axis: a dimension or a tuple (``dim=``: the same, PyTorch's name).
            keepdims: keep the reduced dimensions with size 1 (``keepdim=``, PyTorch's name).

        Returns:
            The mean.

        Examples:
            >>> dg.arange(6.0).view(2, 3).mean(1)
            tensor([1., 4.])
        """
        if self._dtype_name not in FLOATING:  # the kernel would take it: ask infer for PyTorch's error
            try:
                REGISTRY.get("mean").infer(Spec(tuple(self.shape), self._dtype_name))
            except DTypeError as exc:
                self._fail(exc)
        return self._reduce("mean", axis, keepdims, dim, keepdim)

    # -- ops added for nn (issue 16)
    from ._surface_nn import (  # noqa: E402  (class-body import: these become methods)
        __and__, __floordiv__, __invert__, __mod__, __or__, __rand__, __rfloordiv__, __rmod__, __ror__, add, all, any,
        argsort, chunk, cos, cumsum, erf, expm1, floor_divide, gather, log1p, logical_and, logical_not,
        logical_or, masked_fill, norm, prod, remainder, rsqrt, scatter_add, sin, sort, split, square, std, sub, topk,
        tril, triu, unbind, var,
    )
