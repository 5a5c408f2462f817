"""The whole-step tier: a small program's every instruction in ONE compiled function.

A program of small static arrays (an RNN cell unrolled, a chain of scalar ops) spends its
time on calls, not arithmetic: about a microsecond of Python and NumPy dispatch per
instruction. When every instruction has a whole-step form (``why_not`` says which does not),
``sg.compile(..., optimize=True)`` decides at compile time to run the program in whole-step
mode, and a program's results then never change tier by tier:

- the ``fuse`` pass fuses every elementwise op, even a lone one (the cost model is for calls,
  and a whole step has none), so every elementwise op computes the fused regions' scalar code;
- the executable (the NumPy tier, which runs at once) computes matrix products and sums with
  ``shared_ops.fusion_step``'s fixed order (products added left to right along ``k``) instead
  of BLAS's, and regions on their own tiers (bitwise alike);
- in the background (``shared_ops.fusion_jit``, the worker process, the on-disk cache), numba
  compiles ``step(feeds..., variables..., constants...)``: each region's loop nest
  (``fusion_cpu.generate_source``) and the same products and sums as loops, every view as the
  same indexing; when it is built, ``fn(*args)`` is one call of it.

Both tiers compute the same operations in the same order, so the results are bitwise equal
whichever ran (``tests/staticgraph/test_tiers_whole_step.py`` switches mid-run). Against
``optimize=False`` (BLAS products, NumPy's own ``tanh``) they differ within the ``fuse``
tolerance. ``optimize={"whole_step": False}`` switches the mode off.
While something wraps the kernels (``shared_ops.instrument``, ``perturb_rounding``,
``wrap_kernels``) the step runs on its NumPy tier, kernel by kernel, where they can see it.
"""

from __future__ import annotations

import functools
import math
import re
import time

import numpy as np

from .fusion import FUSIBLE_DTYPES, FusedKernel, Project, numba_state, reduced_dims

EXACT = False  # products and sums in a fixed sequential order, not BLAS's or NumPy's pairwise sum

# Thresholds (``python benchmarks/bench_whole_step.py`` measures the product's): at most
# MAX_ELEMS elements per value (the fuse pass's small-loop size: beyond it a NumPy call is no
# longer mostly dispatch); at most MAX_MACS multiply-adds per product: the sequential-k loop
# costs what a BLAS call from Python does at about 4096 (16x16 @ 16x16: 1.6 us each), and at
# twice that about one call more (20x20 @ 20x20: 2.8 against 1.8 us), which the step repays by
# the call it saves; MAX_NODES instructions (numba's build time grows with the function).
MAX_ELEMS, MAX_MACS, MAX_NODES = 4096, 8192, 1500
MATMULS = {"matmul": (False, False), "matmul_nt": (False, True), "matmul_tn": (True, False)}
SUMS = ("sum", "sum_to")
RESHAPES = ("reshape", "expand_dims", "squeeze")
VIEWS = RESHAPES + ("transpose", "broadcast_to", "getitem", "copy", "clone")
NUMERIC = ("float32", "float64", "int64")  # numba keeps these types through * and +
_NP = {"float32": "np.float32", "float64": "np.float64", "int64": "np.int64", "int32": "np.int32", "bool": "np.bool_"}


def why_not(program, elementwise=None) -> str | None:
    """Why ``program`` cannot run whole-step (``None``: it can). ``elementwise``: before
    fusion, the predicate of the ops the ``fuse`` pass will turn into regions."""
    nodes = program.nodes
    if len(nodes) > MAX_NODES:
        return f"{len(nodes)} nodes (more than {MAX_NODES}: the compiled function would build slowly)"
    for n in nodes:
        if None in n.shape:
            return f"%{n.id} {n.op} has a size known only at run time"
        if n.dtype not in FUSIBLE_DTYPES:
            return f"%{n.id} {n.op} is {n.dtype}"
        size = math.prod(n.shape)
        if size > MAX_ELEMS:
            return f"%{n.id} {n.op} has {size} elements (more than {MAX_ELEMS})"
        if n.is_source:
            continue
        reason = _op_reason(program, n, elementwise)
        if reason:
            return f"%{n.id} {n.op}: {reason}"
    return None


def _op_reason(program, n, elementwise) -> str | None:
    op, ins = n.op, [program[i] for i in n.inputs]
    if op == "fused":
        return None if isinstance(n.payload, (FusedKernel, Project)) else "not a fused region"
    if op in MATMULS:
        a, b = ins
        ranks = (1, 2) if op == "matmul" else (2,)
        if len(a.shape) not in ranks or len(b.shape) not in ranks:
            return f"operands of rank {len(a.shape)} and {len(b.shape)} (a batched product has no whole-step form)"
        if not (a.dtype == b.dtype == n.dtype and n.dtype in NUMERIC):
            return f"{a.dtype} @ {b.dtype} -> {n.dtype}"
        k = a.shape[-2 if op == "matmul_tn" else -1]
        if math.prod(n.shape) * k > MAX_MACS:
            return f"{math.prod(n.shape) * k} multiply-adds (more than {MAX_MACS})"
        return None
    if op in SUMS:
        if len(ins) != 1 or not (ins[0].dtype == n.dtype and n.dtype in NUMERIC):
            return f"a sum of {ins[0].dtype if ins else '?'} to {n.dtype}"
        return None
    if op in VIEWS:
        if op == "getitem":
            kinds = {e[0] for e in n.attrs.get("index", ())}
            if len(ins) != 1 or not kinds <= {"s", "i", "n", "e"}:
                return "an index with arrays has no whole-step form"
        elif op == "broadcast_to" and len(ins) not in (1, 2):
            return "unexpected inputs"
        return None
    if elementwise is not None and elementwise(n):
        return None  # the fuse pass makes it a region
    return "no whole-step form"


# --------------------------------------------------------------------------- the step function


def _index(entries) -> str:
    parts = []
    for e in entries:
        if e[0] == "i":
            parts.append(str(int(e[1])))
        elif e[0] == "e":
            parts.append("...")
        elif e[0] == "s":
            parts.append(":".join("" if v is None else str(int(v)) for v in e[1:]))
    if not parts:
        return "..."
    return ", ".join(parts) + ("," if len(parts) == 1 and parts[0] != "..." else "")


class WholeStep:
    """The whole-step tier of one program: ``source`` (numba's), ``overrides`` (the NumPy
    tier's kernels for the executable, per node id, called as ``kernel(xp, *arrays)``), the
    build ``job``, and the runner."""

    def __init__(self, program):
        self.program = program
        self.job = None
        self.hold = False                   # use_tier("numpy"): keep the NumPy tier
        self.exes: list = []                # executables to switch when the build is done
        self.layouts: set = set()
        t0 = time.perf_counter()
        self.overrides = self._overrides()
        self.source, self.args, self.consts = self._generate()
        self.build_seconds = {"numpy": time.perf_counter() - t0}
        self.step = None

    # -- the NumPy tier ------------------------------------------------------------
    def _overrides(self) -> dict:
        from shared_ops.fusion_step import matmul_seq, sum_seq

        out = {}
        for n in self.program.nodes:
            if n.op in MATMULS:
                ta, tb = MATMULS[n.op]
                out[n.id] = lambda xp, a, b, ta=ta, tb=tb: matmul_seq(a, b, ta, tb)
            elif n.op in SUMS:
                axes, _ = reduced_dims(n, tuple(self.program[n.inputs[0]].shape)) if n.op == "sum_to" else (
                    _sum_axes(n, len(self.program[n.inputs[0]].shape)), None)
                out[n.id] = lambda xp, x, axes=tuple(axes), shape=tuple(n.shape): sum_seq(x, axes, shape)
        return out

    # -- the compiled tier ---------------------------------------------------------
    def _generate(self):
        from shared_ops.fusion_step import module_source

        p = self.program
        feeds = [f"F{k}" for k in range(len(p.inputs))]
        names = {i: f for i, f in zip(p.inputs, feeds)}
        variables = [f"V{k}" for k in range(len(p.variables))]
        names.update(zip(p.variables, variables))
        consts, cnames = [], []
        parts: list = []
        L = []
        for n in p.nodes:
            v = f"v{n.id}"
            if n.op in ("placeholder", "variable"):
                continue
            if n.op == "constant":
                names[n.id] = f"C{len(consts)}"
                cnames.append(names[n.id])
                consts.append(np.array(n.value, dtype=n.dtype))
                continue
            a = [names[i] for i in n.inputs]
            if n.op == "fused" and isinstance(n.payload, Project):
                names[n.id] = f"{names[n.inputs[0]]}_{n.payload.k}"
                continue
            names[n.id] = v
            if n.op == "fused":
                k = n.payload
                outs = [f"{v}_{j}" for j in range(len(k.outputs))] if len(k.outputs) > 1 else [v]
                L.extend(_inline(k, n.id, a, outs))
            elif n.op in MATMULS:
                ta, tb = MATMULS[n.op]
                x, y = (a[0] + ".T" if ta else a[0]), (a[1] + ".T" if tb else a[1])
                ra, rb = len(p[n.inputs[0]].shape), len(p[n.inputs[1]].shape)
                L.append(f"    {v} = _mm{ra}{rb}({x}, {y})")
            elif n.op in SUMS:
                src = p[n.inputs[0]]
                axes = reduced_dims(n, tuple(src.shape))[0] if n.op == "sum_to" else _sum_axes(n, len(src.shape))
                keep = [d for d in range(len(src.shape)) if d not in axes]
                kept, r = math.prod(src.shape[d] for d in keep), math.prod(src.shape[d] for d in axes)
                L.append(f"    {v} = _sumrows(np.ascontiguousarray(np.transpose({a[0]}, {tuple(keep + list(axes))!r}))"
                         f".reshape(({kept}, {r}))).reshape({tuple(n.shape)!r})")
            elif n.op in RESHAPES:
                L.append(f"    {v} = np.ascontiguousarray({a[0]}).reshape({tuple(n.shape)!r})")
            elif n.op == "transpose":
                axes = n.attrs.get("axes")
                perm = tuple(range(len(n.shape)))[::-1] if axes is None else tuple(int(x) % len(n.shape) for x in axes)
                L.append(f"    {v} = np.transpose({a[0]}, {perm!r})")
            elif n.op == "broadcast_to":
                L.append(f"    {v} = np.broadcast_to({a[0]}, {tuple(n.shape)!r})")
            elif n.op == "getitem":
                entries = n.attrs["index"]
                picked = f"{a[0]}[{_index([e for e in entries if e[0] != 'n'])}]"
                if not n.shape:  # numba gives a scalar for a full integer index: keep a 0-d array
                    L.append(f"    {v} = np.empty((), {_NP[n.dtype]})")
                    L.append(f"    {v}[()] = {picked}")
                    continue
                L.append(f"    {v} = {picked}")
                if any(e[0] == "n" for e in entries):
                    L.append(f"    {v} = np.ascontiguousarray({v}).reshape({tuple(n.shape)!r})")
            elif n.op in ("copy", "clone"):
                L.append(f"    {v} = {a[0]}.copy()")
            else:  # why_not let through an op this generator does not know
                raise ValueError(f"whole step: no form for %{n.id} {n.op}")
        source_ids = {n.id for n in p.nodes if n.is_source}
        rets = [names[i] + (".copy()" if i in source_ids else "") for i in p.outputs]
        rets += [names[x] + (".copy()" if x in source_ids else "") for _, x in p.assigns]
        head = f"@njit(nogil=True, cache=True, error_model=\"numpy\")\ndef step({', '.join(feeds + variables + cnames)}):"
        # the regions' loops run unchecked (``checks=False``): the arguments' shapes are checked
        # once here (a mismatch raises, and the runner lets the NumPy tier report it)
        guard = [f"{nm}.shape[{d}] != {size}" for nm, i in zip(feeds + variables, list(p.inputs) + list(p.variables))
                 for d, size in enumerate(p[i].shape)]
        head_checks = [f"    if {' or '.join(guard)}:", "        raise ValueError('shape')"] if guard else []
        body = head_checks + L + [f"    return ({''.join(r + ', ' for r in rets)})"]
        parts.append("\n".join([head] + body) + "\n")
        args = [(tuple(p[i].shape), p[i].dtype) for i in p.inputs] + \
               [(tuple(p[i].shape), p[i].dtype) for i in p.variables] + [(c.shape, c.dtype.name) for c in consts]
        return module_source(parts), args, consts

    # -- building and switching ----------------------------------------------------
    def start(self):
        """Ask for the compiled step (built per ``shared_ops.fusion_jit``'s mode)."""
        if self.job is None:
            from shared_ops import fusion_jit, fusion_worker

            body, args = self.source, self.args
            self.job = fusion_jit.submit(("step", body), lambda: fusion_worker.build_step(body, args))
            self.job.on_done(self._ready)
        return self.job

    def _ready(self, job) -> None:
        if job.state == "done":
            self.step, self.build_seconds["numba"] = job.result
            for exe in self.exes:
                exe.choose_run()

    def wait(self, timeout: float | None = None) -> bool:
        return self.start().wait(timeout)

    @property
    def tier(self) -> str:
        return "numba" if self.step is not None and not self.hold else "numpy"

    def use_tier(self, tier: str) -> None:
        if tier == "numpy":
            self.hold = True
        elif not self.wait():
            raise RuntimeError(f"the whole-step function could not be built: {self.job.error!r}")
        else:
            self.hold = False
        for exe in self.exes:
            exe.choose_run()

    def runner(self, exe):
        """``run(F, V)`` calling the compiled step (None while it is not built or held back)."""
        if self.step is None or self.hold:
            return None
        p = self.program
        nf, nv, no = len(p.inputs), len(p.variables), len(p.outputs)
        args = [f"F[{k}]" for k in range(nf)] + [f"V[{k}]" for k in range(nv)] + [f"_C[{k}]" for k in range(len(self.consts))]
        outs = "".join(f"r[{k}], " for k in range(no))
        assigned = "".join(f"r[{no + k}], " for k in range(len(p.assigns)))
        src = "\n".join([
            "def run(F, V):",
            "    try:",
            f"        r = _S({', '.join(args)})",
            "    except TypeError:",
            "        return _layout(F, V)",
            "    except Exception:",  # the NumPy tier runs it again and says which node failed
            "        return _py(F, V)",
            f"    return ({outs}), ({assigned})",
        ]) + "\n"
        g = {"_S": self.step, "_C": self.consts, "_py": exe.python_run, "_layout": lambda F, V: self._layout(exe, F, V)}
        exec(compile(src, "<whole step runner>", "exec"), g)  # our own generated code
        return g["run"]

    def _layout(self, exe, F, V):
        """Argument types without machine code (another layout): this call runs on the NumPy
        tier (the same bits); the layout is compiled in the background for the next ones."""
        out = exe.python_run(F, V)
        import numba

        from shared_ops import fusion_cpu, fusion_jit

        try:
            types = tuple(numba.typeof(a) for a in (*F, *V, *self.consts))
        except (TypeError, ValueError):
            return out
        if types not in self.layouts:
            self.layouts.add(types)
            step = self.step
            fusion_jit.submit(("step-layout", self.source, types), lambda: fusion_cpu.add_layout(step, types))
        return out

    def tier_line(self) -> str:
        return (f"whole step: runs on {self.tier}; every instruction in one compiled function; "
                f"numpy tier built in {self.build_seconds['numpy'] * 1e3:.2f} ms; "
                f"{numba_state(self.build_seconds, self.job)}")


_JIT = "@njit(nogil=True, cache=True, error_model=\"numpy\")\n"


_KEEP = frozenset({"np", "math", "sqrt", "abs", "range", "min", "max", "if", "for", "in", "pass", "and", "or", "not",
                   "else", "True", "False", "None"})
# a name of the generated loop (never an attribute after a dot, never a helper: those start with _)
_NAME = re.compile(r"(?<![.\w])([a-z][a-z0-9_]*)\b")


@functools.lru_cache(maxsize=256)
def _loop_template(spec) -> tuple:
    """The region's unchecked loop nest (``fusion_cpu.generate_source``) as ``(lines, locals)``,
    the function's first line dropped."""
    from shared_ops.fusion_cpu import generate_source

    lines = generate_source(spec, "_region", checks=False).rstrip("\n").split("\n")[1:]
    found = {m.group(1) for ln in lines for m in _NAME.finditer(ln)} - _KEEP
    return tuple(lines), frozenset(found)


def _inline(k, nid: int, args: list, results: list) -> list:
    """The region ``k`` (node ``nid``) written into the step: its loop nest with every local
    name made unique to the node (``<name>_r<nid>``), its inputs read from ``args``, its
    outputs allocated and then named ``results`` (in the program's shapes). Inlined rather
    than called: a numba call with dozens of array arguments (a weight gradient summing 32
    steps) costs seconds to type and lower."""
    lines, found = _loop_template(k.spec)
    names = {nm: f"{nm}_r{nid}" for nm in found}
    names.update({f"in{j}": a for j, a in enumerate(args)})
    names.update({f"out{j}": f"o{nid}_{j}" for j in range(len(k.spec.outputs))})
    sub = lambda m: names.get(m.group(1), m.group(1))  # noqa: E731
    L = []
    for j, o in enumerate(k.spec.outputs):
        shape = tuple(1 if d in o.reduce else s for d, s in enumerate(k.spec.shape))
        L.append(f"    o{nid}_{j} = np.empty({shape!r}, {_NP[o.dtype]})")
    L.extend(_NAME.sub(sub, ln) for ln in lines)
    for j, (r, info) in enumerate(zip(results, k.outputs)):
        L.append(f"    {r} = o{nid}_{j}.reshape({tuple(info.shape)!r})" if info.drop else f"    {r} = o{nid}_{j}")
    return L


def _sum_axes(n, ndim: int) -> tuple:
    axis = n.attrs.get("axis")
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(a % ndim for a in ((axis,) if isinstance(axis, int) else axis)))


__all__ = ["WholeStep", "why_not", "MAX_ELEMS", "MAX_MACS", "MAX_NODES"]
