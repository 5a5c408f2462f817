"""The reductions, elementwise functions and PyTorch-named binary methods of the shared tensor
surface (``max``, ``argmax``, ``exp``, ``softmax``, ``matmul``...): a mixin of ``TensorSurface``,
which supplies ``_op`` and ``_reduce``."""

from __future__ import annotations

import operator

import numpy as np

from .dtypes import FLOATING_SET, promoted_dtype
from .errors import OpAttributeError
from .registry import REGISTRY, normalize_axis


class ReductionResult(tuple):
    """``(values, indices)`` of ``x.max(dim)`` / ``x.min(dim)``, as ``torch.return_types.max``."""

    __slots__ = ()

    def __new__(cls, name, values, indices):
        return tuple.__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])

    def __repr__(self) -> str:
        return f"return_types(values={self[0]!r}, indices={self[1]!r})"



# The methods made by unary_method, by name (the reference lists them from here: they are made
# at run time, so a reader of the source such as griffe sees attributes, not functions).
MADE: dict = {}


def unary_method(name: str, example: str, shown: str, *, to_float: bool = False):
    """The method ``x.<name>()`` of the elementwise op ``name``, its docstring built from the
    op's declaration (``doc=`` of its ``register``) and the example given here.

    Each method is the closure ``self._op(name, self)``: the same call, and the same cost, as a
    method written out by hand.

    Args:
        name: the registered op (one input, no attributes).
        example: a ``dg.tensor`` literal the example applies the method to.
        shown: what the example prints.
        to_float: integer tensors are converted to float32 first (PyTorch's rule for ``sin``,
            ``erf``...).

    Returns:
        The method (a plain function of ``self``).
    """
    if to_float:
        def method(self):  # _floating(self), written out: one Python call fewer per call
            return self._op(name, self if self._dtype_name in FLOATING_SET else self.astype("float32"))
    else:
        def method(self):
            return self._op(name, self)
    kind = "a float value of ``self``'s shape (integers are converted to float32 first)" if to_float \
        else "a value of ``self``'s shape and dtype"
    method.__name__ = name
    method.__qualname__ = f"TensorSurface.{name}"
    method.__doc__ = (f"{REGISTRY.get(name).doc}\n\nReturns:\n    {kind[0].upper()}{kind[1:]}.\n\n"
                      f"Examples:\n    >>> dg.tensor({example}).{name}()\n    {shown}\n")
    MADE[name] = method
    return method


def binary_method(name: str, call, example: str, shown: str, note: str = ""):
    """The method ``x.<name>(other)`` of the binary elementwise op ``name``, the same as the
    operator ``call`` (``operator.mul``: ``x.mul(y)`` is ``x * y``), its docstring built from
    the op's declaration and the example given here.

    Args:
        name: the registered op.
        call: the operator it is (it goes through the tensor's own ``__mul__``...).
        example: the example's expression.
        shown: what it prints.
        note: a sentence added to the op's summary (what the surface adds to the op).

    Returns:
        The method (a plain function of ``self`` and ``other``).
    """
    def method(self, other):
        return call(self, other)
    method.__name__ = name
    method.__qualname__ = f"TensorSurface.{name}"
    summary = f"{REGISTRY.get(name).doc} {note}".rstrip()
    method.__doc__ = (f"{summary}\n\nArgs:\n    other: ``b``: a value, an array or a number (``self`` is ``a``).\n\n"
                      f"Returns:\n    The result.\n\nExamples:\n    >>> {example}\n    {shown}\n")
    MADE[name] = method
    return method


class MathMethods:
    """Reducing and elementwise methods; every method goes through ``self._op``."""

    __slots__ = ()

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """``x.max()``: the maximum. ``x.max(dim)``: ``(values, indices)`` (a named tuple, the
        first maximum's index, its gradient to that element only, as PyTorch). ``x.max(axis=...)``:
        the values only, the gradient split equally among ties (as ``torch.amax``).

        Args:
            dim: an integer dimension (values and indices), or ``None`` (every element).
            keepdim: keep the reduced dimension with size 1.
            axis: a dimension or tuple (values only; ``keepdims=``: NumPy's ``keepdim``).
            keepdims: as ``keepdim``.

        Returns:
            The maximum, or a ``ReductionResult`` ``(values, indices)`` for an integer ``dim``.

        Raises:
            OpAttributeError: both ``dim`` and ``axis`` are given.
            IndexError: ``dim`` has size 0.

        Examples:
            >>> x = dg.tensor([[1.0, 3.0], [4.0, 2.0]])
            >>> x.max(), x.max(1).indices, x.max(axis=0)
            (tensor(4.), tensor([1, 0]), tensor([4., 3.]))
        """
        return self._extremum("max", dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """As ``max``: ``x.min(dim)`` gives ``(values, indices)``; ``axis=`` the values (``torch.amin``).

        Args:
            dim: an integer dimension (values and indices), or ``None`` (every element).
            keepdim: keep the reduced dimension with size 1.
            axis: a dimension or tuple (values only).
            keepdims: as ``keepdim``.

        Returns:
            The minimum, or a ``ReductionResult`` ``(values, indices)`` for an integer ``dim``.

        Raises:
            OpAttributeError: both ``dim`` and ``axis`` are given.
            IndexError: ``dim`` has size 0.

        Examples:
            >>> dg.tensor([[1.0, 3.0], [4.0, 2.0]]).min(1)
            return_types(values=tensor([1., 2.]), indices=tensor([0, 1]))
        """
        return self._extremum("min", dim, keepdim, axis, keepdims)

    def _extremum(self, name, dim, keepdim, axis, keepdims):
        if dim is None or not isinstance(dim, (int, np.integer)):
            if dim is not None:
                axis = dim
            return self._reduce(name, axis, bool(keepdim) if keepdims is None else keepdims, None, None)
        if axis is not None:
            raise OpAttributeError(f"{name}: pass axis= or dim=, not both")
        axis = normalize_axis(name, int(dim), self.ndim)[0] if self.ndim else 0
        keep = bool(keepdim if keepdims is None else keepdims)
        if self.ndim and self.shape[axis] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {axis} to have non-zero size.")
        arg = "argmax" if name == "max" else "argmin"
        indices = self._op(arg, self, axis=axis, keepdims=keep)  # saved by the values' rule, as PyTorch's
        return ReductionResult(name, self._op(f"{name}_dim", self, indices, axis=axis, keepdims=keep), indices)

    def argmax(self, dim=None, keepdim=False):
        """Index of the first maximum (over the flattened tensor when ``dim`` is None), int64.

        Args:
            dim: the dimension, or ``None``.
            keepdim: keep it with size 1.

        Returns:
            The indices (int64).

        Examples:
            >>> dg.tensor([[1.0, 3.0], [4.0, 2.0]]).argmax(), dg.tensor([[1.0, 3.0], [4.0, 2.0]]).argmax(1)
            (tensor(2), tensor([1, 0]))
        """
        return self._arg("argmax", dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """Index of the first minimum (over the flattened tensor when ``dim`` is None), int64.

        Args:
            dim: the dimension, or ``None``.
            keepdim: keep it with size 1.

        Returns:
            The indices (int64).

        Examples:
            >>> dg.tensor([[1.0, 3.0], [4.0, 2.0]]).argmin(dim=0)
            tensor([0, 1])
        """
        return self._arg("argmin", dim, keepdim)

    def _arg(self, name, dim, keepdim):
        axis = None if dim is None else (normalize_axis(name, int(dim), self.ndim)[0] if self.ndim else 0)
        return self._op(name, self, axis=axis, keepdims=bool(keepdim))

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """``log(sum(exp(x)))`` over ``axis``/``dim`` (as ``sum``), computed without overflow.

        Args:
            axis: a dimension or a tuple (``dim=``: the same, PyTorch's name).
            keepdims: keep the reduced dimensions with size 1 (``keepdim=``).

        Returns:
            The reduced value.

        Examples:
            >>> dg.tensor([0.0, 0.0]).logsumexp()
            tensor(0.6931)
        """
        return self._reduce("logsumexp", axis, keepdims, dim, keepdim)

    # ----------------------------------------------------------------- elementwise
    exp = unary_method("exp", "[0.0, 1.0]", "tensor([1.0000, 2.7183])", to_float=True)
    log = unary_method("log", "[1.0]", "tensor([0.])", to_float=True)
    tanh = unary_method("tanh", "[0.0]", "tensor([0.])", to_float=True)
    sigmoid = unary_method("sigmoid", "[0.0]", "tensor([0.5000])", to_float=True)
    relu = unary_method("relu", "[-1.0, 2.0]", "tensor([0., 2.])")
    sqrt = unary_method("sqrt", "[4.0]", "tensor([2.])", to_float=True)
    abs = unary_method("abs", "[-1.0, 2.0]", "tensor([1., 2.])")
    neg = unary_method("neg", "[-1.0, 2.0]", "tensor([ 1., -2.])")

    def clip(self, min=None, max=None):
        """Each element limited to ``[min, max]`` (``clamp`` is the same method). The bounds are
        numbers, or tensors (broadcast with ``self``, dtypes promoted, gradients to them too,
        as PyTorch's ``ClampBackward0``), not one of each.

        Args:
            min: the lower bound, or ``None``.
            max: the upper bound, or ``None``.

        Returns:
            A value of ``self``'s shape (with tensor bounds, the broadcast shape).

        Raises:
            OpAttributeError: neither bound is given.
            TypeError: one bound is a number and the other a tensor.

        Examples:
            >>> dg.tensor([-1.0, 0.5, 2.0]).clip(0.0, 1.0)
            tensor([0.0000, 0.5000, 1.0000])
            >>> dg.tensor([-1.0, 0.5, 2.0]).clamp(dg.tensor([0.0, 0.75, 0.0]), dg.tensor(1.0))
            tensor([0.0000, 0.7500, 1.0000])
        """
        if min is None and max is None:
            raise OpAttributeError("clip: give at least one of min= and max=")
        numbers = [b is None or isinstance(b, (int, float, np.number)) for b in (min, max)]
        if not all(numbers):
            return self._clamp_tensors(min, max, numbers)
        return self._op(
            "clip", self, min=None if min is None else float(min), max=None if max is None else float(max)
        )

    clamp = clip

    def _clamp_tensors(self, lo, hi, numbers):
        if (lo is not None and numbers[0]) or (hi is not None and numbers[1]):
            kinds = " and ".join("a number" if n else type(b).__name__ for b, n in zip((lo, hi), numbers))
            raise TypeError(f"clamp(): min and max must both be tensors or both numbers (or None), got {kinds}; "
                            "make the number a tensor too")
        bounds = [None if b is None else self._as_operand(b) for b in (lo, hi)]
        given = [self] + [b for b in bounds if b is not None]
        dtype = promoted_dtype(*((v._dtype_name, v.ndim == 0) for v in given))
        x, lo, hi = (None if v is None else v if v._dtype_name == dtype else v._promoted(dtype) for v in (self, *bounds))
        stand_in = x._const(0, dtype)  # an absent bound: an input the op does not read
        return self._op("clamp", x, stand_in if lo is None else lo, stand_in if hi is None else hi,
                        lower=lo is not None, upper=hi is not None)

    def softmax(self, axis=-1, *, dim=None):
        """``exp(x) / sum(exp(x))`` along ``axis`` (``dim=``: PyTorch's name).

        Args:
            axis: the dimension (default the last).
            dim: the same, PyTorch's name.

        Returns:
            A value of ``self``'s shape.

        Examples:
            >>> dg.tensor([0.0, 0.0]).softmax()
            tensor([0.5000, 0.5000])
        """
        axis = dim if dim is not None else axis
        return self._op("softmax", self, axis=normalize_axis("softmax", axis, self.ndim)[0])

    def log_softmax(self, axis=-1, *, dim=None):
        """``log(softmax(x))``, computed stably, along ``axis`` (``dim=``: PyTorch's name).

        Args:
            axis: the dimension (default the last).
            dim: the same, PyTorch's name.

        Returns:
            A value of ``self``'s shape.

        Examples:
            >>> dg.tensor([0.0, 0.0]).log_softmax(dim=0)
            tensor([-0.6931, -0.6931])
        """
        axis = dim if dim is not None else axis
        return self._op("log_softmax", self, axis=normalize_axis("log_softmax", axis, self.ndim)[0])

    matmul = binary_method("matmul", operator.matmul, "dg.tensor([[1.0, 2.0]]).matmul(dg.tensor([[3.0], [4.0]]))",
                           "tensor([[11.]])")

    def pow(self, exponent):
        """``self ** exponent``, elementwise with broadcasting.

        Args:
            exponent: a value or a number.

        Returns:
            The result.

        Examples:
            >>> dg.tensor([2.0, 3.0]).pow(2)
            tensor([4., 9.])
        """
        return self ** exponent

    # PyTorch spellings of the binary ops (add and sub, with alpha=, come with the nn block below)
    mul = binary_method("mul", operator.mul, "dg.tensor([2.0, 3.0]).mul(2.0)", "tensor([4., 6.])")
    div = binary_method("div", operator.truediv, "dg.tensor([1.0, 3.0]).div(2.0)", "tensor([0.5000, 1.5000])",
                        "Integers give float32 (true division).")
