"""Creation functions with PyTorch's names and defaults (Python floats -> float32)."""

from __future__ import annotations

import numpy as np

from shared_ops import get_backend, get_op
from shared_ops.ops.creation import arange_attrs

from . import rng
from .dtypes import resolve
from .record import new
from .tensors import Tensor, init_leaf


def _backend(device):
    return get_backend("cpu" if device is None else device)


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _finish(arr, be, requires_grad) -> Tensor:
    t = init_leaf(new(Tensor), arr, be)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, requires_grad=False, dtype=None, device="cpu") -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (nested lists, scalars, arrays, tensors).

    Python floats give float32 (as PyTorch); NumPy arrays keep their dtype.

    Parameters:
        data: a Python number, nested lists of numbers, a NumPy (or CuPy) array, or a tensor.
        requires_grad: record the ops applied to it, so ``backward()`` gives it a ``.grad``.
        dtype: a name (``"float64"``), a NumPy dtype or an alias (``dg.float32``); ``None``
            infers it from ``data``.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        A leaf ``Tensor`` (``is_leaf`` is True, ``grad_fn`` is None).

    Raises:
        AutogradError: ``requires_grad=True`` on an integer or bool dtype.
        DTypeError: a ``dtype`` graphcompare does not support.
        TypeError: ``data`` is not numbers (strings, objects).
        BackendError: a ``device`` that cannot be used here (no CuPy, no GPU).

    Examples:
        >>> x = dg.tensor([1.0, 2.0], requires_grad=True)
        >>> x.dtype, x.is_leaf
        (dyngraph.float32, True)
    """
    be = _backend(device)
    name = resolve(dtype)
    if isinstance(data, Tensor):
        data = data._be.to_numpy(data._data)
    if be.is_array(data) and not isinstance(data, (np.ndarray, np.generic)):
        arr = be.xp.asarray(data, copy=True)
        if name is not None:
            arr = be.xp.astype(arr, getattr(be.xp, name))
    else:
        a = np.array(data)
        if name is None and a.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
            name = "float32"
        if name is not None:
            a = a.astype(name)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"can't convert {type(data).__name__} of dtype {a.dtype} to a tensor: use numbers")
        arr = be.asarray(a)
    return _finish(arr, be, requires_grad)


def _full_like_fn(fill):
    def make(*size, dtype=None, requires_grad=False, device="cpu"):
        be = _backend(device)
        name = resolve(dtype) or "float32"
        xp = be.xp
        arr = getattr(xp, fill)(_shape(size), dtype=getattr(xp, name))
        return _finish(arr, be, requires_grad)

    make.__name__ = fill
    make.__doc__ = f"""``dg.{fill}(2, 3)`` or ``dg.{fill}((2, 3))``: a float32 tensor of {fill}.

    Parameters:
        *size: the shape, as integers or as one tuple.
        dtype: a dtype name, NumPy dtype or alias; default float32.
        requires_grad: make it a leaf that records the ops applied to it.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        A new leaf ``Tensor``{" (its contents are whatever the memory held)" if fill == "empty" else ""}.

    Raises:
        AutogradError: ``requires_grad=True`` with an integer or bool dtype.
        DTypeError: a dtype graphcompare does not support.

    Examples:
        >>> dg.{fill}(2, 3).shape, dg.{fill}((2, 3)).dtype
        ((2, 3), dyngraph.float32)
    """
    return make


zeros = _full_like_fn("zeros")
ones = _full_like_fn("ones")
empty = _full_like_fn("empty")


def full(size, fill_value, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``.

    Parameters:
        size: the shape, a tuple of ints.
        fill_value: the number; its type chooses the default dtype as in PyTorch (bool ->
            bool, int -> int64, float -> float32).
        dtype: a dtype name, NumPy dtype or alias, instead of the default.
        requires_grad: make it a leaf that records the ops applied to it.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        A new leaf ``Tensor``.

    Examples:
        >>> dg.full((2,), 7), dg.full((2,), 7.0)
        (tensor([7, 7]), tensor([7., 7.]))
    """
    be = _backend(device)
    # PyTorch's defaults: bool -> bool, int -> int64, anything else -> float32
    name = resolve(dtype) or {bool: "bool", int: "int64"}.get(type(fill_value), "float32")
    arr = be.xp.full(_shape((size,)), fill_value, dtype=getattr(be.xp, name))
    return _finish(arr, be, requires_grad)


def _random_fn(kind):
    def make(*size, dtype=None, requires_grad=False, device="cpu"):
        be = _backend(device)
        name = resolve(dtype) or "float32"
        draw = rng.uniform if kind == "rand" else rng.normal
        return _finish(be.asarray(draw(_shape(size), name)), be, requires_grad)

    make.__name__ = kind
    make.__doc__ = (
        f"``dg.{kind}(2, 3)``: {'uniform [0, 1)' if kind == 'rand' else 'standard normal'} float32 "
        "values from the generator seeded by ``dg.manual_seed`` (identical on every backend)."
        f"""

    Parameters:
        *size: the shape, as integers or as one tuple.
        dtype: a floating dtype name, NumPy dtype or alias; default float32.
        requires_grad: make it a leaf that records the ops applied to it.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        A new leaf ``Tensor``.

    Raises:
        DTypeError: a dtype graphcompare does not support.

    Examples:
        >>> dg.manual_seed(0)
        >>> a = dg.{kind}(2, 3)
        >>> dg.manual_seed(0)
        >>> bool((dg.{kind}((2, 3)) == a).all()), a.shape
        (True, (2, 3))
    """
    )
    return make


rand = _random_fn("rand")
randn = _random_fn("randn")


def _like(fn):
    def make(t, dtype=None, requires_grad=False):
        from .result_layout import like

        return like(fn(tuple(t.shape), dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device), t)

    make.__name__ = fn.__name__ + "_like"
    make.__doc__ = f"""``dg.{fn.__name__}_like(t)``: ``dg.{fn.__name__}`` with ``t``'s shape, dtype and device.

    Parameters:
        t: the tensor whose shape, dtype and device are copied.
        dtype: a dtype instead of ``t``'s.
        requires_grad: make it a leaf that records the ops applied to it.

    Returns:
        A new leaf ``Tensor``.

    Raises:
        AutogradError: ``requires_grad=True`` with an integer or bool dtype.

    Examples:
        >>> t = dg.{fn.__name__}_like(dg.ones(2, 3, dtype=dg.float64))
        >>> t.shape, t.dtype
        ((2, 3), dyngraph.float64)
    """
    return make


zeros_like, ones_like, rand_like, randn_like = (_like(f) for f in (zeros, ones, rand, randn))


def arange(start=None, end=None, step=1, *, dtype=None, requires_grad=False, device="cpu") -> Tensor:
    """``start, start + step, ...`` up to (not including) ``end``; ``dg.arange(n)`` is ``0..n-1``.

    The ``arange`` op of ``shared_ops`` (PyTorch's length, dtype rule and errors); the result is a
    leaf, as in PyTorch.

    Parameters:
        start: the first value (the end, when ``end`` is not given); default 0.
        end: the bound, excluded.
        step: the spacing, positive or negative, never zero.
        dtype: default int64 when every argument is an integer, float32 when any is a float
            (PyTorch's rule); with an integer dtype the arguments are truncated to integers.
        requires_grad: make it a leaf that records the ops applied to it (floating dtypes only).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        A new one-dimensional leaf ``Tensor`` of ``ceil((end - start) / step)`` elements.

    Raises:
        ShapeError: a zero step, a non-finite bound, or a step whose sign walks away from ``end``.
        DTypeError: an argument that is not a number, or ``dtype=bool``.

    Examples:
        >>> dg.arange(3), dg.arange(0.0, 1.0, 0.5)
        (tensor([0, 1, 2]), tensor([0.0000, 0.5000]))
        >>> dg.arange(5, 0, -2), dg.arange(3, dtype=dg.float64).dtype
        (tensor([5, 3, 1]), dyngraph.float64)
    """
    attrs = arange_attrs(start, end, step, dtype)
    be = _backend(device)
    return _finish(get_op("arange").kernel(be.xp, **attrs), be, requires_grad)


def from_numpy(a: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array ``a`` (NumPy backend).

    Parameters:
        a: a NumPy array; a change to either shows in the other.

    Returns:
        A leaf ``Tensor`` on the CPU that does not require grad.

    Examples:
        >>> a = np.zeros(2)
        >>> _ = dg.from_numpy(a).add_(1)
        >>> a
        array([1., 1.])
    """
    be = get_backend("numpy")
    return _finish(a, be, False)
