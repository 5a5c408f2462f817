"""Where dyngraph's W3 step spends the time that hand-written NumPy does not: its kernels, or
the Python around them (recording, the backward walk, the surface)?

W3 (bench_peers' MLP 784-512-512-10, batch 128, float32) run five ways, interleaved and
shuffled per round in one process (bench_peers' setup: one core, BLAS one thread,
``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` unset):

- ``numpy``: the hand-written step (the reference of the ``W3 <= 1.05x NumPy`` bar);
- ``dyngraph``: dyngraph's step (forward, ``backward()``, the six gradients);
- ``kernels``: the kernel calls of one dyngraph step replayed back to back, each on what the
  earlier ones just returned, each result dropped after its last reader as in a step, without
  dyngraph (what its kernels cost against the hand-written ones);
- ``python``: dyngraph's step with every kernel swapped for one that returns the output it
  recorded (dyngraph's Python, run hot: nothing evicts its objects from the caches);
- ``in step``: dyngraph's step with each kernel timed where it runs (``kernels``), and
  ``dyngraph`` less that in the same round (``the rest``): dyngraph's Python as a real step
  pays for it, after each product has streamed megabytes through the caches its objects live
  in (the timing wrapper's clock reads count partly among the kernels).

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

from dyngraph import sinks  # noqa: E402
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
    step's own inputs, the arrays it was given; each result is dropped after its last reader,
    as a step drops it, so the allocator hands out the blocks it would. Rebuilding each call's
    arguments costs about a microsecond per call, counted in this run's time."""
    made = {id(out): i for i, (_, _, _, out) in enumerate(calls)}
    last = {}
    for i, (_, args, _, _) in enumerate(calls):
        for x in args:
            if id(x) in made:
                last[made[id(x)]] = i
    drop = [[j for j, at in last.items() if at == i] for i in range(len(calls))]
    plan = [(kernel, [made.get(id(x)) for x in args], args, kwargs, drop[i])
            for i, (kernel, args, kwargs, _) in enumerate(calls)]

    def run(n):
        for _ in range(n):
            outs = [None] * len(plan)
            for k, (kernel, src, args, kwargs, done) in enumerate(plan):
                outs[k] = kernel(*[x if i is None else outs[i] for i, x in zip(src, args)], **kwargs)
                for j in done:
                    outs[j] = None
    return run


def in_step(step, clock_ns):
    """``step`` with each kernel timed where it runs: ``run(n)`` returns the kernels' time per
    step, in seconds."""
    spent = [0]

    def make(name, kernel):
        def timed(*args, **kwargs):
            t0 = clock_ns()
            out = kernel(*args, **kwargs)
            spent[0] += clock_ns() - t0
            return out
        return timed

    def run(n):
        spent[0] = 0
        with wrap_kernels(make):
            for _ in range(n):
                step()
        return spent[0] * 1e-9 / n
    return run


STEAL = sinks._STEAL_REFS


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
        # engine would copy the six gradients it moves in a real step (sinks.owned), unless told
        sinks._STEAL_REFS = STEAL + 1
        try:
            with wrap_kernels(make):
                for _ in range(n):
                    got = None  # the last step's gradients would be one holder more
                    got = step()
        finally:
            sinks._STEAL_REFS = STEAL
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
            "python": without_kernels(dyn_step, calls),
            "in step": in_step(dyn_step, time.thread_time_ns if a.clock == "cpu" else time.perf_counter_ns)}
    for f in runs.values():
        f(2)
    recorded = {id(o) for q in runs["python"].recorded.values() for o in q}
    if not all(id(g.detach().numpy()) in recorded for g in runs["python"](1)[1:]):
        print("warning: the python run copied a gradient that a real step moves: its time includes the copy")
    ts = {k: [] for k in runs}
    inside = []
    order = list(runs)
    for _ in range(a.rounds):
        random.shuffle(order)
        for k in order:
            t0 = clock()
            got = runs[k](a.steps)
            ts[k].append((clock() - t0) / a.steps)
            if k == "in step":
                inside.append(got)
    print(f"W3 split, {where}; load average {os.getloadavg()[0]:.1f}; {a.rounds} rounds, {a.clock} clock")
    print("| run | ms per step (median) | ratio to NumPy: median (range) |\n| --- | --- | --- |")
    del ts["in step"]  # its own total carries the timing wrappers
    ts["in step: kernels"] = inside
    ts["in step: the rest"] = [t - k for t, k in zip(ts["dyngraph"], inside)]
    for k, t in ts.items():
        r = [x / n for x, n in zip(t, ts["numpy"])]
        print(f"| {k} | {statistics.median(t) * 1e3:.3f} | {statistics.median(r):.3f} ({min(r):.3f}-{max(r):.3f}) |")
    calls_n = sum(s.calls for s in stats.per_op.values())
    written = sum(s.bytes_out for s in stats.per_op.values())
    print(f"dyngraph per step: {calls_n} kernel calls writing {written / 1e6:.2f} MB; peak traced memory "
          f"during a step: dyngraph {peak_bytes(dyn_step) / 1e6:.2f} MB, NumPy {peak_bytes(numpy_step) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
