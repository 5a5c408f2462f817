"""In-place ops (``add_``, ``mul_``, ``zero_``, ``copy_``, ..., ``x += y``, ``x[i] = v``) and ``out=``.

Every in-place op is its out-of-place op followed by a write (``views.write``): the new value
goes into the storage, the version counter of the storage is bumped, and every view of the
storage re-reads its data. A value saved for backward remembers the version it was saved at,
so backward through a value changed since raises PyTorch's error instead of a wrong gradient.

With autograd involved (grad mode on, something requires grad) the out-of-place op is recorded
on a snapshot of the old value, and the history is rewritten as PyTorch's does: a tensor takes
the new node as its ``grad_fn`` (rebase); through a view, the view's base takes
``view_scatter(base, new_view)`` (``CopySlices``) and every live view of the base replays its
view ops on that (``views.regenerate``), so gradients through the base and every view are right.
"""

from __future__ import annotations

import weakref

from .errors import AutogradError, DTypeError, FreedGraphError, InplaceError, ShapeError
from .grad_mode import MODE
from .node import FREED_MSG
from . import rng, views
from .result_layout import make_contiguous
from .inplace_index import has_mask, masks_as_indices, selects_all, warn_expanded, written_by_index, written_by_mask

LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."
DETACH_VIEW_MSG = (
    "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) "
    "for training, and gradient_as_bucket_view is set as True, gradients are views of DDP buckets, and "
    "hence detach_() cannot be called on these gradients. To fix this error, please refer to the "
    "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution."
)
INFERENCE_INPLACE_MSG = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get "
    "a normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details."
)
_TORCH_DTYPE = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "int16": "Short",
                "int32": "Int", "int64": "Long", "uint8": "Byte", "bool": "Bool"}


def _category(name: str) -> int:
    return 2 if name.startswith("float") else 0 if name == "bool" else 1


def snapshot(t):
    """A tensor with ``t``'s current value (a copy) and history: what a recorded op saves."""
    from .tensors import Tensor, init, new

    s = init(new(Tensor), t._be.xp.asarray(t._data, copy=True), t._be)
    s._grad_fn = t._grad_fn
    s._rg = t._rg
    if t._grad_fn is None and t._rg:
        s._meta = t._meta  # the same AccumulateGrad
    return s


class InplaceMixin:
    __slots__ = ()

    # -- machinery ------------------------------------------------------------------
    def _inplace(self, name: str, compute, *operands, reads=None, full_ok=True, uniform=False, label=None,
                 written=None):
        """``self = compute(self)`` in place; ``operands`` are the other tensors it reads.

        ``reads`` (default: ``operands``) are the tensors as the user passed them, checked for
        a partial overlap with ``self`` (``views.check_overlap``; ``full_ok=False`` refuses a
        full one too). ``uniform``: the op writes one value everywhere (``fill_``, ``zero_``),
        which PyTorch allows on a view whose elements share memory (an expanded view). ``label``:
        PyTorch's name for the node, where it differs from the op's. ``written``: on such a view,
        a function giving the elements the op writes, in order (``index_put_`` and ``masked_fill_``,
        which PyTorch allows there with a warning; ``inplace_index``)."""
        from .tensors import Tensor

        recording = MODE.enabled and (self._rg or any(isinstance(a, Tensor) and a._rg for a in operands))
        if recording:
            views.check_inplace(self)
        if not MODE.inference and self.is_inference():
            raise AutogradError(INFERENCE_INPLACE_MSG)
        spread = self._view is not None and views.overlaps(self)  # elements sharing memory
        if spread and not uniform and written is None:
            raise AutogradError(views.OVERLAP_MSG)
        order = written() if spread and written is not None else None
        views.check_overlap(self, operands if reads is None else reads, full_ok)
        res = compute(snapshot(self) if recording else self)
        if tuple(res.shape) != tuple(self.shape):
            raise ShapeError(
                f"{name}: output with shape {tuple(self.shape)} doesn't match the broadcast shape "
                f"{tuple(res.shape)}; an in-place op cannot change the shape, use the out-of-place op"
            )
        res = self._cast_result(res)
        if label is not None and res._grad_fn is not None:
            res._grad_fn.label = label
        if not recording:
            views.write(self, res._data, spread, order)
            views.regenerate(self)
            return self
        base = views.autograd_base(self)
        if base is self:
            views.write(self, res._data, spread, order)
            self._grad_fn, self._rg = res._grad_fn, res._rg
        else:  # base <- view_scatter(base, res): PyTorch's CopySlices
            if spread:  # as PyTorch: the write happens, a backward through it is refused
                new = base._op("clone", base)
                new._grad_fn.label = "torch::autograd::CopySlices"
                new._grad_fn.register_prehook(_refuse_spread)
                views.write(self, res._data, True, order)
            else:
                new = base._op("view_scatter", base, res, chain=views.hashable(self._view.chain))
                new._grad_fn.register_prehook(_used_once(new._grad_fn, res._grad_fn))
                views.write(base, new._data)
            base._grad_fn, base._rg = new._grad_fn, new._rg
        views.regenerate(base)
        return self

    def _cast_result(self, res):
        mine, theirs = self._dtype_name, res._dtype_name
        if mine == theirs:
            return res
        if _category(theirs) > _category(mine):  # PyTorch's can_cast: never down a category
            raise DTypeError(f"result type {_TORCH_DTYPE[theirs]} can't be cast to the desired output type {_TORCH_DTYPE[mine]}")
        out = res.astype(mine)
        if out._grad_fn is not None and res._grad_fn is not None:  # PyTorch's op casts inside its kernel
            out._grad_fn.label = res._grad_fn.name()
        return out

    def _arith(self, method: str, other, alpha=1):
        scaled = other if alpha == 1 else other * alpha
        if not (MODE.enabled and self._rg) and self._direct(method, scaled):
            return self
        return self._inplace(f"{method}_", lambda s: getattr(s, method)(scaled), scaled, reads=(other,))

    def _direct(self, method: str, other) -> bool:
        """``x -= lr * g`` on NumPy, unrecorded, on a tensor with no views: the op's
        ``forward_into`` writes into the storage itself (no temporary, no copy back). Only
        while kernels are not instrumented, so that ``shared_ops.instrument()`` still sees
        every kernel; anything unusual (dtypes, shapes) returns False and takes the general
        path, which raises the clear errors."""
        import numpy as np
        from shared_ops import get_op

        from .tensors import Tensor

        v = self._ver
        if self._be.name != "numpy" or self._view is not None or (v is not None and (v.views or v.v < 0)):
            return False
        o = other._data if isinstance(other, Tensor) else other
        if isinstance(other, Tensor) and other._rg and MODE.enabled:
            return False
        op = get_op(method)
        if op.kernel is not op.forward or op.forward_into is None:
            return False
        d = self._data
        if not (o.__class__ in (float, int) or (o.__class__ is np.ndarray and o.dtype == d.dtype)):
            return False
        try:
            op.forward_into(np, d, o, out=d)
        except (TypeError, ValueError):
            return False
        self._bump()
        return True

    def _bump(self) -> None:
        from .record import Version

        v = self._ver
        if v is None:
            v = self._ver = Version()
        v.v += 1

    def _value(self, value):
        """A value to write into this tensor: a tensor of this tensor's dtype."""
        v = self._as_operand(value)
        return v if v._dtype_name == self._dtype_name else v.astype(self._dtype_name)

    # -- arithmetic -----------------------------------------------------------------
    def add_(self, other, *, alpha=1):
        return self._arith("add", other, alpha)

    def sub_(self, other, *, alpha=1):
        return self._arith("sub", other, alpha)

    def mul_(self, other):
        return self._arith("mul", other)

    def div_(self, other):
        return self._arith("div", other)

    def clamp_(self, min=None, max=None):
        return self._inplace("clamp_", lambda s: s.clip(min, max), reads=(min, max))

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
    def fill_(self, value, *, _kind="fill"):
        from .tensors import Tensor

        if isinstance(value, Tensor):  # PyTorch reads the 0-d value first: no overlap check
            if value.ndim != 0:
                raise AutogradError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} dimensions.")
            return self._copy(value, reads=())
        return self._inplace(f"{_kind}_", lambda s: s._op("fill", s, value=value, kind=_kind), uniform=True)

    def zero_(self):
        return self.fill_(0, _kind="zero")

    def copy_(self, src):
        return self._copy(src, reads=(src,))

    def _copy(self, src, reads):
        v = self._value(src)
        return self._inplace("copy_", lambda s: s._op("copy", s, v), v, reads=reads)

    def uniform_(self, a=0.0, b=1.0):
        return self.copy_(self._be.asarray(rng.uniform(tuple(self.shape), self._dtype_name, a, b)))

    def normal_(self, mean=0.0, std=1.0):
        return self.copy_(self._be.asarray(rng.normal(tuple(self.shape), self._dtype_name, mean, std)))

    def masked_fill_(self, mask, value):
        from .tensors import Tensor

        m = self._as_operand(mask)
        if m._dtype_name != "bool":
            raise DTypeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {m._dtype_name}")
        if isinstance(value, Tensor) and value.ndim != 0:
            raise AutogradError(
                f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s)."
            )
        v = self._value(value)
        written = None
        if self._view is not None and views.overlaps(self):
            warn_expanded("masked_fill_")
            written = lambda: written_by_mask(self, m)  # noqa: E731
        return self._inplace("masked_fill_", lambda s: s._op("where", m, v.broadcast_to(s.shape), s), v, reads=(m,),
                             written=written)

    def masked_fill(self, mask, value):
        return make_contiguous(self.clone()).masked_fill_(mask, value)  # PyTorch's copy is contiguous

    def index_add_(self, dim, index, source, *, alpha=1):
        """``self[..., index[i], ...] += alpha * source[..., i, ...]`` along ``dim`` (repeats summed)."""
        src = self._value(source if alpha == 1 else source * alpha)
        idx = self._as_operand(index)
        d = dim % self.ndim
        spec = (("s", None, None, None),) * d + (("a",), ("e",))
        return self._inplace(
            "index_add_", lambda s: s + s._op("index_scatter", src, idx, index=spec, shape=tuple(s.shape)), src,
            reads=(source, index), full_ok=False,
        )

    def index_add(self, dim, index, source, *, alpha=1):
        return make_contiguous(self.clone()).index_add_(dim, index, source, alpha=alpha)  # as PyTorch's

    def __setitem__(self, key, value):
        from shared_ops._surface_args import _parse_index, _split_ints

        spec, arrays = _parse_index(self, masks_as_indices(self, key))
        v = self._value(value)
        if not arrays:  # basic indexing: a view, then copy_ (CopySlices on self), as PyTorch's copy_to:
            # a value of another shape is a fill (0-d) or an expanded, unchecked read; full slices
            # and ``...`` select nothing, and PyTorch then writes into ``self`` itself
            dst = self if selects_all(spec, self.shape) else self[key]
            same = tuple(getattr(value, "shape", ())) == tuple(dst.shape)
            if not same and v.ndim == 0:
                dst._inplace("fill_", lambda s: s._op("copy", s, v), v, reads=(), label="FillBackward3")
            else:
                dst._copy(v, reads=(value,) if same else ())
            return
        target = self
        if any(e[0] == "i" for e in spec):  # PyTorch: the integers select first (a view)
            first, spec = _split_ints(spec, self.ndim)
            target = self._op("getitem", self, index=first)
        written = None
        if target._view is not None and views.overlaps(target):  # PyTorch: deprecated, with a warning
            warn_expanded("index_put_")
            if v.ndim == 0 and has_mask(key):
                warn_expanded("masked_fill_")
            written = lambda: written_by_index(target, spec, arrays)  # noqa: E731
        target._inplace("index_put_", lambda s: s._op("index_put", s, v, *arrays, index=spec), v, reads=(value,),
                        full_ok=False, written=written)

    def detach_(self):
        v = self._view
        if v is not None and v.base is not None and self.is_floating_point():
            raise AutogradError(DETACH_VIEW_MSG)
        self._grad_fn = None
        self._rg = False
        return self


def _used_once(node, inner):
    """A prehook for a ``CopySlices`` node: like PyTorch's, it refuses a second backward after one
    without ``retain_graph``, although it holds no saved values. PyTorch's ``CopySlices`` runs the
    write's own rule (``inner``) inside itself and is released with it, so a backward that failed
    in that rule (a saved value modified in place) leaves it usable: the next backward raises the
    same error again, not "backward through the graph a second time"."""
    ref = weakref.ref(node)
    inner_ref = weakref.ref(inner) if inner is not None else None

    def copy_slices_once(grad):
        n = ref()
        i = inner_ref() if inner_ref is not None else None
        if n is not None and n.released and (i is None or i.released):
            raise FreedGraphError(FREED_MSG)

    return copy_slices_once


def _refuse_spread(grad):
    """The prehook of the history written through a view whose elements share memory: PyTorch's
    ``CopySlices`` cannot place a gradient there and raises in backward."""
    raise InplaceError(views.OVERLAP_MSG)


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
            views.check_overlap(out, (input, other))
            views.write(out, out._cast_result(res)._data)
        else:  # PyTorch resizes ``out``
            out._data = res._data
            out._bump()
        return out

    f.__name__ = name
    f.__doc__ = f"""``dg.{name}(x, y, out=t)``: ``x.{method}(y)``, written into ``t`` when ``out`` is given.

    Parameters:
        input: a tensor (or a number, when ``other`` is a tensor).
        other: a tensor or a number, broadcast against ``input``.
        out: an existing tensor to write the result into (resized, as PyTorch does, when
            its shape differs).
        **kwargs: ``alpha=`` for ``add`` and ``sub`` (``other`` is scaled by it).

    Returns:
        ``out`` when given, else a new tensor.

    Raises:
        AutogradError: ``out=`` while recording, with an argument that requires grad.

    Examples:
        >>> result = dg.Tensor(2)
        >>> dg.{name}(dg.tensor([6.0, 8.0]), dg.tensor([2.0, 4.0]), out=result) is result
        True
    """
    return f


add = _out_op("add", "add")
sub = _out_op("sub", "sub")
mul = _out_op("mul", "mul")
div = _out_op("div", "div")
