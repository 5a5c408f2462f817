"""``record`` unrolled for ops of one or two inputs, which are nearly all of them.

``record``'s loop over the inputs (edge, saved tensor or stand-in, version, which positions
``grad_reads`` keeps for the inputs that require grad) costs about twice the Python opcodes
these nodes need. Here the positions to save come from ``OpInfo.save1``/``save2``, computed once
per op for every pattern of inputs that require grad. A step of bench_peers' W1 (a 200-op
chain of mul, add and tanh) runs 151,949 Python opcodes when only the ops that save no input
take an unrolled path and the others ``record``, 148,934 with this path; W2 (an RNN, two
matmuls per step) 133,097 and 129,209 (``python benchmarks/bench_dyngraph_opcodes.py``).
``tests/dyngraph/test_hot_path.py`` checks that both make the same node.
"""

from __future__ import annotations

from numpy import ndarray

from .node import _SHAPE_ONLY, SEQ, STATS, Node, SavedValue, shape_only
from .record import Version, edge, new, nbytes, refuse_inference


def record_small(op, attrs, inputs, out, info) -> None:
    """``record(op, attrs, inputs, out, info)`` for a call with one or two inputs."""
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
    size = 0
    if len(inputs) == 1:
        x = inputs[0]
        node.next = ((x._grad_fn or edge(x)) if x._rg else None,)
        d = x._data
        if info.save1[x._rg]:
            node.saved = (x,)
            size = d.nbytes if d.__class__ is ndarray else nbytes(d)
            v = x._ver
            if v is not None and v.v:  # already changed in place (or an inference tensor)
                refuse_inference(v)
                node.vers = (v.v,)
        else:
            so = _SHAPE_ONLY.get((d.shape, d.dtype)) if d.__class__ is ndarray else None
            node.saved = (so if so is not None else shape_only(d.shape, d.dtype),)
    else:
        a, b = inputs
        ar = a._rg
        br = b._rg
        ea = eb = None
        if ar:  # edge(a), its common cases inlined: a has history, or is a leaf with a live sink
            ea = a._grad_fn
            if ea is None:
                m = a._meta
                r = m.acc if m is not None else None
                ea = r() if r is not None else None
                if ea is None:
                    ea = edge(a)
        if br:
            eb = b._grad_fn
            if eb is None:
                m = b._meta
                r = m.acc if m is not None else None
                eb = r() if r is not None else None
                if eb is None:
                    eb = edge(b)
        node.next = (ea, eb)
        keep_a, keep_b = info.save2[ar][br]
        da = a._data
        db = b._data
        if keep_a or keep_b:
            va = vb = 0
            if keep_a:
                sa = a
                size = da.nbytes if da.__class__ is ndarray else nbytes(da)
                v = a._ver
                if v is not None and v.v:
                    refuse_inference(v)
                    va = v.v
            else:
                sa = _SHAPE_ONLY.get((da.shape, da.dtype)) if da.__class__ is ndarray else None
                if sa is None:
                    sa = shape_only(da.shape, da.dtype)
            if keep_b:
                sb = b
                size += db.nbytes if db.__class__ is ndarray else nbytes(db)
                v = b._ver
                if v is not None and v.v:
                    refuse_inference(v)
                    vb = v.v
            else:
                sb = _SHAPE_ONLY.get((db.shape, db.dtype)) if db.__class__ is ndarray else None
                if sb is None:
                    sb = shape_only(db.shape, db.dtype)
            if va or vb:  # else every saved tensor was at version 0, which unpack expects
                node.vers = (va, vb)
        else:
            sa = sb = None
            if da.__class__ is ndarray and db.__class__ is ndarray:
                sh = da.shape
                dt = da.dtype
                sa = _SHAPE_ONLY.get((sh, dt))
                sb = sa if db.dtype is dt and db.shape == sh else _SHAPE_ONLY.get((db.shape, db.dtype))
            if sa is None:
                sa = shape_only(da.shape, da.dtype)
            if sb is None:
                sb = shape_only(db.shape, db.dtype)
        node.saved = (sa, sb)
    if info.save_output:
        d = out._data
        sv = new(SavedValue)
        sv.data = d
        v = new(Version)
        v.v = 0
        v.views = None
        sv.counter = out._ver = v
        node.out = sv
        size += d.nbytes if d.__class__ is ndarray else nbytes(d)
    else:
        node.out = None
    if size:
        node.nbytes = size
        st = STATS
        b = st.saved_bytes = st.saved_bytes + size
        if b > st.peak_saved_bytes:
            st.peak_saved_bytes = b
    out._grad_fn = node
    out._rg = True
