"""Where the whole-step tier's thresholds come from (``staticgraph.wholestep``).

Inside the compiled step a matrix product is a sequential-k loop (``fusion_step``'s ``_mm22`` /
``_mm21``), with no call overhead; outside it the executable calls ``ndarray.dot`` (BLAS) at
about a microsecond per call. This prints, per size, the loop's time inside numba (timed by a
numba loop around it, so no dispatch is counted) beside ``ndarray.dot`` called from Python,
and the multiply-adds: the loop may handle a product as long as it costs no more than the
call it replaces.

One core, BLAS one thread. The machine may be shared: ratios in one run are what count.

    python benchmarks/bench_whole_step.py
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"
for _v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_v, None)

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from shared_ops.fusion_step import module_source  # noqa: E402

TIMERS = '''
@njit(nogil=True, cache=False, error_model="numpy")
def time_mm22(a, b, reps):
    s = 0.0
    for r in range(reps):
        s += _mm22(a, b)[0, 0]
    return s


@njit(nogil=True, cache=False, error_model="numpy")
def time_mm21(a, b, reps):
    s = 0.0
    for r in range(reps):
        s += _mm21(a, b)[0]
    return s
'''


def best(f, reps: int, rounds: int = 7) -> float:
    """Minimum CPU time per repetition over ``rounds`` (microseconds)."""
    out = float("inf")
    for _ in range(rounds):
        t0 = time.thread_time_ns()
        f(reps)
        out = min(out, (time.thread_time_ns() - t0) / reps / 1e3)
    return out


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    ns: dict = {}
    exec(compile(module_source([TIMERS]).replace("cache=True", "cache=False"), "<bench>", "exec"), ns)  # our own text
    rng = np.random.default_rng(0)
    print(f"load average {os.getloadavg()}; one core; float32; microseconds (min CPU time)")
    print("| product | multiply-adds | loop in the step | ndarray.dot call | loop / dot |")
    print("| --- | --- | --- | --- | --- |")
    for n in (8, 16, 20, 32, 48, 64, 96, 128):
        for kind in ("mat @ vec", "mat @ mat"):
            a = rng.standard_normal((n, n)).astype(np.float32)
            b = rng.standard_normal((n, n) if kind == "mat @ mat" else n).astype(np.float32)
            timer = ns["time_mm22"] if kind == "mat @ mat" else ns["time_mm21"]
            timer(a, b, 1)
            macs = n * n * (n if kind == "mat @ mat" else 1)
            reps = max(10, 2_000_000 // macs)
            loop = best(lambda r: timer(a, b, r), reps)

            def dots(r, a=a, b=b):
                for _ in range(r):
                    a.dot(b)

            dot = best(dots, reps)
            print(f"| {n}x{n} {kind} | {macs} | {loop:.2f} | {dot:.2f} | {loop / dot:.2f} |")


if __name__ == "__main__":
    main()
