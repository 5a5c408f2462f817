"""Python opcodes and calls per dyngraph training step of W1-W3: a deterministic measure of the
op-call and backward overhead, for a machine too noisy to time small changes on.

The steps are ``graphcompare.experiments.peers``' (bench_peers' W1-W3, as a user writes them).
One warmed-up step runs under ``sys.settrace`` with opcode events; the count does not include
time inside C (NumPy kernels, allocation), so it ranks Python-side changes, it does not replace
a timed run (``benchmarks/bench_peers.py``).

    python benchmarks/bench_dyngraph_opcodes.py            # W1 W2 W3 totals
    python benchmarks/bench_dyngraph_opcodes.py W2 --top 15  # and the 15 functions with most opcodes
"""

from __future__ import annotations

import argparse
import collections
import sys

import numpy as np

from graphcompare.experiments import peers


def count(workload: str) -> tuple:
    """``(opcodes per function, calls per function)`` of one steady dyngraph step."""
    spec = peers.SPECS[workload]
    runner = peers.make("dyngraph", spec, spec.inputs(np.random.default_rng(0)))
    for _ in range(3):
        runner.step()
    ops, calls = collections.Counter(), collections.Counter()

    def trace(frame, event, arg):
        frame.f_trace_opcodes = True
        code = frame.f_code
        key = "/".join(code.co_filename.split("/")[-2:]) + ":" + code.co_name
        if event == "opcode":
            ops[key] += 1
        elif event == "call":
            calls[key] += 1
        return trace

    sys.settrace(trace)
    try:
        runner.step()
    finally:
        sys.settrace(None)
    return ops, calls


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workloads", nargs="*", default=["W1", "W2", "W3"])
    ap.add_argument("--top", type=int, default=0, help="also list the functions with most opcodes")
    a = ap.parse_args(argv)
    for w in a.workloads:
        ops, calls = count(w)
        print(f"{w} {peers.SPECS[w].title}: {sum(ops.values()):,} opcodes, {sum(calls.values()):,} Python calls per step")
        for key, n in ops.most_common(a.top):
            print(f"  {n:8,} opcodes {calls[key]:6,} calls  {key}")


if __name__ == "__main__":
    main()
