"""The autograd state of a tensor beyond its ``grad_fn``: ``.grad``, hooks, ``retain_grad``.

Kept in ``_Meta``, which only some tensors carry (leaves that require grad, tensors with hooks).
"""

from __future__ import annotations

import warnings
import weakref

from .errors import AutogradError
from .node import AccumulateGrad, RetainGrad, _Handle

NON_LEAF_GRAD_MSG = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
    "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
    "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor "
    "by mistake, make sure you access the leaf Tensor instead."
)


class _Meta:
    """What only some tensors carry: ``.grad``, the leaf's ``AccumulateGrad`` (weakly), hooks
    on its gradient, hooks after its ``.grad`` was accumulated (``post``)."""

    __slots__ = ("grad", "acc", "hooks", "post")

    def __init__(self):
        self.grad = self.acc = self.hooks = self.post = None


class HooksMixin:
    __slots__ = ()

    @property
    def grad(self):
        if self._grad_fn is not None and not self.retains_grad:
            warnings.warn(NON_LEAF_GRAD_MSG, UserWarning, stacklevel=2)
        m = self._meta
        return None if m is None else m.grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, HooksMixin):
                raise AutogradError(f"assigned grad expected to be a Tensor or None but got {type(value).__name__}")
            if tuple(value.shape) != tuple(self.shape):
                raise AutogradError(
                    f"assigned grad has data of a different size: {tuple(value.shape)} vs the tensor's {tuple(self.shape)}"
                )
        m = self._meta
        if m is None:
            if value is None:
                return
            m = self._meta = _Meta()
        m.grad = value

    @property
    def retains_grad(self) -> bool:
        fn = self._grad_fn
        return fn is not None and bool(fn.hooks) and fn.hooks[-1].__class__ is RetainGrad and fn.hooks[-1].ref() is self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (a no-op on leaves).

        Raises:
            AutogradError: the tensor does not require grad.

        Examples:
            >>> x = dg.tensor([1.0, 2.0], requires_grad=True)
            >>> y = x * x
            >>> y.retain_grad()
            >>> y.sum().backward()
            >>> y.grad
            tensor([1., 1.])
        """
        if not self._rg:
            raise AutogradError("can't retain_grad on Tensor that has requires_grad=False")
        fn = self._grad_fn
        if fn is not None and not self.retains_grad:
            if fn.hooks is None:
                fn.hooks = []
            fn.hooks.append(RetainGrad(weakref.ref(self)))

    def register_hook(self, fn):
        """``fn(grad) -> Tensor or None`` runs on this tensor's gradient before it is used;
        a returned tensor replaces the gradient. Returns a handle with ``.remove()``."""
        if not self._rg:
            raise AutogradError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            return self._grad_fn.register_prehook(fn)
        m = self._meta
        if m is None:
            m = self._meta = _Meta()
        if m.hooks is None:
            m.hooks = []
        m.hooks.append(fn)
        return _Handle(m.hooks, fn)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after backward accumulated this leaf's ``.grad`` (an optimizer
        step per parameter, as PyTorch's). Returns a handle with ``.remove()``."""
        if self._grad_fn is not None:
            raise AutogradError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._rg:
            raise AutogradError("cannot register a hook on a tensor that doesn't require gradient")
        m = self._meta
        if m is None:
            m = self._meta = _Meta()
        if m.post is None:
            m.post = []
        m.post.append(hook)
        return _Handle(m.post, hook)

    def _accumulator(self) -> AccumulateGrad:
        m = self._meta
        if m is None:
            m = self._meta = _Meta()
        r = m.acc
        acc = r() if r is not None else None
        if acc is None:
            acc = AccumulateGrad(self)
            m.acc = weakref.ref(acc)
        return acc
