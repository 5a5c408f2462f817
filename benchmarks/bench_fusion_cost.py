"""The fusion pass's cost model, measured: what a fused region's call costs on the numba tier
against the NumPy calls it replaces, on small arrays where call costs are the whole cost.

A region ``a0 + a1 + ... + a{k-1}`` (k inputs, one output, k-1 adds) runs as one fused call
(``FusedKernel.kernel``, as the executable calls it) and as k-1 calls of the ``add`` op's
kernel. The fused times are fitted as ``CALL_US + ARG_US * arrays`` and the NumPy times as
``NUMPY_CALL_US * calls``; the fit is printed beside the constants
``staticgraph.passes.fuse`` uses, with the crossover it implies.

    python benchmarks/bench_fusion_cost.py            # 20 elements (the W2 cell's width)
    python benchmarks/bench_fusion_cost.py --n 1 --n 400

One core, BLAS one thread, CPU time of this thread (``time.thread_time_ns``: time the process
spends descheduled on a shared machine does not count), the minimum over interleaved rounds.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"
for _v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_v, None)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def _cpu_us(f, n: int) -> float:
    t0 = time.thread_time_ns()
    for _ in range(n):
        f()
    return (time.thread_time_ns() - t0) / n / 1e3


def measure(fns: dict, number: int = 2000, rounds: int = 20) -> dict:
    """``{name: microseconds}``: the minimum over ``rounds`` interleaved rounds of ``number`` calls."""
    out = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            out[k].append(_cpu_us(f, number))
    return {k: min(v) for k, v in out.items()}


def fit(xs, ys) -> tuple:
    """Least squares ``y = a + b x``: ``(a, b)``."""
    A = np.vstack([np.ones(len(xs)), xs]).T
    a, b = np.linalg.lstsq(A, np.asarray(ys, float), rcond=None)[0]
    return float(a), float(b)


def run(n: int, ks=(3, 5, 9, 17, 33)) -> None:
    import staticgraph as sg
    from shared_ops.registry import REGISTRY
    from staticgraph.passes import fuse

    add = REGISTRY.get("add").kernel
    rng = np.random.default_rng(0)
    fns = {}
    small, fuse.SMALL_ELEMS = fuse.SMALL_ELEMS, 0  # every region fused here: the model is what is measured
    for k in ks:
        xs = [rng.standard_normal(n).astype(np.float32) for _ in range(k)]
        with sg.Graph():
            ps = [sg.placeholder((n,), "float32", name=f"a{i}") for i in range(k)]
            y = ps[0]
            for p in ps[1:]:
                y = y + p
        region = sg.compile(y, inputs=ps, optimize=True, block=True).regions()[0]
        fns[("fused", k)] = lambda r=region, xs=xs: r.kernel(np, *xs)

        def unfused(xs=xs):
            y = xs[0]
            for x in xs[1:]:
                y = add(np, y, x)
        fns[("numpy", k)] = unfused
    t = measure(fns)
    fuse.SMALL_ELEMS = small
    print(f"n = {n} elements, float32")
    print(f"{'arrays':>7} {'ops':>4} {'fused us':>9} {'NumPy us':>9}")
    for k in ks:
        print(f"{k + 1:7d} {k - 1:4d} {t[('fused', k)]:9.3f} {t[('numpy', k)]:9.3f}")
    call, arg = fit([k + 1 for k in ks], [t[("fused", k)] for k in ks])
    per_call = float(np.median([t[("numpy", k)] / (k - 1) for k in ks]))
    print(f"fit: fused call {call:.2f} us + {arg:.3f} us per array; a NumPy call {per_call:.2f} us")
    print(f"the pass uses: CALL_US {fuse.CALL_US}, ARG_US {fuse.ARG_US}, NUMPY_CALL_US {fuse.NUMPY_CALL_US}")
    for calls in (2, 3, 4):
        most = (calls * per_call - call) / arg
        print(f"  {calls} ops pay for their call with at most {most:.1f} arrays (measured), "
              f"{(calls * fuse.NUMPY_CALL_US - fuse.CALL_US) / fuse.ARG_US:.1f} (the pass's constants)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, action="append", help="elements per array (repeatable; default 20)")
    a = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    for n in a.n or [20]:
        run(n)


if __name__ == "__main__":
    main()
