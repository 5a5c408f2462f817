"""The payload of a ``'fused'`` PNode: one kernel for a region of elementwise ops, in tiers.

``FusedKernel.kernel(xp, *arrays)`` runs the region:

- NumPy, first tier: the region's scalar code evaluated by NumPy, a block of rows at a time
  (``shared_ops.fusion_numpy``): built in milliseconds, so a compiled function runs at once;
- NumPy, second tier: the numba loop generated from the same ``KernelSpec``
  (``shared_ops.fusion_cpu``), built in a background thread (``shared_ops.fusion_jit``) and
  swapped in when ready. Both tiers compute the same arithmetic in the same order: results
  are bitwise identical whichever ran (``tests/staticgraph/test_tiers.py``);
- CuPy: one ``cupy.ElementwiseKernel`` generated from the same spec (``shared_ops.fusion_gpu``);
- anything else, or a run whose shapes break the compiled broadcasting pattern (a free
  dimension that turned out to be 1): the reference path, every op's own kernel in order.

It returns one array, or a tuple when the region has several outputs; ``Project(k)`` nodes
(also ``'fused'``) pick element ``k`` of that tuple, so the program stays one value a node.
Outputs are written into the memory plan's buffers when it gave some (``buffers``), else
into fresh arrays.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from shared_ops.fusion_spec import KernelSpec, Output, Step, loop_view
from shared_ops.registry import REGISTRY

FUSIBLE_DTYPES = ("float32", "float64", "int32", "int64", "bool")  # numba has no float16 arithmetic
TIERS = ("numpy", "numba")
_RUNNER_CODE: dict = {}  # runner source -> its code object: regions alike (a step of an RNN) share it


@dataclass(frozen=True)
class OutputInfo:
    """How the kernel's output ``k`` becomes the program value: its static spec, and for a
    reduction the op/attrs (reference path) and the loop dims dropped from the keepdims layout."""

    node: int
    shape: tuple
    dtype: str
    op: str | None = None
    attrs: tuple = ()
    drop: tuple = ()


class FusedKernel:
    """A region. ``spec`` is the cache key; ``members`` the node ids it replaced."""

    def __init__(self, spec: KernelSpec, outputs: list, members: list, text: str, readonly: tuple = ()):
        from shared_ops.fusion_numpy import interpreter

        self.spec = spec
        self.readonly = tuple(readonly) or (False,) * len(spec.inputs)  # numba types read-only arrays apart
        self.outputs = tuple(outputs)
        self.members = tuple(members)
        sums = "".join(f"+{o.op}" for o in self.outputs if o.op)
        self.label = (f"{len(spec.steps)} ops: {spec.label()}{sums}"
                      + (f" -> {len(outputs)} outs" if len(outputs) > 1 else ""))
        self.text = text            # the region as equations, for the report
        self.buffers = None         # set by the memory plan: per output, a Buffer or None
        self._gpu: dict = {}
        self.fallbacks = 0
        self._sources = self.spec.loop_sources()
        t0 = time.perf_counter()
        self.interpreter = interpreter(spec)
        self.build_seconds = {"numpy": time.perf_counter() - t0}
        self.job = None                          # the numba build (shared_ops.fusion_jit.Job)
        self._layouts: set = set()               # argument types asked of the numba kernel
        self._K = [self.interpreter]             # what the runner calls: the best tier ready
        self._O = [None] * len(self.outputs)     # planned output views (NumPy), made once
        self._F = [True] * len(self.outputs)     # per output: no planned buffer, a fresh array each call
        self.kernel = self._make_runner()

    # -- tiers ---------------------------------------------------------------------
    @property
    def tier(self) -> str:
        """``"numpy"`` or ``"numba"``: the tier the next NumPy call runs on."""
        return "numpy" if self._K[0] is self.interpreter else "numba"

    def start(self):
        """Ask for the numba tier (built per ``shared_ops.fusion_jit``'s mode); returns the job."""
        if self.job is None:
            from shared_ops import fusion_jit, fusion_worker

            spec, readonly = self.spec, self.readonly
            self.job = fusion_jit.submit(("fused", spec, readonly), lambda: fusion_worker.build(spec, readonly))
            self.job.on_done(self._ready)
        return self.job

    def _ready(self, job) -> None:
        if job.state == "done":
            self.build_seconds["numba"] = job.result[1]
            self._K[0] = job.result[0]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the numba tier (building it now if nothing else will); True once built
        (the region then runs on it unless ``use_tier("numpy")`` holds it back)."""
        return self.start().wait(timeout)

    def use_tier(self, tier: str) -> None:
        """Run on ``tier`` from the next call (``"numba"`` waits for it to be built)."""
        if tier not in TIERS:
            raise ValueError(f"use_tier: expected one of {', '.join(TIERS)}, got {tier!r}")
        if tier == "numpy":
            self._K[0] = self.interpreter
        elif not self.wait():
            raise RuntimeError(f"the numba tier of {self.label} could not be built: {self.job.error!r}")
        elif self._K[0] is self.interpreter:
            self._K[0] = self.job.result[0]

    def tier_line(self) -> str:
        """Where this region runs and what each tier cost to build, for the report."""
        return (f"runs on {self.tier}; numpy tier built in {self.build_seconds['numpy'] * 1e3:.2f} ms; "
                f"{numba_state(self.build_seconds, self.job)}")

    # -- running -------------------------------------------------------------------
    def _make_runner(self):
        """``kernel(xp, *arrays)`` as straight-line Python for this region (the executable calls
        it directly: per call, one shape read a loop dim, one ``empty`` per unplanned output,
        the call of the best tier ready)."""
        import numpy as np

        n_in = len(self.spec.inputs)
        args = ", ".join(f"a{j}" for j in range(n_in))
        L = [f"def kernel(xp, {args}):", "    if xp is not _np:", f"        return _other(xp, {args})",
             "    K = _K[0]"]
        # a 0-d input arrives as a 0-d array or as a NumPy scalar (what NumPy's reductions
        # return); numba would compile a second version for the scalar: make it the array
        for j, (_, idims) in enumerate(self.spec.inputs):
            if not idims:
                L += [f"    if a{j}.__class__ is not _nd:", f"        a{j} = _asarray(a{j})"]
        dims = []
        for d, s in enumerate(self._sources):
            L.append(f"    n{d} = {s[1]}" if s[0] == "static" else f"    n{d} = a{s[1]}.shape[{s[2]}]")
            dims.append(f"n{d}")
        for k, o in enumerate(self.spec.outputs):
            # a fresh output is made here (a Python call of _out costs as much as a small kernel);
            # _out makes the planned view once, when the memory plan gave a buffer
            shape = "(" + "".join(("1" if d in o.reduce else dims[d]) + ", " for d in range(len(dims))) + ")"
            L += [f"    o{k} = _O[{k}]", f"    if o{k} is None:",
                  f"        o{k} = _empty({shape}, _dt{k}) if _F[{k}] else _out({k}, {shape})"]
        outs = ", ".join(f"o{k}" for k in range(len(self.spec.outputs)))
        L += ["    try:", f"        K({args}, {outs})", "    except (ValueError, IndexError):",
              f"        return _fallback(xp, {args})",
              # numba has no machine code for these layouts yet (RuntimeError: a background
              # add_layout re-disabled compiling between numba's two checks of the flag)
              "    except (TypeError, RuntimeError):",
              f"        _layout(K, {args}, {outs})"]
        res = []
        for k, info in enumerate(self.outputs):
            if info.drop:
                res.append(f"o{k}.reshape({tuple(info.shape)!r})" if None not in info.shape else f"_drop({k}, o{k})")
            else:
                res.append(f"o{k}")
        L.append(f"    return {res[0]}" if len(res) == 1 else f"    return ({', '.join(res)},)")
        g = {"_np": np, "_nd": np.ndarray, "_asarray": np.asarray, "_K": self._K, "_O": self._O, "_F": self._F,
             "_empty": np.empty, **{f"_dt{k}": np.dtype(o.dtype) for k, o in enumerate(self.spec.outputs)},
             "_other": self._other, "_layout": self._layout,
             "_out": self._out, "_fallback": self._fallback, "_drop": self._drop}
        self.runner_source = "\n".join(L) + "\n"
        code = _RUNNER_CODE.get(self.runner_source)
        if code is None:  # compiling the source costs more than the rest of a region's set-up
            code = _RUNNER_CODE[self.runner_source] = compile(self.runner_source, "<fused runner>", "exec")
        exec(code, g)  # our own generated code
        return g["kernel"]

    def _layout(self, K, *args):
        """A call the numba kernel has no machine code for (another memory layout, a read-only
        array): this call runs on the NumPy tier (the same bits), and the layout is compiled in
        the background for the next ones."""
        exc = sys.exc_info()[1]
        # RuntimeError: this call found compiling enabled while another layout was being added
        # in the background, and waited for that build, which then disabled compiling again
        if K is self.interpreter or (isinstance(exc, RuntimeError) and "compilation disabled" not in str(exc)):
            raise
        self.interpreter(*args)
        import numba

        from shared_ops import fusion_cpu, fusion_jit

        types = tuple(numba.typeof(a) for a in args)
        if types not in self._layouts:
            self._layouts.add(types)
            fusion_jit.submit(("layout", self.spec, types), lambda: fusion_cpu.add_layout(K, types))

    def _out(self, k, shape):
        import numpy as np

        b = self.buffers[k] if self.buffers is not None else None
        dt = self.spec.outputs[k].dtype
        if b is None:
            return np.empty(shape, dtype=dt)
        v = self._O[k] = b.view(np, shape, dt)  # static shape: the same view every call
        return v

    def _drop(self, k, a):
        drop = self.outputs[k].drop
        return a.reshape(tuple(n for d, n in enumerate(a.shape) if d not in drop))

    def _fallback(self, xp, *arrays):
        self.fallbacks += 1
        return self.reference(xp, *arrays)

    def _other(self, xp, *arrays):
        if getattr(xp, "__name__", "") == "cupy":
            return self._run_gpu(xp, arrays)
        return self.reference(xp, *arrays)

    def _shape(self, arrays) -> tuple:
        return tuple(s[1] if s[0] == "static" else arrays[s[1]].shape[s[2]] for s in self._sources)

    def _finish(self, outs):
        res = []
        for o, info, a in zip(self.spec.outputs, self.outputs, outs):
            if info.drop:
                a = a.reshape(tuple(n for d, n in enumerate(a.shape) if d not in info.drop))
            res.append(a)
        return res[0] if len(res) == 1 else tuple(res)

    def _run_gpu(self, xp, arrays):
        from shared_ops.fusion_gpu import compile_kernel

        shape = self._shape(arrays)
        if any(tuple(a.shape) != tuple(1 if d is None else shape[d] for d in dims)
               for a, (_, dims) in zip(arrays, self.spec.inputs)):
            self.fallbacks += 1
            return self.reference(xp, *arrays)
        k = self._gpu.get("k")
        if k is None:
            k = self._gpu["k"] = compile_kernel(self.spec)
        return self._finish(k(xp, arrays, shape))

    def reference(self, xp, *arrays):
        """Every op's own kernel, in order (the unfused semantics, exactly). Called as
        ``forward``: the dispatch point counts the region as one kernel."""
        nd = self.spec.ndim
        vals = [loop_view(xp, a, dims, nd) for a, (_, dims) in zip(arrays, self.spec.inputs)]
        for st in self.spec.steps:
            vals.append(REGISTRY.get(st.op).forward(xp, *(vals[a] for a in st.args), **dict(st.attrs)))
        res = []
        for o, info in zip(self.spec.outputs, self.outputs):
            v = vals[o.value]
            if info.op is not None:
                v = REGISTRY.get(info.op).forward(xp, v, **dict(info.attrs))
            res.append(v)
        return res[0] if len(res) == 1 else tuple(res)

    def __copy__(self):
        return self  # one kernel per region (Program.copy shares it)

    def set_buffers(self, buffers):
        """The memory plan's buffer per output (``None``: allocate a fresh array each call)."""
        self.buffers = list(buffers)
        self._O[:] = [None] * len(self._O)
        self._F[:] = [b is None for b in self.buffers]

    def __repr__(self) -> str:
        return f"<FusedKernel {self.label}>"


@dataclass
class Project:
    """Element ``k`` of a multi-output fused node's tuple."""

    k: int
    label: str = field(init=False)

    def __post_init__(self):
        self.label = f"out{self.k}"

    def kernel(self, xp, t):
        return t[self.k]


# --------------------------------------------------------------------------- region -> spec


def input_dims(shape: tuple, loop: tuple) -> tuple:
    """NumPy broadcasting as an index map: per input dim, its loop dim, or None if size 1."""
    lead = len(loop) - len(shape)
    return tuple(None if d == 1 and loop[lead + i] != 1 else lead + i for i, d in enumerate(shape))


def absorb(program, vid: int, dims: tuple) -> tuple[int, tuple, list]:
    """Walk back from the region input ``vid`` (index map ``dims``) through views that only
    re-index one input (ops declaring ``index_map``: ``expand_dims``, ``broadcast_to``,
    ``transpose``); returns the source, its index map and the views passed. The views stay in
    the program only if something else reads them."""
    passed = []
    while True:
        n = program[vid]
        op = n.opdef
        if op is None or op.index_map is None or len(n.inputs) != 1:
            return vid, dims, passed
        src = program[n.inputs[0]]
        dims = op.index_map(dims, tuple(src.shape), tuple(n.shape), **n.attrs)
        passed.append(vid)
        vid = src.id


def build_spec(program, members: list, loop: tuple, outputs: list) -> tuple[KernelSpec, list, list, set]:
    """The ``KernelSpec`` of the region ``members`` (node ids in program order).

    ``outputs``: ``(node id, reduction node or None)`` per value the region must produce.
    Returns ``(spec, external input ids, OutputInfo list, ids of the views folded into the
    inputs' index maps)``."""
    index: dict[int, int] = {}
    ext: list[int] = []
    mset = set(members)
    for m in members:
        for i in program[m].inputs:
            if i not in mset and i not in index:
                index[i] = len(ext)
                ext.append(i)
    # region inputs, with views of them folded into their index maps
    inputs, sources, views = [], [], set()
    for i in ext:
        src, dims, passed = absorb(program, i, input_dims(program[i].shape, loop))
        views.update(passed)
        key = (src, dims)
        if key in sources:
            index[i] = sources.index(key)
            continue
        index[i] = len(sources)
        sources.append(key)
        inputs.append((program[src].dtype, dims))
    ext = [s for s, _ in sources]
    n_in = len(ext)
    steps = []
    for m in members:
        n = program[m]
        index[m] = n_in + len(steps)
        steps.append(Step(n.op, tuple(index[i] for i in n.inputs), tuple(sorted(n.attrs.items())), n.dtype))
    inputs = tuple(inputs)
    outs, infos = [], []
    for nid, red in outputs:
        if red is None:
            n = program[nid]
            outs.append(Output(index[nid], (), n.dtype))
            infos.append(OutputInfo(nid, n.shape, n.dtype))
        else:
            r = program[red]
            reduce, drop = reduced_dims(r, loop)
            outs.append(Output(index[nid], reduce, r.dtype))
            infos.append(OutputInfo(red, r.shape, r.dtype, r.op, tuple(sorted(r.attrs.items())), drop))
    return KernelSpec(tuple(loop), inputs, tuple(steps), tuple(outs)), ext, infos, views


def reduced_dims(r, loop: tuple) -> tuple[tuple, tuple]:
    """For a ``sum``/``sum_to`` node over a loop-shaped value: (loop dims summed, loop dims
    dropped from the keepdims layout to give the node's shape)."""
    nd = len(loop)
    if r.op == "sum":
        axis = r.attrs.get("axis")
        axes = tuple(range(nd)) if axis is None else tuple(sorted(a % nd for a in ((axis,) if isinstance(axis, int) else axis)))
        return axes, (() if r.attrs.get("keepdims") else axes)
    target = tuple(r.attrs["shape"])
    lead = nd - len(target)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(target) if s == 1 and loop[lead + i] != 1)
    return axes, tuple(range(lead))


__all__ = ["FusedKernel", "Project", "build_spec", "input_dims", "absorb", "reduced_dims", "FUSIBLE_DTYPES", "OutputInfo"]




def numba_state(build_seconds: dict, job) -> str:
    """The report's words for a numba build: its time once built, else its job's state."""
    numba = build_seconds.get("numba")
    if numba is not None:
        return f"numba built in {numba * 1e3:.1f} ms"
    if job is None:
        return "numba not requested"
    if job.state == "failed":
        return f"numba failed ({type(job.error).__name__}: {str(job.error).splitlines()[0][:80]})"
    return f"numba {job.state}" + (" (GRAPHCOMPARE_JIT=off: built when waited for)"
                                   if job.state == "queued" and not job.enqueued else "")
