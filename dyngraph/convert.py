"""Conversions of a tensor: to NumPy and Python numbers, to another device or dtype, to text."""

from __future__ import annotations

import numpy as np

from shared_ops import get_backend
from shared_ops.dtypes import FLOATING_SET

from .errors import AutogradError

_FLOAT_NAMES = FLOATING_SET


class ConvertMixin:
    __slots__ = ()

    def numpy(self, force: bool = False) -> np.ndarray:
        """The data as a NumPy array (shared with the tensor on the NumPy backend)."""
        if self._rg and not force:
            raise AutogradError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        return self._be.to_numpy(self._data)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def tolist(self):
        return self._be.to_numpy(self._data).tolist()

    def item(self):
        """The one element as a Python number."""
        a = self._be.to_numpy(self._data)
        if a.size != 1:
            raise AutogradError(f"a Tensor with {a.size} elements cannot be converted to Scalar; index one element first")
        return a.reshape(()).item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._dtype_name in _FLOAT_NAMES:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    def to(self, target=None, dtype=None, *, device=None):
        """``to("cpu")``/``to("cuda")`` moves the data (a new leaf); ``to(dg.float64)`` casts (recorded)."""
        if target is not None and not isinstance(target, str) and device is None:
            dtype, target = target, None
        t = self if dtype is None else self.astype(dtype)
        dev = device if device is not None else target
        if dev is None:
            return t
        be = get_backend(dev)
        if be is t._be:
            return t
        from .tensors import Tensor, init, new

        out = init(new(Tensor), be.asarray(t._be.to_numpy(t._data)), be)
        out._rg = t._rg
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, index: int = 0):
        return self.to(f"cuda:{index}")

    def __repr__(self) -> str:
        arr = np.asarray(self._be.to_numpy(self._data))
        body = _format_like_torch(arr)
        extra = []
        if self._dtype_name not in ("float32", "int64", "bool"):
            extra.append(f"dtype={self.dtype!r}")
        if self._be.device != "cpu":
            extra.append(f"device='{self._be.device}'")
        if self._grad_fn is not None:
            extra.append(f"grad_fn=<{self._grad_fn.name().rsplit('::', 1)[-1]}>")  # as PyTorch prints CopySlices
        elif self._rg:
            extra.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extra) + ")"


def _format_like_torch(arr: np.ndarray) -> str:
    """The array as PyTorch prints it: 4 decimals, ``1.`` for whole numbers, scientific
    notation when the magnitudes span more than 1000x (or exceed 1e8, or go below 1e-4)."""
    if arr.dtype.kind != "f":
        return np.array2string(arr, separator=", ", prefix="tensor(")
    finite = arr[np.isfinite(arr)].astype(np.float64)
    mags = np.abs(finite[finite != 0])
    whole = finite.size == 0 or bool(np.all(finite == np.ceil(finite)))
    sci = False
    if mags.size:
        hi, lo = float(mags.max()), float(mags.min())
        sci = hi > 1e8 if whole else (hi / lo > 1000.0 or hi > 1e8 or lo < 1e-4)

    def fmt(v) -> str:
        if not np.isfinite(v):
            return str(float(v))
        if sci:
            return f"{v:.4e}"
        return f"{v:.0f}." if whole else f"{v:.4f}"

    width = max((len(fmt(v)) for v in arr.ravel()[:2000]), default=0)
    return np.array2string(
        arr, separator=", ", prefix="tensor(", formatter={"float_kind": lambda v: fmt(v).rjust(width)}
    )
