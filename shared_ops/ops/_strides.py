"""PyTorch's layout rules of the view ops: each op's ``strides`` trait.

A layout is ``(sizes, strides, offset)`` in elements, as ``Tensor.size()``, ``.stride()`` and
``.storage_offset()`` give them in PyTorch. ``rule(layout, **attrs)`` returns the view's layout, or None where strides cannot express it (a ``reshape`` that must copy).
The rules follow ATen's, including its conventions for size-1 dimensions, which NumPy does
not share (``unsqueeze`` gives the new dimension the stride ``size * stride`` of the one it
goes before, NumPy 0): so ``is_contiguous`` and whether a ``view`` is allowed agree with
PyTorch's. A front end that tracks views replays them (``dyngraph.views.layout``).
"""

from __future__ import annotations

import math

from ..registry import normalize_axis, reshape_shape, transpose_perm
from . import _index


def contiguous(sizes) -> tuple:
    """The strides of a fresh tensor (a size 0 counts as 1, as ATen's)."""
    out, step = [], 1
    for d in reversed(tuple(sizes)):
        out.append(step)
        step *= max(d, 1)
    return tuple(reversed(out))


def is_contiguous(sizes, strides) -> bool:
    """ATen's ``compute_contiguous``: size-1 dimensions may have any stride."""
    if 0 in sizes:
        return True
    expected = 1
    for n, s in zip(reversed(tuple(sizes)), reversed(tuple(strides))):
        if n != 1:
            if s != expected:
                return False
            expected *= n
    return True


def _unsqueezed(sizes, strides, at):
    stride = 1 if at >= len(sizes) else sizes[at] * strides[at]
    return sizes[:at] + [1] + sizes[at:], strides[:at] + [stride] + strides[at:]


def expand_dims(layout, *, axis):
    sizes, strides, offset = layout
    n = len(sizes) + (1 if isinstance(axis, int) else len(axis))
    sizes, strides = list(sizes), list(strides)
    for a in normalize_axis("expand_dims", axis, n):  # one unsqueeze at a time, lowest first
        sizes, strides = _unsqueezed(sizes, strides, a)
    return tuple(sizes), tuple(strides), offset


def squeeze(layout, *, axis):
    sizes, strides, offset = layout
    axes = normalize_axis("squeeze", axis, len(sizes))
    if axes is None:
        axes = tuple(i for i, d in enumerate(sizes) if d == 1)
    keep = [i for i in range(len(sizes)) if i not in axes]
    return tuple(sizes[i] for i in keep), tuple(strides[i] for i in keep), offset


def transpose(layout, *, axes):
    sizes, strides, offset = layout
    perm = transpose_perm(axes, len(sizes))
    return tuple(sizes[i] for i in perm), tuple(strides[i] for i in perm), offset


def broadcast_to(layout, *, shape):
    """ATen's ``inferExpandGeometry``: an expanded (or new) dimension gets stride 0, a new one
    of size 1 the stride ``size * stride`` of the dimension after it."""
    sizes, strides, offset = layout
    out_sizes, out_strides = [0] * len(shape), [0] * len(shape)
    lead = len(shape) - len(sizes)
    for i in range(len(shape) - 1, -1, -1):
        d = i - lead
        size = sizes[d] if d >= 0 else 1
        stride = strides[d] if d >= 0 else (out_sizes[i + 1] * out_strides[i + 1] if i + 1 < len(shape) else 1)
        target = size if shape[i] in (-1, None) else shape[i]
        if size != target:
            size, stride = target, 0
        out_sizes[i], out_strides[i] = size, stride
    return tuple(out_sizes), tuple(out_strides), offset


def reshape(layout, *, shape):
    """ATen's ``computeStride``: the view's strides, or None when it needs a copy."""
    sizes, strides, offset = layout
    new = tuple(reshape_shape(tuple(sizes), tuple(shape)))
    if not sizes:
        return new, (1,) * len(new), offset
    numel = math.prod(sizes)
    if numel == 0:
        return new, (tuple(strides) if new == tuple(sizes) else contiguous(new)), offset
    out = [0] * len(new)
    view_d = len(new) - 1
    base = strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(sizes) - 1, -1, -1):
        tensor_numel *= sizes[d]
        if d == 0 or (sizes[d - 1] != 1 and strides[d - 1] != tensor_numel * base):
            while view_d >= 0 and (view_numel < tensor_numel or new[view_d] == 1):
                out[view_d] = view_numel * base
                view_numel *= new[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                base = strides[d - 1]
                tensor_numel = view_numel = 1
    if view_d != -1:
        return None
    return new, tuple(out), offset


def getitem(layout, *, index):
    """Basic indexing as ATen's ``applySlicing``, left to right: a slice scales the stride by
    its step, an integer selects, ``None`` unsqueezes before the next dimension."""
    sizes, strides, offset = layout
    out_sizes, out_strides = [], []
    rest = list(zip(sizes, strides))
    for e in _index.expand("getitem", index, len(sizes)):
        if e[0] == "n":
            out_sizes.append(1)
            out_strides.append(rest[0][0] * rest[0][1] if rest else 1)
            continue
        n, s = rest.pop(0)
        if e[0] == "i":
            offset += (e[1] % n if n else 0) * s
        else:
            start, stop, step = slice(*e[1:]).indices(n)
            out_sizes.append(len(range(start, stop, step)))
            out_strides.append(s * step)
            offset += start * s
    return tuple(out_sizes), tuple(out_strides), offset


def diagonal(layout, *, offset=0, dim1=0, dim2=1):
    """ATen's ``diagonal``: the two dimensions go, a last one comes with their strides' sum."""
    sizes, strides, at = layout
    nd = len(sizes)
    d1, d2 = dim1 % nd, dim2 % nd
    if offset >= 0:
        n = max(min(sizes[d1], sizes[d2] - offset), 0)
        at += offset * strides[d2] if n else 0
    else:
        n = max(min(sizes[d1] + offset, sizes[d2]), 0)
        at -= offset * strides[d1] if n else 0
    keep = [i for i in range(nd) if i not in (d1, d2)]
    return tuple(sizes[i] for i in keep) + (n,), tuple(strides[i] for i in keep) + (strides[d1] + strides[d2],), at
