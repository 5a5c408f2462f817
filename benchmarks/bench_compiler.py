"""The staticgraph compiler against hand-written NumPy and dyngraph.

The workloads are ``graphcompare.experiments.workloads.standard``'s W1-W4, here in float32:

W1  200 elementwise ops (``* 1.0001``, ``+ 0.001``, ``tanh``, repeated) on one element, fwd + bwd
W2  the RNN cell ``tanh(W_x @ x_t + W_h @ h)`` unrolled 32 steps, vectors (not columns)
W3  the MLP step, batch 128, 784-512-512-10, gradients of all six parameters
W4  ``sum(tanh(x*y + x) * exp(-y*y))`` with gradients for x and y, 4,000,000 elements each

One core (``os.sched_setaffinity``), BLAS single-threaded, side by side in one process;
medians of repeated calls after a warm-up. "compile" is ``sg.compile(block=True)`` (passes + numba);
"first call" is the first run after it. Memory: the plan's figures, and the measured
(tracemalloc) peak of one call of each implementation.

    python benchmarks/bench_compiler.py            # all
    python benchmarks/bench_compiler.py W1 W4      # some
    python benchmarks/bench_compiler.py --cold     # compile times with an empty kernel disk cache
    python benchmarks/bench_compiler.py --numexpr  # why numba: numexpr vs the generated kernel
    python benchmarks/bench_compiler.py --against REV [--rounds N] [W1 ...]

``--against REV`` compares the compiled code of git revision ``REV`` with this tree's, side by
side: each round runs both trees (in alternating order) in fresh processes on this file's
workloads; each process times its ``optimize=True`` step (on the best tier) and hand-written
NumPy interleaved, in CPU time of the calling thread, and the table gives, per workload, (this
tree's step / NumPy) over (REV's step / NumPy): the median of the rounds' ratios, with their
range. CPU time leaves out the time spent waiting for a core, and dividing by NumPy measured in
the same process cancels most of what a shared machine's load still adds.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"
for _v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_v, None)

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

_THIS_TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _by_path(rel: str):
    """A module of this tree loaded from its file (it imports nothing of the project), so that
    ``--against`` measures another tree's compiler on this tree's workload definitions."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_" + rel.replace("/", "_")[:-3], os.path.join(_THIS_TREE, rel))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# the tree whose compiler is measured (``--against`` points its runs at another checkout)
sys.path.insert(0, os.environ.get("BENCH_COMPILER_ROOT") or _THIS_TREE)
import staticgraph as sg  # noqa: E402
from staticgraph import memory  # noqa: E402

import dyngraph as dg  # noqa: E402

std = _by_path("graphcompare/experiments/workloads/standard.py")


def pin() -> str:
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    except (AttributeError, OSError):
        pass
    # Freed memory stays mapped, so neither side pays page faults to re-allocate its
    # temporaries (see graphcompare.experiments.env.steady_allocator): NumPy is the real floor.
    return _by_path("graphcompare/experiments/env.py").steady_allocator()


def interleaved(fns: dict, min_time=1.0, rounds=15, clock=time.perf_counter) -> dict:
    """Median seconds per call of each function, timed in turns: each round runs every
    function for a block of calls (about ``min_time / rounds`` seconds in all), so a load that
    changes during the run (a shared machine) hits all of them alike, while each function still
    runs warm (back-to-back calls, as in a training loop). ``clock``: wall time by default;
    ``time.thread_time`` counts only this thread's CPU time, which time spent waiting for a
    core on a busy machine does not inflate."""
    one = {}
    for k, fn in fns.items():
        fn()
        t0 = clock()
        fn()
        one[k] = max(clock() - t0, 1e-7)
    budget = min_time / rounds / len(fns)
    block = {k: int(max(1, min(2000, budget / t))) for k, t in one.items()}
    ts = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            n = block[k]
            t0 = clock()
            for _ in range(n):
                fn()
            ts[k].append((clock() - t0) / n)
    return {k: statistics.median(v) for k, v in ts.items()}


# --------------------------------------------------------------------------- W1-W4 (math: std)


def w1_graph():
    with sg.Graph():
        x0 = sg.placeholder((1,), name="x")
        x = std.chain(sg, x0)
        (gx,) = sg.gradients(x.sum(), [x0])
    return [x, gx], [x0]


def w1_numpy(x):
    return std.chain_numpy(np, x)


def w1_dyn(x):
    t = dg.tensor(x, requires_grad=True)
    y = std.chain(dg, t)
    y.sum().backward()
    return y.data, t.grad.data


def w1_inputs(rng):
    return [rng.standard_normal(1).astype(np.float32)]


def w2_graph():
    with sg.Graph():
        Wx = sg.placeholder((std.H, std.X), name="Wx")
        Wh = sg.placeholder((std.H, std.H), name="Wh")
        X = sg.placeholder((std.T, std.X), name="X")
        h0 = sg.placeholder((std.H,), name="h0")
        loss = std.rnn(sg, Wx, Wh, X, h0)
        gWx, gWh = sg.gradients(loss, [Wx, Wh])
    return [loss, gWx, gWh], [Wx, Wh, X, h0]


def w2_numpy(Wx, Wh, X, h0):
    return std.rnn_numpy(np, Wx, Wh, X, h0)


def w2_dyn(Wx, Wh, X, h0):
    wx = dg.tensor(Wx, requires_grad=True)
    wh = dg.tensor(Wh, requires_grad=True)
    loss = std.rnn(dg, wx, wh, dg.tensor(X), dg.tensor(h0))
    loss.backward()
    return loss.data, wx.grad.data, wh.grad.data


def w2_inputs(rng):
    return std.rnn_inputs(rng, "float32", columns=False)


def w3_graph():
    with sg.Graph():
        X = sg.placeholder((std.BATCH, std.SIZES[0]), name="X")
        y = sg.placeholder((std.BATCH,), dtype="int64", name="y")
        params = []
        for k, (a, b) in enumerate(zip(std.SIZES[:-1], std.SIZES[1:])):
            params += [sg.placeholder((a, b), name=f"W{k}"), sg.placeholder((b,), name=f"b{k}")]
        loss = std.mlp(sg, X, y, params)
        grads = sg.gradients(loss, params)
    return [loss] + list(grads), [X, y] + params


def w3_numpy(X, y, *params):
    loss, grads = std.mlp_numpy(np, X, y, params)
    return [loss, *grads]


def w3_dyn(X, y, *params):
    ps = [dg.tensor(p, requires_grad=True) for p in params]
    loss = std.mlp(dg, dg.tensor(X), dg.tensor(y), ps)
    loss.backward()
    return [loss.data] + [p.grad.data for p in ps]


def w3_inputs(rng):
    return std.mlp_batch(rng) + std.mlp_params(rng)


def w4_graph():
    with sg.Graph():
        x = sg.placeholder((std.N4,), name="x")
        y = sg.placeholder((std.N4,), name="y")
        loss = std.elementwise(sg, x, y)
        gx, gy = sg.gradients(loss, [x, y])
    return [loss, gx, gy], [x, y]


def w4_numpy(x, y):
    return std.elementwise_numpy(np, x, y)


def w4_dyn(x, y):
    tx = dg.tensor(x, requires_grad=True)
    ty = dg.tensor(y, requires_grad=True)
    loss = std.elementwise(dg, tx, ty)
    loss.backward()
    return loss.data, tx.grad.data, ty.grad.data


def w4_inputs(rng):
    return std.elementwise_inputs(rng)


WORKLOADS = {
    "W1": (w1_graph, w1_numpy, w1_dyn, w1_inputs, {"vs_numpy": 0.15, "dyn_speedup": 20}),
    "W2": (w2_graph, w2_numpy, w2_dyn, w2_inputs, {"vs_numpy": 1.0}),
    "W3": (w3_graph, w3_numpy, w3_dyn, w3_inputs, {"vs_numpy": 1.1}),
    "W4": (w4_graph, w4_numpy, w4_dyn, w4_inputs, {"vs_numpy": 0.7, "peak_vs_dyn": 0.5}),
}


def check_close(a, b, name):
    for u, v in zip(a, b):
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        scale = max(float(np.max(np.abs(v))), 1e-30)
        err = float(np.max(np.abs(u - v))) / scale
        if err > 2e-3:
            print(f"  !! {name}: relative error {err:.2e} against hand-written NumPy")


def run(name: str) -> dict:
    graph_fn, np_fn, dyn_fn, inputs_fn, targets = WORKLOADS[name]
    rng = np.random.default_rng(0)
    args = inputs_fn(rng)
    outs, ins = graph_fn()
    t0 = time.perf_counter()
    fn = sg.compile(outs, ins, optimize=True, block=True)  # passes and numba: the best tier, as documented above
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = fn(*args)
    first_s = time.perf_counter() - t0
    fn0 = sg.compile(outs, ins, optimize=False)
    check_close(res, np_fn(*args), name)
    row = {"name": name, "compile_s": compile_s, "first_s": first_s}
    fns = {"numpy": lambda: np_fn(*args), "sg_opt": lambda: fn(*args), "sg_noopt": lambda: fn0(*args),
           "dyn": lambda: dyn_fn(*args)}
    try:
        dyn_fn(*args)
    except Exception as exc:  # noqa: BLE001 - dyngraph missing or broken: say so, keep going
        print(f"  ({name}: dyngraph not measured: {type(exc).__name__}: {exc})")
        del fns["dyn"]
    row.update(interleaved(fns))
    row.setdefault("dyn", float("nan"))
    row["plan"] = fn.plan
    row["naive_before"] = fn.ctx.naive_before
    if name == "W4":
        _, row["peak_sg"] = memory.measure(fn, *args)
        _, row["peak_np"] = memory.measure(np_fn, *args)
        try:
            _, row["peak_dyn"] = memory.measure(dyn_fn, *args)
        except Exception:  # noqa: BLE001
            row["peak_dyn"] = float("nan")
    row["targets"] = targets
    row["nodes"] = (len(fn0.program), len(fn.program))
    return row


def _mb(n) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def table(rows) -> str:
    h = (f"{'':4}{'numpy ms':>10}{'sg opt ms':>11}{'ratio':>7}{'sg O0 ms':>10}{'dyn ms':>10}{'dyn/sg':>8}"
         f"{'compile s':>10}{'1st call ms':>12}{'nodes O0->opt':>15}")
    lines = [h]
    for r in rows:
        lines.append(
            f"{r['name']:4}{r['numpy'] * 1e3:>10.3f}{r['sg_opt'] * 1e3:>11.3f}{r['sg_opt'] / r['numpy']:>7.2f}"
            f"{r['sg_noopt'] * 1e3:>10.3f}{r['dyn'] * 1e3:>10.3f}{r['dyn'] / r['sg_opt']:>8.1f}"
            f"{r['compile_s']:>10.2f}{r['first_s'] * 1e3:>12.2f}{r['nodes'][0]:>8} -> {r['nodes'][1]:<5}")
    for r in rows:
        p = r["plan"]
        before = r["naive_before"]
        lines.append(f"{r['name']} memory: naive {_mb(p.naive)} ({_mb(before)} before the passes), planned peak "
                     f"{_mb(p.planned_peak)} (resident {_mb(p.resident)}), lower bound {_mb(p.lower_bound)}")
        if "peak_sg" in r:
            lines.append(f"{r['name']} measured peak (tracemalloc, one call): sg {r['peak_sg'] / 1e6:.1f} MB, "
                         f"numpy {r['peak_np'] / 1e6:.1f} MB, dyngraph {r['peak_dyn'] / 1e6:.1f} MB; "
                         f"planned/dyn = {p.planned_peak / r['peak_dyn']:.2f}")
        t = r["targets"]
        verdict = [f"ratio {r['sg_opt'] / r['numpy']:.2f} (target <= {t['vs_numpy']})"]
        if "dyn_speedup" in t:
            verdict.append(f"dyn/sg {r['dyn'] / r['sg_opt']:.1f} (target >= {t['dyn_speedup']})")
        lines.append(f"{r['name']} targets: " + ", ".join(verdict))
    return "\n".join(lines)


def numexpr_vs_numba() -> str:
    """The measurement behind the choice of numba for fused CPU kernels (W4's forward,
    4M float32): NumPy op by op, numexpr's one fused expression, our generated numba loop."""
    import numexpr

    numexpr.set_num_threads(1)
    x, y = w4_inputs(np.random.default_rng(0))
    with sg.Graph():
        a, b = sg.placeholder((std.N4,), name="a"), sg.placeholder((std.N4,), name="b")
        fwd = sg.compile([(a * b + a).tanh() * (-(b * b)).exp()], [a, b])
    out = np.empty_like(x)
    t = interleaved({
        "numpy": lambda: np.tanh(x * y + x) * np.exp(-y * y),
        "numexpr": lambda: numexpr.evaluate("tanh(x*y + x) * exp(-y*y)", local_dict={"x": x, "y": y}, out=out),
        "numba (generated)": lambda: fwd(x, y),
    }, min_time=3.0)
    return "\n".join(f"{k:>18}: {v * 1e3:8.2f} ms" for k, v in t.items())


def _compile_best(outs, ins):
    """``optimize=True`` on its best tier; a revision without tiers compiles synchronously."""
    try:
        return sg.compile(outs, ins, optimize=True, block=True)
    except TypeError:
        return sg.compile(outs, ins, optimize=True)


def steady_ratios(names) -> dict:
    """Per workload: the median step of ``optimize=True`` over hand-written NumPy's, in CPU
    time of this thread (where both run: the kernels are called in it), timed interleaved in
    this process (one ``--against`` round of one tree)."""
    out = {}
    for name in names:
        graph_fn, np_fn, _, inputs_fn, _ = WORKLOADS[name]
        args = inputs_fn(np.random.default_rng(0))
        outs, ins = graph_fn()
        fn = _compile_best(outs, ins)
        for _ in range(3):
            fn(*args)
        t = interleaved({"numpy": lambda: np_fn(*args), "sg": lambda: fn(*args)}, clock=time.thread_time)
        out[name] = t["sg"] / t["numpy"]
    return out


def against(rev: str, rounds: int, names) -> None:
    from revisions import alternate, table

    runs = alternate(os.path.abspath(__file__), ["--steady-json", *names], "BENCH_COMPILER_ROOT", rev, rounds)
    print(f"staticgraph optimize=True step / hand-written NumPy, this tree against {rev}: {rounds} alternating "
          "rounds of fresh processes (one core, BLAS 1 thread; the machine may be shared, so the range matters)")
    print(table(runs, rev, names, "x np"))


def main(argv=None) -> None:
    args = list(argv if argv is not None else sys.argv[1:])
    if "--against" in args:
        i = args.index("--against")
        rev = args[i + 1]
        del args[i:i + 2]
        rounds = 6
        if "--rounds" in args:
            i = args.index("--rounds")
            rounds = int(args[i + 1])
            del args[i:i + 2]
        against(rev, rounds, args or list(WORKLOADS))
        return
    print("allocator:", pin())
    if "--steady-json" in args:
        import json

        args.remove("--steady-json")
        print(json.dumps(steady_ratios(args or list(WORKLOADS))))
        return
    names = args
    if "--cold" in names:  # compile with an empty fused-kernel disk cache (set before any compile)
        import tempfile

        names.remove("--cold")
        os.environ["GRAPHCOMPARE_CACHE"] = tempfile.mkdtemp(prefix="gc_cold_")
    if "--numexpr" in names:
        print(numexpr_vs_numba())
        return
    names = names or list(WORKLOADS)
    rows = [run(n) for n in names]
    print(table(rows))


if __name__ == "__main__":
    main()
