"""In-place ops (``add_``, ``mul_``, ``zero_``, ..., ``x += y``, ``x[i] = v``) and ``out=``.

An in-place op bumps the version counter of the tensor's storage; a value saved for backward
remembers the version it was saved at, so backward through a value changed since raises
PyTorch's error instead of a wrong gradient. On a tensor with history (grad mode on), the
op is recorded on a private copy of the old value and the tensor takes the new node as its
``grad_fn`` (PyTorch's rebase), so its own earlier consumers still see the old value.
"""

from __future__ import annotations

import numpy as np

from .errors import AutogradError, DTypeError, InplaceError, ShapeError
from .grad_mode import MODE
from . import rng

_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}
LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."


class InplaceMixin:
    __slots__ = ()

    # -- machinery ------------------------------------------------------------------
    def _bump(self) -> None:
        from .record import Version

        v = self._ver
        if v is None:
            v = self._ver = Version()
        v.v += 1

    def _write(self, arr) -> None:
        """Overwrite the storage with ``arr`` (same shape; cast to this tensor's dtype)."""
        from .tensors import _FLOAT_NAMES, dtype_name_of as _dtype_name_of

        mine, theirs = self._dtype_name, _dtype_name_of(arr.dtype)
        if mine != theirs:
            if mine not in _FLOAT_NAMES and theirs in _FLOAT_NAMES:
                raise DTypeError(f"result type {theirs} can't be cast to the desired output type {mine}")
            arr = self._be.xp.astype(arr, self._data.dtype)
        self._data[...] = arr
        self._bump()

    def _inplace(self, method: str, *args):
        from .tensors import Tensor

        recording = MODE.enabled and (self._rg or any(isinstance(a, Tensor) and a._rg for a in args))
        if recording and self._rg and self._grad_fn is None:
            raise InplaceError(LEAF_MSG)
        if not recording and method in _UFUNCS and self._be.name == "numpy" and self._direct(method, args[0]):
            return self
        src = self._snapshot() if recording else self
        res = getattr(src, method)(*args)
        if tuple(res.shape) != tuple(self.shape):
            raise ShapeError(
                f"{method}_: output with shape {tuple(self.shape)} doesn't match the broadcast shape "
                f"{tuple(res.shape)}; an in-place op cannot change the shape, use the out-of-place {method}"
            )
        self._write(res._data)
        if res._grad_fn is not None:
            self._grad_fn = res._grad_fn
            self._rg = True
        return self

    def _direct(self, method: str, other) -> bool:
        """``x -= lr * g`` on NumPy, unrecorded: the ufunc writes into the storage itself (no
        temporary, no copy back). Only while kernels are not instrumented, so that
        ``shared_ops.instrument()`` still sees every kernel; anything unusual (dtypes, shapes)
        returns False and takes the general path, which raises the clear errors."""
        from shared_ops import get_op

        from .tensors import Tensor

        op = get_op(method)
        if op.kernel is not op.forward:
            return False
        d = self._data
        o = other._data if isinstance(other, Tensor) else other
        if not (o.__class__ in (float, int) or (o.__class__ is np.ndarray and o.dtype == d.dtype)):
            return False
        try:
            _UFUNCS[method](d, o, out=d, casting="same_kind")
        except (TypeError, ValueError):
            return False
        self._bump()
        return True

    def _snapshot(self):
        """A copy of the current value with the same history (what the recorded node saves)."""
        from .tensors import Tensor, init, new

        t = init(new(Tensor), self._be.xp.asarray(self._data, copy=True), self._be)
        t._grad_fn = self._grad_fn
        t._rg = self._rg
        if self._grad_fn is None and self._rg:
            t._meta = self._meta  # the same AccumulateGrad
        return t

    def _overwrite_check(self, what: str) -> None:
        if MODE.enabled and self._rg:
            if self._grad_fn is None:
                raise InplaceError(LEAF_MSG)
            raise InplaceError(
                f"{what} on a tensor with history is not recorded by dyngraph; call it inside "
                "dg.no_grad() or on x.detach()"
            )

    # -- arithmetic -----------------------------------------------------------------
    def add_(self, other, *, alpha=1):
        return self._inplace("add", other if alpha == 1 else other * alpha)

    def sub_(self, other, *, alpha=1):
        return self._inplace("sub", other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return self._inplace("mul", other)

    def div_(self, other):
        return self._inplace("div", other)

    def clamp_(self, min=None, max=None):
        return self._inplace("clip", min, max)

    clip_ = clamp_

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # -- overwrite ------------------------------------------------------------------
    def fill_(self, value):
        self._overwrite_check("fill_()")
        self._data[...] = value._data if hasattr(value, "_data") else value
        self._bump()
        return self

    def zero_(self):
        return self.fill_(0)

    def uniform_(self, a=0.0, b=1.0):
        self._overwrite_check("uniform_()")
        self._write(self._be.asarray(rng.uniform(tuple(self.shape), self._dtype_name, a, b)))
        return self

    def normal_(self, mean=0.0, std=1.0):
        self._overwrite_check("normal_()")
        self._write(self._be.asarray(rng.normal(tuple(self.shape), self._dtype_name, mean, std)))
        return self

    def copy_(self, src):
        self._overwrite_check("copy_()")
        from .tensors import Tensor

        arr = src._data if isinstance(src, Tensor) else self._be.asarray(src)
        self._write(self._be.xp.broadcast_to(arr, tuple(self.shape)))
        return self

    def __setitem__(self, key, value):
        from .tensors import Tensor

        self._overwrite_check("item assignment")
        key = tuple(k._data if isinstance(k, Tensor) else k for k in (key if isinstance(key, tuple) else (key,)))
        if not any(k is Ellipsis for k in key) and len(key) < self.ndim:
            key = key + (Ellipsis,)  # NumPy's implicit trailing slices, spelled out for the array API
        self._data[key] = value._data if isinstance(value, Tensor) else value
        self._bump()


def _out_op(name: str, method: str):
    def f(input, other, *, out=None, **kwargs):  # kwargs: add's and sub's alpha=
        from .tensors import Tensor

        x = input if isinstance(input, Tensor) else other._as_operand(input)
        if out is None:
            return getattr(x, method)(other, **kwargs)
        if MODE.enabled and any(isinstance(a, Tensor) and a._rg for a in (input, other, out)):
            raise AutogradError(
                f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                "but one of the arguments requires grad."
            )
        res = getattr(x, method)(other, **kwargs)
        if tuple(res.shape) == tuple(out.shape):
            out._write(res._data)
        else:  # PyTorch resizes ``out``
            out._data = res._data
            out._bump()
        return out

    f.__name__ = name
    f.__doc__ = f"``dg.{name}(x, y, out=t)``: ``x.{method}(y)``, written into ``t`` when ``out`` is given."
    return f


add = _out_op("add", "add")
sub = _out_op("sub", "sub")
mul = _out_op("mul", "mul")
div = _out_op("div", "div")
