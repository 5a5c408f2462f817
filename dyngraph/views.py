"""Views as PyTorch has them: storage, version counter and history shared with a base.

A tensor made by an op that declares ``view_of`` (``shared_ops``: slicing, ``reshape``,
``transpose``, ``squeeze``, ``expand``, ``diagonal``...) from one input is a view. Its
``_view`` (a ``ViewOf``) names two things, tracked explicitly on every backend (never by
asking the array library whether memory is shared):

- the **storage root** (``root``, ``rchain``): the tensor that owns the memory and the chain
  of view ops from it. Every write goes to the root's array (``write``) and every other live
  tensor on that storage re-reads its data by replaying its chain, so a view and its base
  agree on CuPy and array-api-strict exactly as on NumPy. They share one ``Version``, which
  also holds weak references to the live tensors on the storage.
- the **autograd base** (``base``, ``chain``): what an in-place op through the view rewrites.
  ``rebase`` records the base's new value as ``view_scatter(base, new_view)`` (PyTorch's
  ``CopySlices``) and gives every live view of the base the history ``chain(new base)``, so
  gradients through the base and through each view are right. ``detach()`` starts a new
  autograd base on the same storage.

Strides are not kept; when a question needs them (can ``reshape`` be a view? does a view
overlap itself? ``stride()``, ``is_contiguous()``) the chain is replayed on the root's layout
by each view op's ``strides`` rule (``shared_ops/ops/_strides.py``, ATen's rules, its size-1
conventions included). The root is taken to be contiguous, as a fresh PyTorch result is.
"""

from __future__ import annotations

import math
import weakref
from weakref import ref

import numpy as np

from shared_ops import array_ops, get_op
from shared_ops.ops.views import chain_step, replay
from .record import Version

from .errors import AutogradError, InplaceError
from .grad_mode import MODE
from .view_layout import (  # noqa: F401  (views' API)
    _plain, _positions, _storage_index, is_contiguous, layout, overlap, overlaps, reshapes_as_view,
)


VIEW_OF_LEAF_MSG = "a view of a leaf Variable that requires grad is being used in an in-place operation."
NO_GRAD_VIEW_MSG = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given "
    "that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
    "moving both the view and the inplace either both inside the no_grad block (if you don't want "
    "the inplace to be tracked) or both outside (if you want the inplace to be tracked)."
)
OVERLAP_MSG = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation."
)
PARTIAL_OVERLAP_MSG = (
    "unsupported operation: some elements of the input tensor and the written-to tensor refer to a "
    "single memory location. Please clone() the tensor before performing the operation."
)
NOT_VIEWABLE_MSG = (
    "view size is not compatible with input tensor's size and stride (at least one dimension spans "
    "across two contiguous subspaces). Use .reshape(...) instead."
)


new = object.__new__


class ViewOf:
    """Where a view's data and history come from (see the module docstring).

    ``base`` is None for ``detach()``: a tensor on shared storage that is its own autograd base.
    """

    __slots__ = ("root", "rchain", "base", "chain", "no_grad")


def track(t, src, op, attrs) -> None:
    """``t = op(src)`` where ``op`` declares ``view_of``: make ``t`` a view of ``src``'s storage
    (or, for a ``reshape`` that strides cannot express, a copy, as PyTorch's ``reshape``).
    A chain's steps are ``(op name, attrs dict)``; ``hashable`` makes an attribute of one."""
    step = (op.name, attrs)
    v = new(ViewOf)
    sv = src._view
    if sv is None:
        root = v.root = v.base = src
        v.rchain = v.chain = (step,)
    else:
        root = sv.root
        if op.name == "reshape" and not _plain(sv) and not reshapes_as_view(root, sv.rchain, attrs["shape"]):
            t._data = t._be.xp.asarray(t._data, copy=True)  # its own storage: never the root's memory
            return
        v.root = root
        v.rchain = sv.rchain + (step,)
        if sv.base is None:  # a view of a detach(): that is its base
            v.base, v.chain = src, (step,)
        else:
            v.base, v.chain = sv.base, sv.chain + (step,)
    v.no_grad = not MODE.enabled
    t._view = v
    ver = root._ver
    if ver is None:
        ver = root._ver = Version()
    t._ver = ver
    refs = ver.views
    if refs is None:
        ver.views = [ref(t)]
    else:
        refs.append(ref(t))
        _bound(ver, refs)


def hashable(chain) -> tuple:
    """A chain as an op attribute (``view_scatter``'s ``chain``)."""
    return tuple(chain_step(name, attrs) for name, attrs in chain)


def detached(t, src) -> None:
    """``t = src.detach()``: same storage, its own autograd history (none)."""
    sv = src._view
    v = ViewOf()
    v.root, v.rchain = (src, ()) if sv is None else (sv.root, sv.rchain)
    v.base, v.chain, v.no_grad = None, (), False
    t._view = v
    _share_storage(t, v.root)


def _share_storage(t, root) -> None:
    ver = root._ver
    if ver is None:
        ver = root._ver = Version()
    t._ver = ver
    if ver.views is None:
        ver.views = []
    ver.views.append(weakref.ref(t))
    _bound(ver, ver.views)


def _bound(ver, refs) -> None:
    """Drop the dead references whenever the list reaches a power of two (from 32): a loop
    taking views of one tensor (``xs[t]``) keeps it at most about twice the live ones."""
    n = len(refs)
    if n >= 32 and not n & (n - 1):
        ver.views = [r for r in refs if r() is not None]


def live(ver) -> list:
    """The live tensors on a storage other than its root (dead references dropped)."""
    refs = ver.views
    if not refs:
        return []
    alive = [t for t in (r() for r in refs) if t is not None]
    if len(alive) != len(refs):
        ver.views = [weakref.ref(t) for t in alive]
    return alive


# --------------------------------------------------------------------------- overlap checks


def check_overlap(t, reads, full_ok: bool = True) -> None:
    """PyTorch's refusal of an in-place op on ``t`` that reads a tensor sharing some but not all
    of ``t``'s memory (``t.sub_(t[0])``, ``t[1:].add_(t[:-1])``): the result would depend on
    the order elements are written in. ``full_ok=False`` refuses full overlap too, as
    ``index_add_`` and ``index_put_`` do. Costs nothing unless ``t``'s storage has views."""
    ver = t._ver
    if ver is None or not ver.views:
        if not full_ok and any(r is t for r in reads):
            raise InplaceError(PARTIAL_OVERLAP_MSG)
        return
    from .tensors import Tensor

    for r in reads:
        if isinstance(r, Tensor):
            status = overlap(t, r)
            if status == "partial" or (status == "full" and not full_ok):
                raise InplaceError(PARTIAL_OVERLAP_MSG)


# --------------------------------------------------------------------------- writes


def write(t, arr, spread: bool = False, order=None) -> None:
    """Store ``arr`` (``t``'s shape and dtype) as ``t``'s value: into the root's array (through
    the chain, for a view), bump the version, and re-read every other tensor on the storage.
    ``spread``: some elements of ``t`` are one memory location (an expanded view); ``order``:
    then the elements written (flat row-major indices into ``t``), in order, if not all are."""
    v = t._view
    if v is None:
        root = t
        t._data[...] = arr
    else:
        root = v.root
        if spread:
            arr = _scatter_spread(t, root, arr, order)
        elif v.rchain:
            arr = _scatter(root, arr, hashable(v.rchain))
        root._data[...] = arr
    from .record import InferenceVersion

    ver = root._ver
    if ver is None:
        ver = root._ver = Version()
    if ver.__class__ is not InferenceVersion:  # an inference tensor has no version to count
        ver.v += 1
    refresh(root)


def _scatter(root, arr, chain):
    return get_op("view_scatter").kernel(root._be.xp, root._data, arr, chain=chain)


def _scatter_spread(t, root, arr, order=None):
    """The root with ``arr`` written at ``t``'s positions when several elements of ``t`` are one
    location: the last of them in row-major order wins (PyTorch allows only writes of one value
    there, ``fill_`` and ``zero_``, where every choice agrees). The view ops' adjoints, which
    ``_scatter`` uses, would sum the duplicates instead."""
    xp = root._be.xp
    pos = _storage_index(root, _positions(t).reshape(-1))
    src = np.arange(pos.size, dtype=np.int64) if order is None else np.asarray(order, dtype=np.int64)
    pos = pos[src]
    last = np.full(math.prod(root._data.shape), -1, dtype=np.int64)
    np.maximum.at(last, pos, np.arange(pos.size, dtype=np.int64))
    inside = (last >= 0).reshape(root._data.shape)
    picked = xp.take(xp.reshape(arr, (-1,)), xp.asarray(src[np.maximum(last, 0)]))
    return xp.where(xp.asarray(inside), xp.reshape(picked, root._data.shape), root._data)


def refresh(root, skip=None) -> None:
    """Every live tensor on ``root``'s storage re-reads its data from the root."""
    ver = root._ver
    if ver is None or not ver.views:
        return
    ops = array_ops(root._be)
    for w in live(ver):
        if w is not skip:
            w._data = replay(ops, root._data, w._view.rchain)


# --------------------------------------------------------------------------- autograd


def check_inplace(t) -> None:
    """PyTorch's refusals for a recorded in-place op on ``t`` (grad mode on, something requires grad)."""
    from .inplace import LEAF_MSG

    v = t._view
    if v is not None and v.base is not None and _differentiable(t):
        if v.no_grad:
            raise InplaceError(NO_GRAD_VIEW_MSG)
        if t._rg and v.base._grad_fn is None:
            raise InplaceError(VIEW_OF_LEAF_MSG)
    if t._rg and t._grad_fn is None:
        raise InplaceError(LEAF_MSG)


def _differentiable(t) -> bool:
    return t.is_floating_point()


def autograd_base(t):
    """The tensor whose history an in-place op on ``t`` rewrites: its base for a view, else itself."""
    v = t._view
    return t if v is None or v.base is None or not _differentiable(t) else v.base


def regenerate(t) -> None:
    """Give each live differentiable view on ``t``'s storage the history ``chain(its base)``, as
    PyTorch regenerates (with ``as_strided``) a view whose storage was written since it was made,
    whichever tensor on that storage was written."""
    ver = t._ver
    if ver is None or not ver.views:
        return
    from .interpreters import DynamicOps

    ops = DynamicOps()
    prev = MODE.enabled
    MODE.enabled = True
    try:
        for w in live(ver):
            v = w._view
            base = v.base
            if base is not None and (base._rg or w._rg) and not v.no_grad and _differentiable(w):
                r = replay(ops, base, v.chain)
                if r._grad_fn is not None:  # PyTorch regenerates a view with as_strided of its base
                    r._grad_fn.label = "AsStridedBackward0"
                w._grad_fn, w._rg = r._grad_fn, r._rg
    finally:
        MODE.enabled = prev


class ViewMixin:
    """The view methods of ``dg.Tensor`` that need the layout (``view``, ``contiguous``)."""

    __slots__ = ()

    @property
    def _base(self):
        """The tensor this one is a view of (None when it is not a view), as PyTorch's."""
        v = self._view
        return None if v is None or v.base is None else v.base

    def _is_view(self) -> bool:
        return self._base is not None

    def view(self, *shape):
        """A view with another shape; PyTorch's error when the strides cannot express it."""
        from shared_ops._surface_args import _shape_args
        from shared_ops.registry import reshape_shape as _resolve_reshape

        v = self._view
        if v is not None and not reshapes_as_view(v.root, v.rchain, _resolve_reshape(self.shape, _shape_args(shape))):
            raise AutogradError(NOT_VIEWABLE_MSG)
        return self.reshape(*shape)

    def is_contiguous(self) -> bool:
        """Whether the elements lie in row-major order with no gaps, as PyTorch's rule has it
        (a size-1 dimension's stride does not count; ``x.diagonal()`` is not contiguous)."""
        return is_contiguous(self)

    def stride(self, dim=None):
        """The strides in elements (one ``dim``'s, or all), as PyTorch gives them, its
        conventions for size-1 dimensions included (``views.layout``)."""
        s = layout(self)[1]
        return s if dim is None else s[dim]

    def storage_offset(self) -> int:
        """The position of the first element in the storage, in elements, as PyTorch's."""
        return layout(self)[2]

    def contiguous(self):
        """Itself when contiguous, else a contiguous copy (``CloneBackward0``)."""
        from .result_layout import make_contiguous

        return self if is_contiguous(self) else make_contiguous(self.clone())
