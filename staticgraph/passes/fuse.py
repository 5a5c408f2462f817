"""fuse: group elementwise regions into one generated kernel each (XLA's loop fusion).

``%3 = mul %1 %2; %4 = add %3 %1; %5 = tanh %4 -> %5 = fused[3 ops: mul,add,tanh] %1 %2``

A region is a maximal connected set of elementwise nodes (ops with a ``scalar_expr``, plus
``broadcast_to`` of a value from outside) of ONE output shape, forward and backward alike;
values from outside may broadcast into it. A reduction (``sum``/``sum_to``) of a region value
joins as an output accumulated in the same loop (no node may then read that sum inside the
region). Regions grow greedily in program order; a node joins (and may merge) the regions of
its inputs while nothing outside those regions reads them yet, which is what rules out a
path that leaves a region and comes back (a cycle) in constant time per node.
Values used outside the region become its outputs (``Project`` nodes pick them from the
kernel's tuple). A region must save work: at least two NumPy calls (a reduction counts, a
``broadcast_to`` does not; a composite op such as ``tanh_grad`` is several) and, on a small
loop, NumPy calls worth more than the fused call itself (``CALL_US``...: the cost model). On
NumPy a region runs at once on its NumPy tier, and its numba
loop is built in the background (``shared_ops.fusion_jit``; ``fn.wait_compiled()`` waits).
First, a ``sum_to``/``broadcast_to`` to its input's own symbolic shape (``staticgraph.symbolic``:
a free batch dimension carried through) is dropped: it is the identity, and each would end a
region. A region holds at most ``MAX_REGION`` nodes: its numba loop swaps in only once the whole loop
is built (about 20 s for 1000 steps on a loaded 2-core machine; the build time is linear in the
steps, ``fusion_cpu.BLOCK_STEPS``), so a longer chain continues in the next kernel and the
kernels swap in one by one (a call costs about a microsecond).
"""

from __future__ import annotations

EXACT = False  # generated kernels round differently (libm, float64 accumulation): held to a tolerance

import math
import time

from shared_ops.fusion_spec import fusible
from shared_ops.registry import REGISTRY

from ..fusion import FUSIBLE_DTYPES, FusedKernel, Project, build_spec
from ..program import PassResult, ProgramError
from ..symbolic import own_shape_identities

MAX_REGION = 1024


def _elementwise(n) -> bool:
    if n.op == "broadcast_to":  # its value is an index map; a `like` input only gives the shape
        return len(n.inputs) in (1, 2)
    if n.op in ("placeholder", "variable", "constant", "fused") or n.op not in REGISTRY:
        return False
    op = REGISTRY.get(n.op)
    if not (op.elementwise and op.scalar_expr is not None):
        return False
    try:
        return fusible(n.op, tuple(sorted(n.attrs.items())), n.dtype, len(n.inputs))
    except TypeError:  # an unhashable attribute value
        return False


def _reduction(n) -> bool:
    op = n.opdef
    return op is not None and op.reduction


SEARCH_BUDGET = 2000  # nodes a cycle search may visit before the region counts as closed


class _Regions:
    """Union-find over regions; ``readers``: per region, the nodes outside it that read it, and
    its reductions (their values exist only after its loop); ``ext``: per region, the values it
    reads from outside."""

    def __init__(self):
        self.parent: dict[int, int] = {}
        self.members: dict[int, list[int]] = {}
        self.shape: dict[int, tuple] = {}
        self.readers: dict[int, set] = {}
        self.ext: dict[int, set] = {}

    def find(self, r: int) -> int:
        while self.parent[r] != r:
            self.parent[r] = self.parent[self.parent[r]]
            r = self.parent[r]
        return r

    def new(self, nid: int, shape) -> int:
        self.parent[nid] = nid
        self.members[nid] = [nid]
        self.shape[nid] = shape
        self.readers[nid], self.ext[nid] = set(), set()
        return nid

    def union(self, a: int, b: int) -> int:
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        self.parent[b] = a
        self.members[a] += self.members.pop(b)
        self.readers[a] |= self.readers.pop(b)
        self.ext[a] |= self.ext.pop(b)
        return a

    def reaches_reader(self, program, region: dict, starts, r: int) -> bool:
        """Whether a value in ``starts`` depends on a reader of region ``r`` (a path that
        left ``r``), regions counting as units (depending on one member is depending on all
        the region reads, so a member of ``r`` reached through one is such a path too). True
        also when the search exceeds ``SEARCH_BUDGET`` nodes."""
        targets = self.readers[r]
        if not targets:
            return False
        stack, seen, units = list(starts), set(), set()
        direct = set(stack)
        while stack:
            v = stack.pop()
            if v in targets:
                return True
            if v in seen:
                continue
            seen.add(v)
            if len(seen) > SEARCH_BUDGET:
                return True
            q = region.get(v)
            if q is None:
                stack.extend(program[v].inputs)
                continue
            q = self.find(q)
            if q == r and v not in direct:  # reached through a region that reads r: a path that left r
                return True
            if q != r and q not in units:
                units.add(q)
                stack.extend(self.ext[q])
        return False


def _form_regions(program):
    """Regions in one walk in program order. A region runs as one unit, so growing it must
    not close a cycle through the outside: a path that leaves a region starts at a node
    outside it that reads it. While nothing outside a region reads it, it grows freely
    (constant time); once something does, a node joins it only if none of its inputs depends
    on such a reader (a search bounded by ``SEARCH_BUDGET`` nodes: linear time overall)."""
    R = _Regions()
    region: dict[int, int] = {}   # node -> region (raw id; find() it)
    sink: set[int] = set()        # reductions: in a region, but readable only after its loop
    for n in program.nodes:
        joined = None
        dtypes_ok = n.dtype in FUSIBLE_DTYPES and all(program[i].dtype in FUSIBLE_DTYPES for i in n.inputs)
        is_red = dtypes_ok and _reduction(n) and len(n.inputs) == 1 and n.inputs[0] in region \
            and n.inputs[0] not in sink
        if dtypes_ok and (_elementwise(n) or is_red):
            shape = tuple(program[n.inputs[0]].shape if is_red else n.shape)
            chosen: list[int] = []
            size = 1
            for i in (n.inputs[1:] if n.op == "broadcast_to" else n.inputs):
                if i in region and i not in sink:
                    r = R.find(region[i])
                    if r in chosen or R.shape[r] != shape or size + len(R.members[r]) > MAX_REGION:
                        continue
                    outside = [j for j in n.inputs if not (j in region and R.find(region[j]) == r and j not in sink)]
                    if R.reaches_reader(program, region, outside, r):
                        continue
                    if any(R.reaches_reader(program, region, R.ext[c], r) or R.reaches_reader(program, region, R.ext[r], c)
                           for c in chosen):  # two regions merged: neither may reach the other's readers
                        continue
                    chosen.append(r)
                    size += len(R.members[r])
            if is_red:
                if chosen:
                    joined = chosen[0]
                    R.members[joined].append(n.id)
                    sink.add(n.id)
                    R.readers[joined].add(n.id)  # its value exists after the loop: what reads it stays out
            else:
                joined = R.new(n.id, shape) if not chosen else chosen[0]
                if chosen:
                    R.members[joined].append(n.id)
                    for c in chosen[1:]:
                        joined = R.union(joined, c)
            if joined is not None:
                region[n.id] = joined
                joined = R.find(joined)
        for i in n.inputs:  # the regions n reads without belonging to them; what n's region reads
            if i in region:
                r = R.find(region[i])
                if r != joined or i in sink:
                    R.readers[r].add(n.id)
                    if joined is not None:
                        R.ext[joined].add(i)
            elif joined is not None:
                R.ext[joined].add(i)
    out = []
    for r, members in R.members.items():
        if R.find(r) != r:
            continue
        out.append((R.shape[r], members, [m for m in members if m in sink]))
    return out


# The cost model. A fused call costs about CALL_US plus ARG_US per array it passes (the
# runner's Python and numba's unboxing of each argument), whatever its ops; each op left
# unfused is one NumPy call of about NUMPY_CALL_US on a small array (``python
# benchmarks/bench_fusion_cost.py`` measures all three on one core and prints the crossover).
# On up to SMALL_ELEMS elements those fixed costs are the whole cost, so a region there must
# replace enough NumPy calls to pay for its own call: two ops with four arrays do (add+tanh of
# 20 elements: 1.1 us fused against 1.3 us), two ops with five arrays do not. On more elements,
# or a size known only at run time, one pass over memory instead of one per op wins as soon
# as two ops fuse.
CALL_US, ARG_US, NUMPY_CALL_US, SMALL_ELEMS = 0.7, 0.1, 0.6, 4096


def _calls(program, members, views) -> int:
    """The NumPy calls a region replaces: its ops' (``OpDef.numpy_calls``: one, or more for a
    composite such as ``tanh_grad``; a ``broadcast_to`` is an index map, no call) and one per
    view folded into its inputs' index maps (an ``expand_dims``, a ``transpose``)."""
    return sum(program[m].opdef.numpy_calls for m in members if program[m].op != "broadcast_to") + len(views)


def _worth(program, members, views, spec, every: bool = False) -> bool:
    """Two NumPy calls replaced at least and, on a small loop, more saved than the fused call
    costs (the cost model above); ``every`` (whole-step mode, no calls to save): one op."""
    calls = _calls(program, members, views)
    if every:
        return calls >= 1
    if calls < 2:
        return False
    if None in spec.shape or math.prod(spec.shape) > SMALL_ELEMS:
        return True
    return calls * NUMPY_CALL_US > CALL_US + ARG_US * (len(spec.inputs) + len(spec.outputs))


def _fuse(program, ctx):
    every = ctx is not None and ctx.shared.get("whole_step", "") is None  # whole-step mode: every op
    dropped = own_shape_identities(program)  # each would end a region (a reduction) or cost a view
    if dropped:
        program.remove_dead()
    regions = _form_regions(program)
    pos = {n.id: k for k, n in enumerate(program.nodes)}
    cons = program.consumers()
    keep = set(program.outputs) | {x for _, x in program.assigns}
    details, fused_nodes, costly = [], 0, 0
    moves: dict[int, int] = {}  # new node -> the member it goes before (its region's last)
    for loop, members, sinks in regions:
        members = sorted(members, key=pos.__getitem__)
        mset = set(members)
        steps = [m for m in members if m not in sinks]
        outputs = []
        for m in steps:
            if m in keep or any(c not in mset for c, _ in cons[m]):
                outputs.append((m, None))
        for s in sinks:
            outputs.append((program[s].inputs[0], s))
        try:
            spec, ext, infos, views = build_spec(program, steps, loop, outputs)
            spec.loop_sources()
        except (ValueError, KeyError):
            continue
        if not _worth(program, members, views, spec, every):
            if _calls(program, members, views) >= 2:
                costly += 1
            continue
        text = "; ".join(f"%{m}={program[m].op}" for m in members)
        readonly = tuple(program[i].op == "constant" and not getattr(program[i].value, "flags", None) is None
                         and not program[i].value.flags.writeable for i in ext)
        payload = FusedKernel(spec, infos, members, text, readonly)
        last = members[-1]
        first_spec = program[infos[0].node].spec
        f = program.add("fused", ext, {}, first_spec, payload=payload)
        moves[f.id] = last
        if len(infos) == 1:
            program.replace_uses(infos[0].node, f.id)
        else:
            for k, info in enumerate(infos):
                p = program.add("fused", [f.id], {}, program[info.node].spec, payload=Project(k))
                moves[p.id] = last
                program.replace_uses(info.node, p.id)
        fused_nodes += len(members)
        details.append(f"%{f.id} <- {len(members)} nodes ({payload.label}), {len(ext)} in, {len(infos)} out")
    program.place_before(moves)
    program.remove_dead()
    program.sort()
    if dropped:
        details.insert(0, f"{dropped} sum_to/broadcast_to to the value's own (symbolic) shape dropped")
    if costly:
        details.append(f"{costly} small region(s) left unfused: their call would cost more than "
                       "the NumPy calls they replace (cost model)")
    return details, fused_nodes


def _start_tiers(program, ctx) -> str:
    """Ask for every region's numba tier (built per ``shared_ops.fusion_jit``'s mode)."""
    if ctx is not None and ctx.backend not in (None, "numpy"):
        return ""
    kernels = [n.payload for n in program.nodes if n.op == "fused" and isinstance(n.payload, FusedKernel)]
    if not kernels:
        return ""
    try:
        from shared_ops import fusion_jit
    except ImportError as exc:  # pragma: no cover - numba missing: the NumPy tier runs
        return f"numba unavailable ({exc}); fused regions run on the NumPy tier"
    for k in kernels:
        k.start()
    ready = sum(1 for k in kernels if k.tier == "numba")
    return (f"{len(kernels)} region(s): NumPy tier built in "
            f"{sum(k.build_seconds['numpy'] for k in kernels) * 1e3:.1f} ms; numba tier: {ready} ready, "
            f"{len(kernels) - ready} {'building in the background' if fusion_jit.mode() == 'background' else 'on request'}")


def run(program, ctx) -> PassResult:
    before = len(program.nodes)
    t0 = time.perf_counter()
    work = program.copy()
    # whole-step mode (staticgraph.wholestep), decided here so that every elementwise op,
    # even a lone one, becomes a region with the same code in both of the step's tiers
    switched_off = ctx is not None and (ctx.options or {}).get("whole_step", True) is False
    if ctx is not None and not switched_off and ctx.backend in (None, "numpy"):
        from ..wholestep import why_not

        reason = why_not(program, _elementwise)
        if reason is None:
            try:
                from shared_ops import fusion_jit  # noqa: F401 - the step is built by numba
            except ImportError as exc:
                reason = f"numba unavailable ({exc})"
    else:
        reason = "switched off (optimize={'whole_step': False})" if switched_off else "not on NumPy"
    if ctx is not None:
        ctx.shared["whole_step"] = reason
    try:
        details, n = _fuse(work, ctx)
        work.check()
    except ProgramError as exc:  # a bug in region forming: keep the program unfused, say so
        return PassResult("fuse", before, before, [f"fusion skipped: {exc} (please report this graph)"],
                          time.perf_counter() - t0)
    program.replace_with(work)
    # in whole-step mode the regions' loops are built inside the step function (compile
    # starts them itself if the fused program turns out not to qualify)
    note = _start_tiers(program, ctx) if reason is not None else ""
    if note:
        details.append(note)
    if n:
        details.insert(0, f"fused {n} nodes into {sum(1 for x in program.nodes if isinstance(x.payload, FusedKernel))} kernel(s)")
    return PassResult("fuse", before, len(program.nodes), details, time.perf_counter() - t0)
