"""The fuzzer's draws that need a look at PyTorch's side (``graphcompare.torchfuzz``): which
operand PyTorch would read unchecked from the memory it writes, which setitem PyTorch turns
into an integer tensor that requires grad, and small helpers of the rules."""

from __future__ import annotations

import numpy as np


def _literal(values: np.ndarray) -> str:
    return repr(values.tolist())


def _broadcasts(src: tuple, dst: tuple) -> bool:
    return len(src) <= len(dst) and all(s in (1, d) for s, d in zip(src[::-1], dst[::-1]))


def _positions(t) -> np.ndarray:
    """The storage positions of a torch tensor's elements (from its offset and strides)."""
    pos = np.full((), t.storage_offset(), dtype=np.int64)
    for n, s in zip(t.shape, t.stride()):
        pos = pos[..., None] + np.arange(n, dtype=np.int64) * s
    return pos


def _dense(p: np.ndarray) -> bool:
    return p.size <= 1 or (int(p.max()) - int(p.min()) + 1 == p.size and np.unique(p).size == p.size)


def order_dependent(dst, src, same_shape_only: bool = False) -> bool:
    """Whether PyTorch would write ``dst`` while reading ``src`` from the same memory in a way
    dyngraph does not reproduce, so that the fuzzer clones the operand of such a line:

    - unchecked: PyTorch checks only dense tensors (``get_overlap_status`` answers "too hard"
      for an expanded or strided one), and ``x[k] = v`` with ``v`` of another shape copies from
      ``v`` expanded. The result then depends on the order PyTorch's loops visit the elements
      (PyTorch leaves it unspecified; dyngraph reads the operand as it was)."""
    torch = __import__("torch")
    if not isinstance(src, torch.Tensor) or src.numel() == 0 or dst.numel() == 0:
        return False
    if src.untyped_storage().data_ptr() != dst.untyped_storage().data_ptr():
        return False
    a, b = _positions(dst), _positions(src)
    if not np.intersect1d(a, b).size:
        return False
    unchecked = not (_dense(a) and _dense(b))
    if same_shape_only:  # setitem: a 0-d value is a fill (read first), another shape an expanded copy
        unchecked = unchecked or (src.ndim > 0 and tuple(src.shape) != tuple(dst.shape))
    return unchecked


def layout(t) -> tuple:
    """A tensor's layout as PyTorch shows it (dyngraph's and PyTorch's must agree)."""
    return tuple(t.stride()), t.storage_offset(), t.is_contiguous()


def _view_with_history(t) -> bool:
    """A view whose base has autograd history: a write through it rewrites the base's history."""
    return t._base is not None and t._base.requires_grad and not t._base.is_leaf


def fills_an_integer_with_grad(region, value) -> bool:
    """Whether ``x[k] = value`` is PyTorch's ``fill_`` (a 0-d value for a region of another
    shape) of an integer or bool region with a value that requires grad. PyTorch then marks the
    integer tensor as requiring grad (``FillBackward3``), and every later op on it raises
    "Autograd not support dtype: Long"; dyngraph keeps integers out of autograd, as PyTorch's
    ``copy_`` does. The fuzzer detaches such a value rather than compare that state."""
    return (not region.dtype.is_floating_point and value.requires_grad and value.ndim == 0
            and tuple(region.shape) != ())
