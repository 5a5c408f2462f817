"""The layout PyTorch gives an op's result, so that ``stride()``, ``is_contiguous()`` and
whether ``view`` is allowed follow PyTorch on results as on views (``x.t() + 1`` is
column-major there, and ``(x.t() + 1).view(-1)`` is refused).

- An **elementwise** op lays its result out as ATen's ``TensorIterator`` does
  (``iterator_strides``): when every input has the result's shape and they agree (all
  contiguous, all channels-last, or all dense with equal strides) the result takes that layout;
  otherwise the dimensions are ordered by the inputs' strides, the first input that tells two
  dimensions apart deciding (a broadcast dimension tells nothing), and the result is dense in
  that order.
- An op that declares ``preserve_format`` (``clone``, ``.to(dtype)``, ``*_like``, ``flip``,
  ``sort``'s values and indices)
  keeps its input's strides when the input is dense, else the dense layout in the same order
  (ATen's ``empty_like`` and ``infer_dense_strides``).
- Every other op's result is contiguous (``masked_fill`` and ``index_add`` copy to a
  contiguous tensor first, as PyTorch's do).

dyngraph's arrays stay in NumPy's row-major order whatever the layout. A result that PyTorch
lays out otherwise gets a ``Storage`` root carrying the strides, and is to that storage what a
``detach()`` is to its source (``views.ViewOf`` with no base and no view ops): views of it,
writes through them and the overlap checks then follow the strides. This is computed only
when an input is itself on a ``ViewOf`` (a view, a ``detach()`` or such a result): a fresh
tensor's results are contiguous, as PyTorch's are.
"""

from __future__ import annotations

from shared_ops.ops import _strides

from .view_layout import Storage, layout

new = object.__new__


def _dense(sizes, strides) -> bool:
    """ATen's ``is_non_overlapping_and_dense``: the strides are a contiguous layout of the
    dimensions in some order (size-1 dimensions may have any stride; an empty tensor is dense)."""
    if 0 in sizes:
        return True
    want = 1
    for n, s in sorted(((n, s) for n, s in zip(sizes, strides) if n > 1), key=lambda e: e[1]):
        if s != want:
            return False
        want *= n
    return True


def _channels_last(sizes, strides) -> bool:
    """ATen's ``is_contiguous(memory_format=channels_last)``: 4-d, channels fastest."""
    if len(sizes) != 4:
        return False
    want = 1
    for d in (1, 3, 2, 0):
        if sizes[d] != 1:
            if strides[d] != want:
                return False
            want *= sizes[d]
    return True


def _channels_last_strides(sizes) -> tuple:
    n, c, h, w = sizes
    return (h * w * c, 1, w * c, c)


def _order(nd, swap) -> list:
    """ATen's insertion sort of the dimensions, fastest first, from the reversed order: ``swap``
    says 1 (move ``d0`` after ``d1``), -1 (keep) or 0 (ambiguous: look further back)."""
    perm = list(range(nd - 1, -1, -1))
    for i in range(1, nd):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    return perm


def iterator_strides(shape, layouts) -> tuple:
    """The strides of an elementwise op's result of ``shape`` from its inputs' ``(sizes,
    strides)`` in order (ATen's ``TensorIterator``: its fast set-up, else ``compute_strides``,
    ``reorder_dimensions`` and the output's ``compatible_stride``)."""
    shape = tuple(shape)
    nd = len(shape)
    same = all(s == shape for s, _ in layouts)
    if same:  # TensorIterator's fast set-up
        if all(_strides.is_contiguous(s, st) for s, st in layouts):
            return _strides.contiguous(shape)
        if all(_channels_last(s, st) for s, st in layouts):
            return _channels_last_strides(shape)
        last = layouts[-1][1]
        if all(st == last and _dense(s, st) for s, st in layouts):
            return last
    if nd < 2:
        return _strides.contiguous(shape)
    # each input's strides on the result's dimensions; a broadcast dimension's are 0
    bstrides = []
    for sizes, strides in layouts:
        lead = nd - len(sizes)
        bstrides.append([0] * lead + [0 if n == 1 and shape[lead + i] != 1 else s
                                      for i, (n, s) in enumerate(zip(sizes, strides))])

    def swap(d0, d1):
        for b in bstrides:
            s0, s1 = b[d0], b[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return 1 if s0 > s1 else -1
            if shape[d0] > shape[d1]:  # equal strides: the smaller dimension goes first
                return 1
        return 0

    perm = _order(nd, swap)
    if perm == list(range(nd - 1, -1, -1)):
        return _strides.contiguous(shape)
    out, step = [0] * nd, 1
    for d in perm:
        out[d] = step
        step *= shape[d]
    return tuple(out)


def preserve_strides(sizes, strides) -> tuple:
    """The strides of a ``preserve_format`` result (ATen's ``empty_like``): the input's when
    it is dense, else ``infer_dense_strides``, a dense layout in the order of its strides."""
    sizes, strides = tuple(sizes), tuple(strides)
    if _dense(sizes, strides):
        return strides

    def swap(d0, d1):
        s0, s1 = strides[d0], strides[d1]
        if s0 == 0 or s1 == 0:
            return 0
        if s0 != s1:
            return 1 if s0 > s1 else -1
        return 1 if sizes[d0] > sizes[d1] else 0

    out, step = [0] * len(sizes), 1
    for d in _order(len(sizes), swap):
        out[d] = step
        step *= max(sizes[d], 1)
    return tuple(out)


def lay_out(t, op, inputs, attrs) -> None:
    """Give ``t = op(*inputs, **attrs)`` PyTorch's layout (the module docstring); called when an
    input is on a ``ViewOf``."""
    pf = op.preserve_format
    if pf is True or (pf and pf(attrs)):
        sizes, strides, _ = layout(inputs[0])
        want = preserve_strides(sizes, strides)
    elif op.elementwise:
        want = iterator_strides(t._data.shape, [layout(x)[:2] for x in inputs])
    else:
        return
    _restride(t, want)


def like(t, src):
    """``t``, a fresh tensor made like ``src`` (``dg.zeros_like(src)``...), with the layout
    PyTorch's ``preserve_format`` gives it."""
    if src._view is not None:
        sizes, strides, _ = layout(src)
        _restride(t, preserve_strides(sizes, strides))
    return t


def grad_like(g, leaf) -> None:
    """Give ``g`` (row-major), the ``.grad`` of ``leaf``, the layout PyTorch's ``AccumulateGrad``
    gives it: a gradient that already has the leaf's strides but on size-1 dimensions is kept,
    else it takes the leaf's strides when the leaf is dense, else it stays row-major."""
    sizes, strides, _ = layout(leaf)
    rows = _strides.contiguous(sizes)
    if _dense(sizes, strides) and any(n != 1 and a != b for n, a, b in zip(sizes, rows, strides)):
        _restride(g, strides)


def _restride(t, want) -> None:
    if want == _strides.contiguous(t._data.shape):
        return
    from .record import Version
    from .views import ViewOf

    s = new(Storage)
    s._data, s._be, s.strides = t._data, t._be, want
    ver = t._ver  # the one a saved output already answers to (record), or an inference tensor's
    if ver is None:
        ver = t._ver = Version()
    s._ver = ver
    v = new(ViewOf)
    v.root, v.rchain, v.base, v.chain, v.no_grad = s, (), None, (), False
    t._view = v


def make_contiguous(t):
    """``t``, a fresh result of this module's op, made a contiguous tensor (``contiguous()``)."""
    v = t._view
    if v is not None and v.base is None and not v.rchain and v.root.__class__ is Storage:
        t._view = None
    return t
