"""Where dyngraph's W3 step spends the time that hand-written NumPy does not: its kernels, or
the Python around them (recording, the backward walk, the surface)?

W3 (bench_peers' MLP 784-512-512-10, batch 128, float32) run four ways, interleaved and
shuffled per round in one process (bench_peers' setup: one core, BLAS one thread,
``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` unset):

- ``numpy``: the hand-written step (the reference of the ``W3 <= 1.05x NumPy`` bar);
- ``dyngraph``: dyngraph's step (forward, ``backward()``, the six gradients);
- ``kernels``: the kernel calls of one dyngraph step replayed back to back, each on what the
  earlier ones just returned, without dyngraph (what its kernels cost against the hand-written
  ones);
- ``python``: dyngraph's step with every kernel swapped for one that returns the output it
  recorded (what is left: dyngraph's Python).

Also printed, deterministic for a machine too noisy to time small changes on: the kernel calls
and the bytes they write per dyngraph step (``shared_ops.instrument()``), and the peak of traced
memory (NumPy's allocations) during one step of each.

    python benchmarks/bench_w3_split.py                  # 30 rounds, CPU clock
    python benchmarks/bench_w3_split.py --rounds 60 --clock wall
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_peers as bp  # noqa: E402  (sets the BLAS thread variables before NumPy loads)

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from dyngraph import engine  # noqa: E402
from graphcompare.experiments import peers  # noqa: E402
from shared_ops import instrument, wrap_kernels  # noqa: E402


def record(step) -> list:
    """``(kernel, args, kwargs, output)`` of every kernel one call of ``step`` runs, in order."""
    calls = []

    def make(name, kernel):
        def recorded(*args, **kwargs):
            out = kernel(*args, **kwargs)
            calls.append((kernel, args, kwargs, out))
            return out
        return recorded

    with wrap_kernels(make):
        step()
    return calls


def steps(step):
    def run(n):
        for _ in range(n):
            step()
    return run


def replay_kernels(calls):
    """The recorded calls run again in order, each reading what the earlier calls of this run
    returned (as in a step, an input is the array just written, still in cache) or, for the
    step's own inputs, the arrays it was given. Rebuilding each call's arguments costs about a
    microsecond per call, counted in this run's time."""
    made = {id(out): i for i, (_, _, _, out) in enumerate(calls)}
    plan = [(kernel, [made.get(id(x)) for x in args], args, kwargs) for kernel, args, kwargs, _ in calls]

    def run(n):
        for _ in range(n):
            outs = []
            for kernel, src, args, kwargs in plan:
                outs.append(kernel(*[x if i is None else outs[i] for i, x in zip(src, args)], **kwargs))
    return run


STEAL = engine._STEAL_REFS


def without_kernels(step, calls):
    """``step`` with each kernel returning, in turn, the outputs it recorded (the swap made
    once per block: wrap_kernels rebinds every registered op). Takes the outputs out of
    ``calls``: the queues here are then their only holders."""
    outs = {}
    for i, (kernel, args, kwargs, out) in enumerate(calls):
        outs.setdefault(kernel, []).append(out)
        calls[i] = (kernel, args, kwargs, None)
    out = None

    def make(name, kernel):
        queue, i = outs.get(kernel, []), [0]

        def replayed(*args, **kwargs):
            out = queue[i[0] % len(queue)]
            i[0] += 1
            return out
        return replayed

    def run(n):
        # a recorded output has one holder more than a kernel's fresh result (its queue): the
        # engine would copy the six gradients it moves in a real step (engine.owned), unless told
        engine._STEAL_REFS = STEAL + 1
        try:
            with wrap_kernels(make):
                for _ in range(n):
                    got = None  # the last step's gradients would be one holder more
                    got = step()
        finally:
            engine._STEAL_REFS = STEAL
        return got
    run.recorded = outs
    return run


def peak_bytes(step) -> int:
    step()
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--steps", type=int, default=5, help="back-to-back steps per block")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    a = ap.parse_args()
    where = bp.pin()
    clock = time.thread_time if a.clock == "cpu" else time.perf_counter
    spec = peers.SPECS["W3"]
    args = spec.inputs(np.random.default_rng(0))
    numpy_step, dyn_step = peers.make("numpy", spec, args).step, peers.make("dyngraph", spec, args).step
    calls = record(dyn_step)
    with instrument() as stats:
        dyn_step()
    runs = {"numpy": steps(numpy_step), "dyngraph": steps(dyn_step), "kernels": replay_kernels(calls),
            "python": without_kernels(dyn_step, calls)}
    for f in runs.values():
        f(2)
    recorded = {id(o) for q in runs["python"].recorded.values() for o in q}
    if not all(id(g.detach().numpy()) in recorded for g in runs["python"](1)[1:]):
        print("warning: the python run copied a gradient that a real step moves: its time includes the copy")
    ts = {k: [] for k in runs}
    order = list(runs)
    for _ in range(a.rounds):
        random.shuffle(order)
        for k in order:
            t0 = clock()
            runs[k](a.steps)
            ts[k].append((clock() - t0) / a.steps)
    print(f"W3 split, {where}; load average {os.getloadavg()[0]:.1f}; {a.rounds} rounds, {a.clock} clock")
    print("| run | ms per step (median) | ratio to NumPy: median (range) |\n| --- | --- | --- |")
    for k, t in ts.items():
        r = [x / n for x, n in zip(t, ts["numpy"])]
        print(f"| {k} | {statistics.median(t) * 1e3:.3f} | {statistics.median(r):.3f} ({min(r):.3f}-{max(r):.3f}) |")
    calls_n = sum(s.calls for s in stats.per_op.values())
    written = sum(s.bytes_out for s in stats.per_op.values())
    print(f"dyngraph per step: {calls_n} kernel calls writing {written / 1e6:.2f} MB; peak traced memory "
          f"during a step: dyngraph {peak_bytes(dyn_step) / 1e6:.2f} MB, NumPy {peak_bytes(numpy_step) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
