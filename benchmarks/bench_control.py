"""Control flow: what one graph for every length costs against a graph per length, and
dynamic batching against a graph per sample.

C1  the W2 cell of ``bench_staticgraph.py`` (``h = tanh(W_x @ x_t + W_h @ h)``, W_h 20x20,
    W_x 20x10), T = 32, gradients of ``sum(h_T)`` for both weights: ``sg.scan`` compiled
    once (xs of a free length) against the graph unrolled for T = 32, per step, both
    ``optimize=True`` and ``False``. Target <= 1.3x. With ``optimize=True`` the scan's
    gradient forms each weight's gradient after the loop as one product over the stacked
    steps (``staticgraph.passes.stack``), where the unrolled graph adds 32 products. Each
    ratio is measured per round (both ways called 3 times each, in a shuffled order), in wall
    time and in this thread's CPU time; the table gives the median of the per-round ratios and
    the ratio of the minima. Then the scan function runs T = 8, 16, 64 with no new compile,
    while the unrolled way compiles a graph per length (its compile time is printed).
C2  the TreeRNN of ``graphcompare.experiments.workloads.dynamic`` (3..7 leaves, width 16,
    float32): dynamic batching as in TensorFlow Fold (one graph, one batched op per depth) at
    batch 64 against dyngraph (one recorded graph per tree), time per tree.

Run: ``python benchmarks/bench_control.py`` (pinned to the idlest core, BLAS single-threaded;
``--quick`` for fewer repeats). Medians (and minima) of interleaved samples, GC off while
timing, side by side in one process; the load average is printed. The machine is shared:
figures move by 10-20%.
"""

from __future__ import annotations

import os
import sys

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"
for _v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_v, None)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_staticgraph import _idlest_core, measure  # noqa: E402  (pinning and timing, shared)

if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {_idlest_core()})

import gc  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import staticgraph as sg  # noqa: E402
from graphcompare.experiments.workloads.dynamic import Trees  # noqa: E402

QUICK = "--quick" in sys.argv
H, I = 20, 10


def _weights():
    r = np.random.default_rng(0)
    W_h = (r.standard_normal((H, H)) / np.sqrt(H)).astype(np.float32)
    W_x = (r.standard_normal((H, I)) / np.sqrt(I)).astype(np.float32)
    return r.standard_normal((H, 1)).astype(np.float32), W_h, W_x, r


def scan_fn(optimize):
    with sg.Graph():
        xs = sg.placeholder((None, I, 1), "float32", name="xs")
        h0 = sg.placeholder((H, 1), "float32", name="h0")
        W_h, W_x = sg.placeholder((H, H), "float32", name="W_h"), sg.placeholder((H, I), "float32", name="W_x")
        hT, _ = sg.scan(lambda h, x: ((W_x @ x + W_h @ h).tanh(), None), h0, xs)
        loss = hT.sum()
        return sg.compile([loss, *sg.gradients(loss, [W_h, W_x])], inputs=[xs, h0, W_h, W_x], optimize=optimize, block=True)


def unrolled_fn(T, optimize):
    with sg.Graph():
        xs = [sg.placeholder((I, 1), "float32", name=f"x{t}") for t in range(T)]
        h0 = sg.placeholder((H, 1), "float32", name="h0")
        W_h, W_x = sg.placeholder((H, H), "float32", name="W_h"), sg.placeholder((H, I), "float32", name="W_x")
        h = h0
        for x in xs:
            h = (W_x @ x + W_h @ h).tanh()
        loss = h.sum()
        return sg.compile([loss, *sg.gradients(loss, [W_h, W_x])], inputs=[*xs, h0, W_h, W_x], optimize=optimize, block=True)


def rounds(fns: dict, n_rounds: int, number: int) -> dict:
    """``{name: (wall, cpu)}``, each a list of seconds per call, one entry per round. Each round
    calls every function ``number`` times, in a shuffled order, so that a disturbance (another
    process on the core) hits the functions of one round alike; ``cpu`` is this thread's CPU
    time, which leaves out the time the core ran someone else."""
    for f in fns.values():
        for _ in range(20):  # warm up
            f()
    out = {k: ([], []) for k in fns}
    order = list(fns)
    shuffle = random.Random(0).shuffle
    gc.collect()
    gc.disable()
    try:
        for _ in range(n_rounds):
            shuffle(order)
            for k in order:
                f = fns[k]
                w0, c0 = time.perf_counter(), time.thread_time()
                for _ in range(number):
                    f()
                out[k][1].append((time.thread_time() - c0) / number)
                out[k][0].append((time.perf_counter() - w0) / number)
    finally:
        gc.enable()
    return out


def _paired(a: list, b: list) -> tuple:
    """(median of the per-round ratios a/b, ratio of the minima)."""
    return float(np.median(np.array(a) / np.array(b))), min(a) / min(b)


def bench_scan() -> list:
    h0, W_h, W_x, r = _weights()
    T = 32
    X = r.standard_normal((T, I, 1)).astype(np.float32)
    rows = []
    for optimize in (True, False):
        scan, unr = scan_fn(optimize), unrolled_fn(T, optimize)
        a, b = scan(X, h0, W_h, W_x), unr(*X, h0, W_h, W_x)
        for u, v in zip(a, b):
            assert np.allclose(u, v, rtol=1e-5, atol=1e-6), "C1: scan and unrolled disagree"
            if not optimize:
                assert u.tobytes() == v.tobytes(), "C1: optimize=False must be bitwise"
        fns = {"scan": lambda s=scan: s(X, h0, W_h, W_x), "unrolled": lambda u=unr: u(*X, h0, W_h, W_x)}
        if optimize:  # what passes.stack buys, side by side: every other pass on, stack off
            off = scan_fn({"stack": False})
            fns["stack off"] = lambda s=off: s(X, h0, W_h, W_x)
        t = rounds(fns, 31 if QUICK else 151, 3)
        (sw, sc), (uw, uc) = t["scan"], t["unrolled"]
        rows.append((f"C1 scan, optimize={optimize}, per step", (np.median(sw) / T, min(sw) / T), "one graph, any length"))
        rows.append((f"C1 unrolled T=32, optimize={optimize}, per step", (np.median(uw) / T, min(uw) / T), "a graph for T=32"))
        rows.append((f"C1 ratio scan / unrolled, optimize={optimize}", _paired(sw, uw), "x wall (target <= 1.3)"))
        rows.append((f"C1 ratio scan / unrolled, optimize={optimize}, CPU time", _paired(sc, uc), "x thread CPU time"))
        if optimize:
            (ow, oc) = t["stack off"]
            rows.append(("C1 ratio scan without stack / unrolled, CPU time", _paired(oc, uc), "x (optimize={'stack': False})"))
    scan = scan_fn(True)
    n_exe = len(scan._executables)
    compile_s = []
    for L in (8, 16, 64):
        scan(r.standard_normal((L, I, 1)).astype(np.float32), h0, W_h, W_x)
        t0 = time.perf_counter()
        unrolled_fn(L, True)
        compile_s.append(time.perf_counter() - t0)
    assert len(scan._executables) == n_exe, "C1: a new length must not recompile"
    rows.append(("C1 new lengths 8, 16, 64: scan recompiles", (0.0, 0.0), "none (one executable)"))
    rows.append(("C1 new lengths 8, 16, 64: unrolled compile each", (float(np.median(compile_s)), min(compile_s)), "s"))
    return rows


def bench_fold() -> list:
    model = Trees(count=256, seed=0)
    batch = model.items[:64]
    dyn, _ = model.dyngraph()
    fold, _ = model.fold()
    a, b = dyn(batch), fold(batch)
    assert np.allclose(a[0], b[0], rtol=1e-4), "C2: Fold and dyngraph disagree"
    t = measure({"dyngraph": lambda: dyn(batch), "fold": lambda: fold(batch)}, 1)
    d, f = t["dyngraph"], t["fold"]
    return [("C2 dyngraph, per tree (batch 64)", tuple(v / 64 for v in d), "a recorded graph per tree"),
            ("C2 Fold dynamic batching, per tree (batch 64)", tuple(v / 64 for v in f), "one graph, one op per depth"),
            ("C2 speed-up Fold over dyngraph", (d[0] / f[0], d[1] / f[1]), "x (CPU, NumPy)")]


def main():
    import bench_staticgraph

    bench_staticgraph.REPEATS = 31 if QUICK else 151
    load0 = os.getloadavg()[0]
    rows = bench_scan() + bench_fold()
    print(f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    print(f"{'measure':58s} {'median':>12s} {'min':>12s}  note")
    for name, (med, lo), note in rows:
        unit = "x" if note.startswith("x") or "ratio" in name or "speed-up" in name else ""
        fmt = (lambda v: f"{v:10.2f}x ") if unit else (lambda v: f"{v:10.3f} s ") if note == "s" else (lambda v: f"{v * 1e6:9.1f} us ")
        print(f"{name:58s} {fmt(med):>12s} {fmt(lo):>12s}  {note}")
    print("(a shared machine: figures move by 10-20% between runs; a ratio's median is the median of the\n"
          " per-round ratios, its min the ratio of the minima)")


if __name__ == "__main__":
    main()
