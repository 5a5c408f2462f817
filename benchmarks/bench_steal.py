"""Does the gradient-buffer steal of ``dyngraph.sinks.owned`` pay? bench_dyngraph.py's W1-W3
for dyngraph, with the steal (a leaf's first gradient is kept, not copied, when nothing else
holds it) against a copy always, side by side in one process: pinned to one core, BLAS one
thread (bench_dyngraph's setup, imported), warmed up, repeats interleaved, medians of the CPU
time per call.

Run: ``python benchmarks/bench_steal.py`` (``--quick``: fewer repeats).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_dyngraph as bd  # noqa: E402  (pins the process and sets BLAS to one thread on import)
import numpy as np  # noqa: E402

from dyngraph import sinks  # noqa: E402

KEEP = sinks._STEAL_REFS


def with_refs(fn, refs: int):
    """``fn`` run with the steal threshold ``refs`` (0: no gradient qualifies, all are copied)."""
    def run():
        sinks._STEAL_REFS = refs
        try:
            return fn()
        finally:
            sinks._STEAL_REFS = KEEP
    return run


def main() -> None:
    rng = np.random.default_rng(0)
    x0, w2in = np.array([0.3]), bd.std.rnn_inputs(rng, "float64", columns=True)
    P0, (x, y) = bd.w3_params(rng), bd.std.mlp_batch(rng)
    makers = (("W1", lambda: bd.w1_fns(x0), 100), ("W2", lambda: bd.w2_fns(*w2in), 60), ("W3", lambda: bd.w3_fns(P0, x, y), 5))
    print(f"dyngraph, copy always / steal (sinks.owned): CPU ms per call, medians of {bd.REPEATS} interleaved repeats, "
          f"pinned to CPU {sorted(os.sched_getaffinity(0))}")
    for w, make, n in makers:
        r = bd.medians({"steal": with_refs(make()["dyngraph"], KEEP), "copy": with_refs(make()["dyngraph"], 0)},
                       max(1, n // (3 if bd.QUICK else 1)))
        print(f"{w:<4} steal {r['steal'][1] * 1e3:8.3f}  copy {r['copy'][1] * 1e3:8.3f}  copy / steal {r['copy'][1] / r['steal'][1]:.3f}x")


if __name__ == "__main__":
    main()
