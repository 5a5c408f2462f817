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
  compiles ``step(feeds..., variables..., constants...)`` (``staticgraph.wholestep_source``
  writes it): each region's loop nest (``fusion_cpu.generate_source``) and the same products
  and sums as loops, every view as the same indexing; when it is built, ``fn(*args)`` is one
  call of it, made straight from the function's entry (``staticgraph.entry``).

Both tiers compute the same operations in the same order, so the results are bitwise equal
whichever ran (``tests/staticgraph/test_tiers_whole_step.py`` switches mid-run). Against
``optimize=False`` (BLAS products, NumPy's own ``tanh``) they differ within the ``fuse``
tolerance. ``optimize={"whole_step": False}`` switches the mode off.
While something wraps the kernels (``shared_ops.instrument``, ``perturb_rounding``,
``wrap_kernels``) the step runs on its NumPy tier, kernel by kernel, where they can see it.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .fusion import FUSIBLE_DTYPES, FusedKernel, Project, numba_state, reduced_dims
from .wholestep_source import MATMULS, SUMS, VIEWS, generate, sum_axes

EXACT = False  # products and sums in a fixed sequential order, not BLAS's or NumPy's pairwise sum

# Thresholds (``python benchmarks/bench_whole_step.py`` measures the product's): at most
# MAX_ELEMS elements per value (the fuse pass's small-loop size: beyond it a NumPy call is no
# longer mostly dispatch); at most MAX_MACS multiply-adds per product: the sequential-k loop
# costs what a BLAS call from Python does at about 4096 (16x16 @ 16x16: 1.6 us each), and at
# twice that about one call more (20x20 @ 20x20: 2.8 against 1.8 us), which the step repays by
# the call it saves; MAX_NODES instructions (numba's build time grows with the function).
MAX_ELEMS, MAX_MACS, MAX_NODES = 4096, 8192, 1500
NUMERIC = ("float32", "float64", "int64")  # numba keeps these types through * and +


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
        self.source, self.args, self.consts = generate(program)
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
                    sum_axes(n, len(self.program[n.inputs[0]].shape)), None)
                out[n.id] = lambda xp, x, axes=tuple(axes), shape=tuple(n.shape): sum_seq(x, axes, shape)
        return out

    # -- the compiled tier ---------------------------------------------------------
    # ``wholestep_source.generate`` writes it; built in the background

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

    def call_code(self, feeds: list, variables: list) -> tuple:
        """The compiled step's call, for generated Python (the runner below and
        ``staticgraph.entry``): ``(globals, call, outputs, assigned)``: ``call`` calls the step
        on the argument expressions ``feeds`` and ``variables``; ``outputs`` and ``assigned``
        read each result from its value ``r``. A 0-d output arrives as a Python number and is
        made the NumPy scalar of its dtype, as NumPy's own kernels return it: ``one * r[k]``,
        ``one`` that dtype's 1 (NumPy 2 keeps the scalar's dtype, NEP 50; exact), costs
        0.06 us where ``np.float32(r[k])`` costs 0.25 (``python -m timeit``)."""
        p = self.program
        g = {"_S": self.step, **{f"_C{k}": c for k, c in enumerate(self.consts)}}
        call = f"_S({', '.join([*feeds, *variables, *(f'_C{k}' for k in range(len(self.consts)))])})"
        outs = []
        for k, i in enumerate(p.outputs):
            if p[i].shape:
                outs.append(f"r[{k}]")
                continue
            kind = np.dtype(p[i].dtype).type
            one = kind(1)
            if type(one * one.item()) is kind:
                g[f"_one{k}"] = one
                outs.append(f"_one{k} * r[{k}]")
            else:  # a dtype whose product with a Python number changes type: the constructor
                g[f"_T{k}"] = kind
                outs.append(f"_T{k}(r[{k}])")
        return g, call, outs, [f"r[{len(outs) + k}]" for k in range(len(p.assigns))]

    def runner(self, exe):
        """``run(F, V)`` calling the compiled step (None while it is not built or held back)."""
        if self.step is None or self.hold:
            return None
        p = self.program
        g, call, outs, assigned = self.call_code([f"F[{k}]" for k in range(len(p.inputs))],
                                                 [f"V[{k}]" for k in range(len(p.variables))])
        src = "\n".join([
            "def run(F, V):",
            "    try:",
            f"        r = {call}",
            "    except TypeError:",
            "        return _layout(F, V)",
            "    except Exception:",  # the NumPy tier runs it again and says which node failed
            "        return _py(F, V)",
            f"    return ({''.join(o + ', ' for o in outs)}), ({''.join(a + ', ' for a in assigned)})",
        ]) + "\n"
        g.update(_py=exe.python_run, _layout=lambda F, V: self._layout(exe, F, V))
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


__all__ = ["WholeStep", "why_not", "MAX_ELEMS", "MAX_MACS", "MAX_NODES"]
