"""``dg.autograd.grad`` / ``dg.autograd.backward``, as ``torch.autograd``."""

from .engine import backward, grad

__all__ = ["backward", "grad"]
