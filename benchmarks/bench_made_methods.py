"""What a tensor method made from its op's declaration (``unary_method``, ``binary_method`` in
``shared_ops/_surface_math.py``) costs against the same method written out by hand.

The surface is a stub whose ``_op`` and ``__mul__`` return at once, so only the methods' own
Python frames are timed: ``x.exp()`` (the closure ``self._op(name, self)`` against the literal
``self._op("exp", self)``) and ``x.mul(y)`` (``operator.mul(self, other)`` against
``self * other``). A real dyngraph op costs several microseconds on top of this.

Run:  python benchmarks/bench_made_methods.py [--rounds 15] [--cpu 0]

Pinned to one core, one BLAS/OpenMP thread; the four variants are timed interleaved, round after
round, in one process; the table gives medians over rounds and the made/hand ratio.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import argparse  # noqa: E402
import operator  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import timeit  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from shared_ops._surface_math import binary_method, unary_method  # noqa: E402


class Stub:
    def _op(self, name, *inputs):
        return self

    def __mul__(self, other):
        return self

    def exp_hand(self):
        return self._op("exp", self)

    def mul_hand(self, other):
        return self * other

    exp_made = unary_method("exp", "[0.0]", "")
    mul_made = binary_method("mul", operator.mul, "", "")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cpu", type=int, default=0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    s = Stub()
    rows = {"x.exp() hand": s.exp_hand, "x.exp() made": s.exp_made,
            "x.mul(2.0) hand": lambda: s.mul_hand(2.0), "x.mul(2.0) made": lambda: s.mul_made(2.0)}
    for f in rows.values():  # warm up
        timeit.timeit(f, number=10000)
    times: dict = {k: [] for k in rows}
    for _ in range(args.rounds):
        for k, f in rows.items():
            times[k].append(min(timeit.repeat(f, number=100000, repeat=3)) / 100000 * 1e9)
    med = {k: statistics.median(v) for k, v in times.items()}
    print("| method | hand (ns) | made (ns) | made / hand |\n|---|---|---|---|")
    for m in ("x.exp()", "x.mul(2.0)"):
        hand, made = med[f"{m} hand"], med[f"{m} made"]
        print(f"| {m} | {hand:.0f} | {made:.0f} | {made / hand:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
