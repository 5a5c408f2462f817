"""The engine's two run loops (see ``engine.py`` for the algorithm).

``eager_loop`` is ordinary ``backward()``: gradients are arrays, the array interpreter runs
the rules, every reached node runs. It is the hot path, so it is written flat and keeps the
next node to run in a local when it is the only ready one (a chain never touches the heap).
``general_loop`` handles ``create_graph`` (tensors, recorded rules) and ``grad()`` (capture
the inputs' gradients, run only the nodes on a path to them).
"""

from __future__ import annotations

from heapq import heappop, heappush

from .errors import AutogradError, FreedGraphError
from shared_ops import ShapeOnly

from .node import _SHAPE_ONLY, FREED_MSG, STATS, AccumulateGrad, shape_only, version_error
from .record import NUMPY, new, unpack
from .tensors import Tensor, init, wrap


def eager_loop(heap, buf, deps, ops, be, retain):
    from .engine import _accumulate

    numpy = be is NUMPY
    sinks = []
    ready = None
    last_shape = last_dt = last_so = None
    while ready is not None or heap:
        if ready is not None and (not heap or ready.seq > -heap[0][0]):
            n = ready
        else:
            if ready is not None:
                heappush(heap, (-ready.seq, ready))
            n = heappop(heap)[1]
        ready = None
        nxt = n.next
        terms = buf.pop(n, None)
        grads = None
        if terms is not None:
            if len(terms) == 1:
                g = terms[0]
            else:
                terms.reverse()  # consumer creation order (see engine's docstring)
                g = ops.add_n(*terms)
            terms = None
            if n.hooks:
                g = run_hooks(n.hooks, g, be, False)
            saved = n.saved
            if saved is None:
                raise FreedGraphError(FREED_MSG)
            out = n.out
            info = n.info
            if info.saves:
                if n.vers is None and len(saved) == 2:  # binary ops, unrolled (version 0 expected)
                    a, b = saved
                    if a.__class__ is not ShapeOnly:
                        v = a._ver
                        if v is not None and v.v:
                            raise version_error(n, a._data, v.v, 0)
                        a = a._data
                    if b.__class__ is not ShapeOnly:
                        v = b._ver
                        if v is not None and v.v:
                            raise version_error(n, b._data, v.v, 0)
                        b = b._data
                    saved = (a, b)
                    a = b = None
                elif n.vers is None:  # every saved tensor was at version 0 (inline unpack)
                    ins = []
                    for e in saved:
                        if e.__class__ is ShapeOnly:
                            ins.append(e)
                        else:
                            v = e._ver
                            if v is not None and v.v:
                                raise version_error(n, e._data, v.v, 0)
                            ins.append(e._data)
                    saved = tuple(ins)
                    ins = None
                else:
                    saved = unpack(n, False)
                if out is not None:
                    if out.counter.v:
                        out.check(n)
                    out = out.data
            if out is None:  # a stand-in shaped like the gradient (the last one again, often)
                gs = g.shape
                gd = g.dtype
                if gd is last_dt and gs == last_shape:
                    out = last_so
                else:
                    out = _SHAPE_ONLY.get((gs, gd)) if numpy else None
                    if out is None:
                        out = shape_only(gs, gd)
                    last_shape, last_dt, last_so = gs, gd, out
            ops.needs_input_grad = nxt
            attrs = n.attrs
            grads = n.op.vjp(ops, g, saved, out, **attrs) if attrs else n.op.vjp(ops, g, saved, out)
            if len(grads) != len(nxt):
                raise _arity_error(n, grads)
            g = out = saved = None
            if not retain:
                n.released = True
                if n.nbytes:
                    STATS.saved_bytes -= n.nbytes
                    n.nbytes = 0
                if info.saves:
                    n.saved = n.out = None
        elif not retain and not n.released:
            n.release()
        i = len(nxt)
        while i:
            i -= 1
            c = nxt[i]
            if c is None:
                continue
            if grads is not None:
                gi = grads[i]
                if gi is not None:
                    lst = buf.get(c)
                    if lst is None:
                        buf[c] = [gi]
                    else:
                        lst.append(gi)
            d = deps[c] - 1
            deps[c] = d
            if not d:
                if c.__class__ is AccumulateGrad:
                    sinks.append(c)
                elif ready is None:
                    ready = c
                elif c.seq > ready.seq:
                    heappush(heap, (-ready.seq, ready))
                    ready = c
                else:
                    heappush(heap, (-c.seq, c))
        if sinks:
            grads = gi = lst = None  # so that a sink that is the sole owner may keep the array
            for c in sinks:
                _accumulate(c, buf.pop(c, None), ops, be, False, None, None)
            sinks.clear()


def general_loop(heap, buf, deps, ops, be, retain, create_graph, capture, captured, reach, execute):
    from .engine import _accumulate

    sinks = []
    while heap:
        n = heappop(heap)[1]
        terms = buf.pop(n, None)
        grads = None
        if terms is not None and (execute is None or n in execute or n in capture):
            if len(terms) == 1:
                g = terms[0]
            else:
                terms.reverse()
                g = ops.add_n(*terms)
            terms = None
            if n.hooks:
                g = run_hooks(n.hooks, g, be, create_graph)
            if capture is not None and n in capture:
                for i in capture[n]:
                    captured[i] = g
            if execute is None or n in execute:
                saved = n.saved
                if saved is None:
                    raise FreedGraphError(FREED_MSG)
                arr = g._data if create_graph else g
                out = shape_only(arr.shape, arr.dtype)
                if n.info.saves:
                    saved = unpack(n, create_graph)
                    if n.out is not None:
                        n.out.check(n)
                        out = _output_tensor(n, n.out, be) if create_graph else n.out.data
                ops.needs_input_grad = n.next if reach is None else tuple(c is not None and c in reach for c in n.next)
                grads = n.op.vjp(ops, g, saved, out, **n.attrs)
                if len(grads) != len(n.next):
                    raise _arity_error(n, grads)
                if not retain:
                    n.release()
            g = out = saved = None
        elif execute is None and not retain:
            n.release()
        nxt = n.next
        i = len(nxt)
        while i:
            i -= 1
            c = nxt[i]
            if c is None:
                continue
            if grads is not None:
                gi = grads[i]
                if gi is not None:
                    buf.setdefault(c, []).append(gi)
            d = deps[c] - 1
            deps[c] = d
            if d == 0:
                if c.__class__ is AccumulateGrad:
                    sinks.append(c)
                else:
                    heappush(heap, (-c.seq, c))
        if sinks:
            grads = gi = None
            for c in sinks:
                _accumulate(c, buf.pop(c, None), ops, be, create_graph, capture, captured)
            sinks.clear()


def _arity_error(n, grads):
    return AutogradError(
        f"the gradient rule of op '{n.op.name}' returned {len(grads)} gradients for {len(n.next)} "
        "inputs; a vjp must return exactly one entry (or None) per input"
    )


def _output_tensor(n, sv, be) -> Tensor:
    """The node's saved output as a tensor whose grad_fn is the node (for create_graph)."""
    t = init(new(Tensor), sv.data, be)
    t._ver = sv.counter
    t._grad_fn = n
    t._rg = True
    return t


_LEGACY = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor"}


def run_hooks(hooks, g, be, create_graph):
    """The tensor hooks on a gradient; a hook's returned tensor replaces it (same shape and
    dtype, checked with PyTorch's words)."""
    for h in list(hooks):
        r = h(g if create_graph else wrap(g, be))
        if r is not None:
            if not isinstance(r, Tensor):
                raise AutogradError(f"a hook must return a Tensor or None, got {type(r).__name__}")
            old = g if create_graph else wrap(g, be)
            name = getattr(h, "__name__", type(h).__name__)
            if tuple(r.shape) != tuple(old.shape):
                raise AutogradError(f"hook '{name}' has changed the size of value")
            if r._dtype_name != old._dtype_name:
                was, got = (_LEGACY.get(t._dtype_name, t._dtype_name) for t in (old, r))
                raise AutogradError(f"hook '{name}' has changed the type of value (was dyngraph.{was} got dyngraph.{got})")
            g = r if create_graph else r._data
    return g
