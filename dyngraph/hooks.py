"""The autograd state of a tensor beyond its ``grad_fn``: ``requires_grad``, the version counter,
``.grad``, hooks, ``retain_grad``.

Kept in ``_Meta``, which only some tensors carry (leaves that require grad, tensors with hooks).
"""

from __future__ import annotations

import warnings
import weakref

from shared_ops.dtypes import FLOATING_SET

from .errors import AutogradError
from .node import AccumulateGrad, RetainGrad, _Handle
from .record import InferenceVersion

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
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True):
        """Start (or stop) recording the ops applied to this leaf, in place.

        Parameters:
            requires_grad: ``True`` to record, ``False`` to stop.

        Returns:
            ``self``.

        Raises:
            AutogradError: turning it off on a non-leaf (use ``detach()``), or turning it on
                for an integer or bool tensor.

        Examples:
            >>> dg.ones(2).requires_grad_().requires_grad
            True
        """
        if self._grad_fn is not None:
            if not requires_grad:
                raise AutogradError(
                    "you can only change requires_grad flags of leaf variables. If you want to use a "
                    "computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach()."
                )
            return self
        if requires_grad and self._dtype_name not in FLOATING_SET:
            raise AutogradError(
                "Only Tensors of floating point and complex dtype can require gradients "
                f"(this one is {self._dtype_name}; make it with dtype=dg.float32)"
            )
        self._rg = bool(requires_grad)
        return self

    @property
    def _version(self) -> int:
        """The version counter of the storage (bumped by every in-place op), as PyTorch's."""
        v = self._ver
        if v.__class__ is InferenceVersion:
            raise AutogradError("Inference tensors do not track version counter.")
        return 0 if v is None else v.v

    def is_inference(self) -> bool:
        """Made inside ``dg.inference_mode()``.

        Returns:
            ``True`` for an inference tensor (never saved for backward).

        Examples:
            >>> with dg.inference_mode():
            ...     (dg.ones(2) * 2).is_inference()
            True
        """
        return self._ver.__class__ is InferenceVersion


    @property
    def grad(self):
        if self._grad_fn is not None and not self.retains_grad:
            warnings.warn(NON_LEAF_GRAD_MSG, UserWarning, stacklevel=2)
        m = self._meta
        g = None if m is None else m.grad
        if g is not None and self._view is not None and self._grad_fn is None and g._view is None:
            from .result_layout import grad_like

            grad_like(g, self)  # a leaf laid out otherwise than row-major: PyTorch's layout contract
        return g

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
        m = self._own_meta()
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
        m = self._own_meta()
        if m.post is None:
            m.post = []
        m.post.append(hook)
        return _Handle(m.post, hook)

    def _own_meta(self) -> _Meta:
        m = self._meta
        if m is None:
            m = self._meta = _Meta()
        return m

    def _accumulator(self) -> AccumulateGrad:
        m = self._own_meta()
        r = m.acc
        acc = r() if r is not None else None
        if acc is None:
            acc = AccumulateGrad(self)
            m.acc = weakref.ref(acc)
        return acc
