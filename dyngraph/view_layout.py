"""The layout of a view as PyTorch's: its view chain replayed on the root's contiguous layout
by each view op's ``strides`` rule (``shared_ops/ops/_strides.py``), and what follows from it:
whether ``reshape`` can be a view, ``is_contiguous()``, self-overlap (an expanded view), and
PyTorch's overlap status of two tensors on one storage. Used by ``views``."""

from __future__ import annotations

import numpy as np

from shared_ops import get_op
from shared_ops.ops import _strides


class Storage:
    """The storage root of a result that PyTorch lays out otherwise than row-major
    (``result_layout``): its array, backend and version counter, and PyTorch's strides of it."""

    __slots__ = ("_data", "_be", "_ver", "strides")


def _plain(v) -> bool:
    """Whether the tensor on ``v`` (a ``ViewOf``) is its storage row-major (no view ops from a
    row-major root): a ``detach()`` of a fresh tensor."""
    return not v.rchain and v.root.__class__ is not Storage


def _layout(root, rchain):
    sizes = tuple(root._data.shape)
    lay = (sizes, root.strides if root.__class__ is Storage else _strides.contiguous(sizes), 0)
    for name, attrs in rchain:
        lay = get_op(name).strides(lay, **attrs)
    return lay


def layout(t) -> tuple:
    """``t``'s layout as PyTorch's, ``(sizes, strides, offset)`` in elements: its view chain
    replayed on the root's contiguous layout by each view op's ``strides`` rule."""
    v = t._view
    return _layout(t, ()) if v is None else _layout(v.root, v.rchain)


def reshapes_as_view(root, rchain, shape) -> bool:
    """Whether ``reshape(shape)`` of the view ``rchain`` of ``root`` can share its memory
    (ATen's ``computeStride``)."""
    if not rchain and root.__class__ is not Storage:
        return True
    return _strides.reshape(_layout(root, rchain), shape=tuple(-1 if d is None else d for d in shape)) is not None


def is_contiguous(t) -> bool:
    v = t._view
    if v is None or _plain(v):
        return True
    sizes, strides, _ = _layout(v.root, v.rchain)
    return _strides.is_contiguous(sizes, strides)


def overlaps(t) -> bool:
    """Whether two elements of ``t`` are one memory location (an expanded view)."""
    v = t._view
    if v is None or not v.rchain:
        return False
    sizes, strides, _ = _layout(v.root, v.rchain)
    return 0 not in sizes and any(s == 0 and n > 1 for s, n in zip(strides, sizes))


def _positions(t):
    """The storage position of each element of ``t`` (an int64 array of ``t``'s shape), from
    its layout; only built when an in-place op reads a tensor on its own storage."""
    return _positions_of(*layout(t))


def _positions_of(sizes, strides, offset):
    pos = np.full((), offset, dtype=np.int64)
    for n, s in zip(sizes, strides):
        pos = pos[..., None] + np.arange(n, dtype=np.int64) * s
    return pos


def _storage_index(root, pos):
    """Storage positions (PyTorch's, from the strides) as indices into the root's row-major array."""
    if root.__class__ is not Storage:
        return pos
    at = _positions_of(tuple(root._data.shape), root.strides, 0).reshape(-1)
    index = np.empty(at.size, dtype=np.int64)
    index[at] = np.arange(at.size, dtype=np.int64)
    return index[pos]


def _dense(p) -> bool:
    """PyTorch's ``is_non_overlapping_and_dense``: the elements are distinct positions filling
    one contiguous range (strides that are a permutation of a contiguous layout)."""
    return p.size == 1 or (int(p.max()) - int(p.min()) + 1 == p.size and np.unique(p).size == p.size)


def overlap(a, b) -> str:
    """PyTorch's ``get_overlap_status`` of two tensors: ``"full"`` (the same elements in the
    same places), ``"partial"``, ``"no"``, or ``"too hard"`` (one of them is not dense, e.g.
    expanded or strided; PyTorch lets those through unchecked)."""
    if a is b:
        return "full"
    ra, rb = a._view, b._view
    if (a if ra is None else ra.root) is not (b if rb is None else rb.root):
        return "no"
    pa, pb = _positions(a), _positions(b)
    if pa.size == 0 or pb.size == 0:
        return "no"
    if not (_dense(pa) and _dense(pb)):
        return "too hard"
    a0, b0 = int(pa.min()), int(pb.min())
    a1, b1 = a0 + pa.size, b0 + pb.size
    if a0 == b0 and a1 == b1:  # as PyTorch: full when the strides (size-1 dimensions' too) agree
        return "full" if layout(a)[1] == layout(b)[1] else "partial"
    return "partial" if a0 < b1 and b0 < a1 else "no"
