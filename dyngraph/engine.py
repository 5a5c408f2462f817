"""The backward engine (as PyTorch's ``engine.cpp``): one walk, with no recursion anywhere.

``autograd.py`` finds the roots and their seeds and counts each reachable node's
dependencies (how many edges point at it); ``walk`` then runs the nodes:

1. A node is ready when all its consumers ran; ready nodes run latest first (a heap ordered by
   creation sequence; the next node is kept in a local while it is the only ready one, so a
   chain never touches the heap). Each node has one input buffer.
2. The contributions in a buffer are summed with the ``add_n`` op in the creation order of
   their consumers (ties: input position), seeded with the first term. Nodes run in strictly
   decreasing sequence and edges are visited last input first, so a buffer fills in exactly
   the reverse of that order, and the sum reverses it. A buffer holding one contribution is
   that gradient itself, a list only from the second one on (most nodes get one). A node's
   last contribution makes it ready: its buffer leaves the dict then, and travels with the
   node in a local while it is the next to run (a chain never stores a gradient in the dict).
3. The node's hooks run on the sum; its saved values are unpacked (each checked against the
   version it was saved at), its gradient rule runs on the interpreter, and its saved values
   are released unless ``retain_graph``.
4. ``AccumulateGrad`` sinks run the leaf's hooks and set ``leaf.grad`` (or ``grad + new``).

The hot loop inlines the common case of three helpers it also calls (``unpack`` of tensors
saved at version 0, ``Interpreter.output`` of an unchanged saved output, ``Node.release`` of a
node that saved arrays or none): without the inlining W1 of ``benchmarks/bench_dyngraph.py`` (a
200-op chain) spends 1.15x the CPU time in backward. ``tests/dyngraph/test_engine.py`` runs the
version errors through both paths. The loop allocates as little as it can: edges are walked
by index (a ``zip`` of two ``reversed`` iterators is three objects per node), a binary op's
saved pair is unpacked into a tuple without a list, and the output stand-in of the previous
node is reused when the shape and dtype match (no key tuple to hash). Together these take the
backward of bench_dyngraph's W2 from 4.57 M to 4.15 M machine instructions (valgrind).

The interpreter is the one parameter that differs between ``backward()`` and
``backward(create_graph=True)``: ``Interpreter.eager`` runs rules on arrays (``EagerOps``),
``Interpreter.recording`` on tensors, recording every op (``DynamicOps``). ``grad()`` adds
``capture`` (the inputs' nodes: their gradients are taken, not accumulated) and ``execute``
(only the nodes on a path to an input run).

``walk`` runs the compiled twin of ``walk_py`` (``dyngraph/_cwalk.c``, see ``dyngraph._accel``)
where it is built, for every backward without ``capture``/``execute`` or ``create_graph``; the
others, and every backward under ``DYNGRAPH_PURE=1``, run ``walk_py``. The compiled walk calls
the same Python functions for everything that computes or raises (the rules, ``add_n``, the
hooks, ``accumulate``, the error builders), so its gradients are ``walk_py``'s bit for bit
(``tests/dyngraph/test_cwalk.py`` runs both on the same graphs).
"""

from __future__ import annotations

import threading
import warnings
from heapq import heappop, heappush

from numpy import ndarray

from . import _accel
from .errors import AutogradError, FreedGraphError
from .interpreters import DynamicOps, eager_ops
from shared_ops import ShapeOnly

from .node import _SHAPE_ONLY, FREED_MSG, STATS, AccumulateGrad, shape_only, version_error
from .record import new, unpack
from .sinks import accumulate, run_hooks
from .tensors import Tensor, init, wrap



class Interpreter:
    """How gradients are represented in one backward: arrays, or tensors that record."""

    __slots__ = ("ops", "be", "tensors")

    def __init__(self, be, create_graph: bool):
        self.be = be
        self.tensors = create_graph
        self.ops = DynamicOps() if create_graph else eager_ops(be)

    def as_tensor(self, g):
        return g if self.tensors else wrap(g, self.be)

    def as_value(self, t):
        return t if self.tensors else t._data

    def output(self, n, sv):
        """The node's saved output (``SavedValue``) as the rule gets it: an array, or a tensor
        whose grad_fn is the node."""
        sv.check(n)
        if not self.tensors:
            return sv.data
        t = init(new(Tensor), sv.data, self.be)  # the output again, its grad_fn the node
        t._ver = sv.counter
        t._grad_fn = n
        t._rg = True
        return t


class _Eager(threading.local):
    def __init__(self):
        self.by_backend = {}


_EAGER = _Eager()


def eager_interpreter(be) -> Interpreter:
    """``Interpreter(be, False)``, made once per thread and backend (it holds no state of a
    backward: its ops are ``eager_ops(be)``, shared the same way)."""
    interp = _EAGER.by_backend.get(id(be))  # as eager_ops: backends live as long as the process
    if interp is None:
        interp = _EAGER.by_backend[id(be)] = Interpreter(be, False)
    return interp


def walk(heap, buf, deps, interp, retain, capture=None, captured=None, execute=None, reach=None):
    """Run the ready nodes until none is left: the compiled walk where it applies, else ``walk_py``."""
    cw = CWALK
    if cw is not None and capture is None and execute is None and not interp.tensors:
        return cw.walk(heap, buf, deps, interp, retain)
    return walk_py(heap, buf, deps, interp, retain, capture, captured, execute, reach)


def count_deps(edges) -> dict:
    """Node -> how many edges point at it, for every node reachable from ``edges`` (iteratively)."""
    cw = CWALK
    if cw is not None:
        return cw.count_deps(edges)
    deps = {}
    stack = []
    for e in edges:
        if e not in deps:
            deps[e] = 0
            stack.append(e)
    while stack:
        for c in stack.pop().next:
            if c is not None:
                d = deps.get(c)
                if d is None:
                    deps[c] = 1
                    stack.append(c)
                else:
                    deps[c] = d + 1
    return deps


def walk_py(heap, buf, deps, interp, retain, capture=None, captured=None, execute=None, reach=None):
    """The walk in Python (see the module docstring): the reference ``_cwalk.walk`` follows."""
    ops = interp.ops
    tensors = interp.tensors
    every = execute is None
    stats = STATS
    take = buf.pop
    sinks = []
    ready = ready_g = None  # the next node while it is the only ready one, and its buffer
    last_shape = last_dt = last_so = None  # the last stand-in made for an output
    while ready is not None or heap:
        if ready is not None and (not heap or ready.seq > -heap[0][0]):
            n = ready
            g = ready_g
        else:
            if ready is not None:
                heappush(heap, (-ready.seq, ready))
                if ready_g is not None:
                    buf[ready] = ready_g
            n = heappop(heap)[1]
            g = take(n, None)
        ready = ready_g = None
        nxt = n.next
        runs = every or n in execute
        grads = None
        if g is not None and (runs or n in capture):
            if g.__class__ is list:
                g = g[0] if len(g) == 1 else ops.add_n(*reversed(g))
            if n.hooks:
                g = run_hooks(n.hooks, g, interp)
            if capture is not None and n in capture:
                for i in capture[n]:
                    captured[i] = g
            if runs:  # the node's rule: one gradient (or None) per input
                saved = n.saved
                if saved is None:
                    raise FreedGraphError(FREED_MSG)
                info = n.info
                if info.plain:  # stand-ins only: nothing to check
                    pass
                elif n.vers is None and not tensors:  # unpack's common case, inlined (see the docstring)
                    if len(saved) == 2:  # a binary op: no list to build
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
                    else:
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
                    saved = unpack(n, tensors)
                out = n.out
                if out is None:  # a stand-in shaped like g: often the previous node's again
                    a = g._data if tensors else g
                    sh = a.shape
                    dt = a.dtype
                    if dt is last_dt and sh == last_shape:
                        out = last_so
                    else:
                        out = _SHAPE_ONLY.get((sh, dt)) if a.__class__ is ndarray else None
                        if out is None:
                            out = shape_only(sh, dt)
                        last_shape = sh
                        last_dt = dt
                        last_so = out
                    a = None
                elif tensors or out.counter.v:
                    out = interp.output(n, out)
                else:  # output()'s common case, inlined
                    out = out.data
                if reach is None:
                    ops.needs_input_grad = nxt
                else:
                    ops.needs_input_grad = tuple(c is not None and c in reach for c in nxt)
                attrs = n.attrs
                grads = n.op.vjp(ops, g, saved, out, **attrs) if attrs else n.op.vjp(ops, g, saved, out)
                if len(grads) != len(nxt):
                    raise _arity_error(n, grads)
                saved = out = None
                if not retain:  # Node.release()'s common cases, inlined: it saved arrays, or nothing
                    b = n.nbytes
                    if b:
                        n.released = True
                        stats.saved_bytes -= b
                        n.nbytes = 0
                        n.saved = n.out = None
                    elif info.saves:
                        n.release()
                    else:
                        n.released = True
        elif runs and not retain and not n.released:
            n.release()
        g = None
        i = len(nxt)
        while i:  # last input first (see the docstring); indexing allocates no iterator
            i -= 1
            c = nxt[i]
            if c is None:
                continue
            gi = grads[i] if grads is not None else None
            d = deps[c] - 1
            deps[c] = d
            if d:  # more consumers to come: buffer the contribution
                if gi is not None:
                    lst = buf.get(c)
                    if lst is None:
                        buf[c] = gi
                    elif lst.__class__ is list:
                        lst.append(gi)
                    else:
                        buf[c] = [lst, gi]
                continue
            lst = take(c, None)  # c is ready: its buffer, this contribution last
            if lst is not None:
                if gi is None:
                    gi = lst
                elif lst.__class__ is list:
                    lst.append(gi)
                    gi = lst
                else:
                    gi = [lst, gi]
            lst = None
            if c.__class__ is AccumulateGrad:
                if gi is not None:
                    buf[c] = gi
                sinks.append(c)
            elif ready is None:
                ready = c
                ready_g = gi
            elif c.seq > ready.seq:
                heappush(heap, (-ready.seq, ready))
                if ready_g is not None:
                    buf[ready] = ready_g
                ready = c
                ready_g = gi
            else:
                heappush(heap, (-c.seq, c))
                if gi is not None:
                    buf[c] = gi
        if sinks:
            grads = gi = None  # so that a sink that is the sole owner may keep the array
            for c in sinks:
                accumulate(c, take(c, None), interp, capture, captured)
            sinks.clear()


def _arity_error(n, grads):
    return AutogradError(
        f"the gradient rule of op '{n.op.name}' returned {len(grads)} gradients for {len(n.next)} "
        "inputs; a vjp must return exactly one entry (or None) per input"
    )


def _compiled():
    """The compiled walk, given what it reads and calls; None where it is not built (or is off)."""
    from .node import Counters, Node, SavedValue
    from .record import OpInfo, Version

    mod = _accel.load("_cwalk")
    if mod is None:
        return None
    try:
        mod.setup(Node=Node, Tensor=Tensor, Version=Version, SavedValue=SavedValue, OpInfo=OpInfo,
                  Counters=Counters, AccumulateGrad=AccumulateGrad, ShapeOnly=ShapeOnly, ndarray=ndarray,
                  STATS=STATS, FREED_MSG=FREED_MSG, FreedGraphError=FreedGraphError, version_error=version_error,
                  arity_error=_arity_error, accumulate=accumulate, run_hooks=run_hooks, unpack=unpack,
                  shape_only=shape_only, SHAPE_ONLY=_SHAPE_ONLY)
    except TypeError as e:  # a class it reads changed shape (a slot renamed or gone): walk in Python
        _accel.LOADED.pop("_cwalk", None)
        warnings.warn(f"dyngraph._cwalk cannot read dyngraph's classes ({e}); dyngraph walks in Python. "
                      "Update dyngraph/_cwalk_slots.h to the classes and rebuild.", RuntimeWarning, stacklevel=2)
        return None
    return mod


CWALK = _compiled()  # None: every backward runs walk_py
