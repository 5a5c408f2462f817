"""Memory planning: liveness over the schedule, buffers assigned once and reused.

``plan(program)`` (called by ``sg.compile`` after the pass pipeline) returns a ``MemoryPlan``:

- ``slot_of`` / ``free_after`` / ``n_slots``: the executable's value slots (a slot is freed
  after the instruction where its value, and every view of it, is used for the last time);
- ``buffers`` and ``kernels``: real buffer reuse and in-place execution (an elementwise op
  whose same-shaped input dies at it writes over that input's buffer). Every value whose
  producer can write into a given array gets a ``Buffer``: a fused kernel's outputs, and
  (NumPy) the ops that declare ``forward_into`` (the same ufunc or BLAS call with ``out=``, so
  bitwise the same result). Two values share a buffer only if their lifetimes do not overlap;
  the lifetime of a value runs to the last use of anything that may alias it (an op's
  ``may_alias``: ``reshape``, ``transpose``, ``broadcast_to``...). Buffers
  are allocated at the first call and reused by every later call (XLA's buffer assignment).
  A buffer never holds a graph input, variable, constant, output or assigned value, nor
  anything a view of which is one, so nothing handed to the caller is ever overwritten.
  Not thread-safe: one compiled function runs one call at a time.

The report gives memory three ways plus the plan's resident size: the naive sum of all
intermediates, the liveness lower bound (the most bytes live at any instruction), and the
planned peak (the planned buffers, resident across calls, plus the unplanned values live at
the worst instruction). ``measure(fn, *args)`` gives the measured peak (tracemalloc).
``optimize={"memory": False}`` keeps the slots but plans no buffers. Which ops alias, view or
write into a given array is read from their ``OpDef`` (``may_alias``, ``view_of``,
``forward_into``), never from a list of names here.
"""

from __future__ import annotations

EXACT = True  # the same kernels write into reused buffers

import math
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from .fusion import FusedKernel, Project
from .liveness import simple_plan
from .program import Program

class Buffer:
    """One planned allocation (``nbytes``), materialised per backend at first use."""

    def __init__(self, index: int, nbytes: int):
        self.index = index
        self.nbytes = nbytes
        self._raw: dict = {}
        self._views: dict = {}

    def view(self, xp, shape: tuple, dtype: str):
        key = (xp.__name__, shape, dtype)
        v = self._views.get(key)
        if v is None:
            raw = self._raw.get(xp.__name__)
            if raw is None:
                raw = self._raw[xp.__name__] = xp.empty(max(self.nbytes, 1), dtype=xp.uint8)
            n = math.prod(shape) * np.dtype(dtype).itemsize
            v = self._views[key] = raw[:n].view(dtype).reshape(shape)
        return v


def _out_kernel(op, nin: int, buf: Buffer, shape: tuple, dtype: str, fallback):
    """``op.forward_into`` writing into the planned buffer. Bitwise the same values; and the
    same memory layout only when the inputs are C-contiguous for an elementwise op (NumPy
    gives a ufunc's result its inputs' layout, and a later sum's order follows the layout), so
    otherwise it allocates. A non-elementwise op (``matmul``) returns C order whatever its
    inputs: no check."""
    out = []  # the view, made at the first NumPy call
    check = op.elementwise
    into = op.forward_into

    def kernel(xp, *arrays, **attrs):
        if xp is np and (not check or all(a.flags.c_contiguous for a in arrays)):
            if not out:
                out.append(buf.view(xp, shape, dtype))
            return into(xp, *arrays, out=out[0])
        return fallback(xp, *arrays, **attrs)

    def kernel1(xp, a):
        if xp is np and (not check or a.flags.c_contiguous):
            if not out:
                out.append(buf.view(xp, shape, dtype))
            return into(xp, a, out=out[0])
        return fallback(xp, a)

    def kernel2(xp, a, b):
        if xp is np and (not check or a.flags.c_contiguous and b.flags.c_contiguous):
            if not out:
                out.append(buf.view(xp, shape, dtype))
            return into(xp, a, b, out=out[0])
        return fallback(xp, a, b)

    k = {1: kernel1, 2: kernel2}.get(nin, kernel)
    k.__name__ = f"{op.name}_into_b{buf.index}"
    k.buffer = buf
    return k


@dataclass
class MemoryPlan:
    slot_of: dict
    free_after: dict
    n_slots: int
    buffers: list = field(default_factory=list)
    buffer_of: dict = field(default_factory=dict)   # value id -> Buffer
    kernels: dict = field(default_factory=dict)     # node id -> kernel writing into its buffer
    inplace: int = 0                                # values written over an input that died there
    naive: int = 0
    lower_bound: int = 0
    planned_peak: int = 0
    lines: list = field(default_factory=list)

    @property
    def resident(self) -> int:
        return sum(b.nbytes for b in self.buffers)


def _nbytes(n) -> int | None:
    if any(d is None for d in n.shape):
        return None
    return math.prod(n.shape) * np.dtype(n.dtype).itemsize


def lifetimes(program: Program) -> tuple[dict, dict, set]:
    """``(def position, last position)`` per value, views' uses included; and the ids that
    must never live in a planned buffer (outputs, assigned values, sources, and anything one
    of them is a view of)."""
    pos = {n.id: k for k, n in enumerate(program.nodes)}
    end = len(program.nodes)
    last = {n.id: pos[n.id] for n in program.nodes}
    cons = program.consumers()
    keep = set(program.outputs) | {x for _, x in program.assigns}
    escape = set(keep) | {n.id for n in program.nodes if n.is_source}
    for n in reversed(program.nodes):  # consumers come later: their ends are final
        for c, at in cons[n.id]:
            c_node = program[c]
            op = c_node.opdef
            aliases = at in op.may_alias if op is not None else isinstance(c_node.payload, Project)
            last[n.id] = max(last[n.id], last[c] if aliases else pos[c])
            if aliases and c in escape:
                escape.add(n.id)
        if n.id in keep:
            last[n.id] = end
    return pos, last, escape


def _bytes_of(program, n) -> int:
    op = n.opdef
    if n.is_source or (op is not None and op.view_of):
        return 0
    if n.op == "fused" and isinstance(n.payload, FusedKernel) and len(n.payload.outputs) > 1:
        return 0  # a tuple: its arrays are counted on the Project nodes
    return _nbytes(n) or 0


def naive_bytes(program: Program) -> int:
    """The sum of every intermediate's bytes (views own none; free dimensions count 0)."""
    return sum(_bytes_of(program, n) for n in program.nodes)


def _writes_into(n) -> bool:
    """A NumPy kernel that can write its result into a given array (``forward_into``)."""
    op = n.opdef
    return op is not None and op.forward_into is not None


def plan(program: Program, ctx=None) -> MemoryPlan:
    """The memory plan of ``program`` (``ctx``: the ``PassContext`` of the pipeline, whose
    ``"memory"`` switch and ``naive_before`` it reads; ``None``: planning on)."""
    base = simple_plan(program)
    mp = MemoryPlan(base.slot_of, base.free_after, base.n_slots)
    pos, last, escape = lifetimes(program)
    size = {n.id: _bytes_of(program, n) for n in program.nodes}
    nodes = program.nodes
    # -- the three figures -----------------------------------------------------------
    mp.naive = sum(size.values())
    # lower bound: at instruction t, what was live before it (its inputs included) and what is
    # live after it (its output included) must each fit at once; in-place may merge a dying
    # input with the output, so input + output together is not a bound
    before = [0] * (len(nodes) + 2)
    after = [0] * (len(nodes) + 2)
    for n in nodes:
        s = size[n.id]
        if s:
            d, e = pos[n.id], min(last[n.id], len(nodes))
            before[d + 1] += s          # live before t for d < t <= e
            before[e + 1] -= s
            if e > d:
                after[d] += s           # live after t for d <= t < e
                after[e] -= s
    lb, lb_b, lb_a = 0, 0, 0
    for k in range(len(nodes)):
        lb_b += before[k]
        lb_a += after[k]
        lb = max(lb, lb_b, lb_a)
    mp.lower_bound = lb
    # -- buffers ------------------------------------------------------------------------
    on = ctx is None or ctx.on("memory")
    owner: dict[int, tuple] = {}  # value id -> (producing node, how it writes)
    if on:
        for n in nodes:
            if n.op == "fused" and isinstance(n.payload, FusedKernel):
                outs = n.payload.outputs
                targets = [n.id] if len(outs) == 1 else []
                if len(outs) > 1:
                    projs = {program[c].payload.k: c for c in program.clients(n.id)
                             if isinstance(program[c].payload, Project)}
                    targets = [projs.get(k) for k in range(len(outs))]
                for k, t in enumerate(targets):
                    if t is not None and t not in escape and _nbytes(program[t]):
                        owner[t] = (n, k)
            elif _writes_into(n) and n.id not in escape and _nbytes(n) \
                    and all(program[i].dtype == n.dtype for i in n.inputs) and not n.attrs:
                owner[n.id] = (n, None)
    free: list[Buffer] = []
    release: dict[int, list] = {}
    made_by: dict[int, list] = {}  # a fused node writes its Project values' buffers itself
    for vid, (prod, _) in owner.items():
        made_by.setdefault(prod.id, []).append(vid)
    for n in nodes:
        dying = release.get(pos[n.id], [])
        for vid in made_by.get(n.id, ()):
            need = _nbytes(program[vid])
            b = None
            if owner[vid][1] is None and n.opdef.elementwise:  # in place: over an input dying here
                for i in n.inputs:
                    bi = mp.buffer_of.get(i)
                    if bi is not None and bi in dying and tuple(program[i].shape) == tuple(n.shape) \
                            and program[i].dtype == n.dtype:
                        dying.remove(bi)
                        b = bi
                        mp.inplace += 1
                        break
            if b is not None:
                pass
            elif (fits := [b for b in free if b.nbytes >= need]) or free:
                b = min(fits, key=lambda b: b.nbytes) if fits else max(free, key=lambda b: b.nbytes)
            if b is None:
                b = Buffer(len(mp.buffers), need)
                mp.buffers.append(b)
            elif b in free:
                free.remove(b)
                b.nbytes = max(b.nbytes, need)
            mp.buffer_of[vid] = b
            release.setdefault(last[vid], []).append(b)
        free.extend(release.pop(pos[n.id], []))
    for vid, b in mp.buffer_of.items():
        prod, k = owner[vid]
        v = program[vid]
        if k is None:
            mp.kernels[prod.id] = _out_kernel(prod.opdef, len(prod.inputs), b, tuple(v.shape), v.dtype, prod.opdef.forward)
        else:
            payload = prod.payload
            bufs = list(payload.buffers or [None] * len(payload.outputs))
            bufs[k] = b
            payload.set_buffers(bufs)
    unplanned = [0] * (len(nodes) + 2)
    for n in nodes:
        if size[n.id] and n.id not in mp.buffer_of:
            unplanned[pos[n.id]] += size[n.id]
            unplanned[min(last[n.id], len(nodes)) + 1] -= size[n.id]
    live, peak = 0, 0
    for k in range(len(nodes)):
        live += unplanned[k]
        peak = max(peak, live)
    mp.planned_peak = mp.resident + peak
    mp.lines = [
        f"memory: {mp.n_slots} slots; {len(mp.buffer_of)} values in {len(mp.buffers)} reused buffer(s) "
        f"({len(mp.kernels)} ufunc/matmul out={f', {mp.inplace} of them in place' if mp.inplace else ''}, "
        f"{sum(1 for v in mp.buffer_of if v not in mp.kernels and program[v].op == 'fused')} fused outputs)"
        if on else f"memory: {mp.n_slots} slots; buffer planning off",
        f"memory: naive sum of intermediates {_fmt(mp.naive)}, planned peak {_fmt(mp.planned_peak)} "
        f"(resident buffers {_fmt(mp.resident)}), liveness lower bound {_fmt(mp.lower_bound)}",
    ]
    before = None if ctx is None else ctx.naive_before
    if before is not None and before != mp.naive:
        mp.lines.append(f"memory: naive sum of intermediates before the passes {_fmt(before)}")
    return mp


def _fmt(n: int) -> str:
    for unit, s in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= s:
            return f"{n / s:.2f} {unit}"
    return f"{n} B"


def measure(fn, *args, **kwargs) -> tuple[object, int]:
    """Run ``fn(*args)`` under tracemalloc: ``(result, peak bytes allocated during the call)``.
    NumPy reports its array allocations to tracemalloc; the planned buffers, allocated at the
    first call, count only in a first call's figure."""
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        out = fn(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was:
            tracemalloc.stop()
    return out, peak


__all__ = ["plan", "MemoryPlan", "Buffer", "lifetimes", "measure"]
