"""What a call of a whole-step function costs beside its step (``staticgraph.entry``).

For W1 and W2 (``graphcompare.experiments.peers``, the models ``bench_peers.py`` times), once
the step is built: ``fn(*args)`` (the generated entry), ``fn(feed_dict)`` (the full path the
entry hands calls by name to: the feeds put in order, the same fast test, the executable's
``run``, the outputs rebuilt), the compiled step called alone from Python (numba's dispatch,
unboxing and boxing included), and, as the peer to beat, PyTensor's compiled function when
installed. Each
figure is the minimum CPU time per call (``time.thread_time_ns``) over rounds interleaved
across the variants, so a busy spell of the machine hits all alike.

One core, BLAS one thread. The machine may be shared: compare figures of one run.

    python benchmarks/bench_entry.py [W1 W2] [--calls 20000] [--rounds 9]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"
for _v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_v, None)

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from graphcompare.experiments import peers  # noqa: E402


def variants(name: str) -> dict:
    """name -> a callable running one step of workload ``name``."""
    spec = peers.SPECS[name]
    args = spec.inputs(np.random.default_rng(0))
    fn = peers.make("staticgraph", spec, args).fn
    ws = fn.whole_step
    if ws is None or ws.step is None:
        raise SystemExit(f"{name}: no compiled whole step ({fn._whole_step_reason})")
    feed = {x.name: a for x, a in zip(fn.inputs, args)}
    out = {"fn(*args)": lambda: fn(*args),
           "feed dict": lambda: fn(feed),
           "step alone": lambda: ws.step(*args, *ws.consts)}
    try:
        out["PyTensor"] = peers.make("pytensor", spec, args).step
    except peers.Unavailable:
        pass
    return out


def measure(fs: dict, calls: int, rounds: int) -> dict:
    best = dict.fromkeys(fs, float("inf"))
    for _ in range(rounds):
        for k, f in fs.items():
            t0 = time.thread_time_ns()
            for _ in range(calls):
                f()
            best[k] = min(best[k], (time.thread_time_ns() - t0) / calls / 1e3)
    return best


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", default=["W1", "W2"])
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--cpu", type=int, default=0)
    a = ap.parse_args(argv)
    os.sched_setaffinity(0, {a.cpu})
    for name in a.workloads:
        fs = variants(name)
        for f in fs.values():  # warm up
            for _ in range(100):
                f()
        calls = a.calls if name == "W1" else max(a.calls // 20, 100)
        best = measure(fs, calls, a.rounds)
        base = best["fn(*args)"]
        print(f"{name}: minimum CPU time per call, {a.rounds} rounds of {calls} calls (machine may be shared)")
        for k, v in best.items():
            print(f"  {k:<12} {v:9.2f} us   {v / base:5.2f}x fn(*args)")


if __name__ == "__main__":
    main()
