"""``record`` for the commonest nodes: an op of one or two inputs that saves none of them
(``tanh``, ``exp``, ``sum``, ``add``, ``sub``, a view...), unrolled.

``record``'s loop over the inputs (edge, saved tensor or stand-in, version, what the other
inputs require) costs about twice the Python opcodes these nodes need: a step of W1 of
``benchmarks/bench_dyngraph.py`` (a 200-op chain, two thirds of its ops ``tanh`` or ``+``) runs
156,686 Python opcodes with ``record`` alone and 150,387 with this path, W2 (an RNN) 126,999 and
123,690. ``tests/dyngraph/test_hot_path.py`` checks that both make the same node.
"""

from __future__ import annotations

from numpy import ndarray

from .node import _SHAPE_ONLY, SEQ, STATS, Node, SavedValue, shape_only
from .record import Version, edge, new, nbytes


def record_plain(op, attrs, inputs, out, info) -> None:
    """``record(op, attrs, inputs, out, info)`` for ``info.plain`` ops of one or two inputs."""
    node = new(Node)
    node.op = op
    node.attrs = attrs
    node.info = info
    node.seq = next(SEQ)
    node.released = False
    node.hooks = None
    node.label = None
    node.vers = None
    node.nbytes = 0  # set before anything below can raise: __del__ reads it
    if len(inputs) == 1:
        x = inputs[0]
        node.next = ((x._grad_fn or edge(x)) if x._rg else None,)
        d = x._data
        so = _SHAPE_ONLY.get((d.shape, d.dtype)) if d.__class__ is ndarray else None
        node.saved = (so if so is not None else shape_only(d.shape, d.dtype),)
    else:
        a, b = inputs
        node.next = ((a._grad_fn or edge(a)) if a._rg else None, (b._grad_fn or edge(b)) if b._rg else None)
        da = a._data
        db = b._data
        sa = sb = None
        if da.__class__ is ndarray and db.__class__ is ndarray:
            sh = da.shape
            dt = da.dtype
            sa = _SHAPE_ONLY.get((sh, dt))
            sb = sa if db.dtype is dt and db.shape == sh else _SHAPE_ONLY.get((db.shape, db.dtype))
        node.saved = (
            sa if sa is not None else shape_only(da.shape, da.dtype),
            sb if sb is not None else shape_only(db.shape, db.dtype),
        )
    if info.save_output:
        d = out._data
        sv = new(SavedValue)
        sv.data = d
        v = new(Version)
        v.v = 0
        v.views = None
        sv.counter = out._ver = v
        node.out = sv
        size = node.nbytes = d.nbytes if d.__class__ is ndarray else nbytes(d)
        st = STATS
        b = st.saved_bytes = st.saved_bytes + size
        if b > st.peak_saved_bytes:
            st.peak_saved_bytes = b
    else:
        node.out = None
    out._grad_fn = node
    out._rg = True
