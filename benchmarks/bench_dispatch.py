"""What the dispatch point costs: per op, calling through ``op.kernel`` (and through the array
interpreter's ``ops.<name>(...)``, the call a gradient rule makes) against calling the NumPy function directly.

Instrumentation is off, so ``op.kernel is op.forward``: the added cost is one attribute
lookup plus the op's own Python frame (the forward function wrapping the NumPy call).
Arrays are small (8 x 16 float32), so the NumPy call itself is short and the overhead shows.

Run:  python benchmarks/bench_dispatch.py [--number 500] [--repeat 200] [--cpu 0]

Pinned to one core, one BLAS/OpenMP thread; the three variants of an op are timed
interleaved, round after round, in one process. The table gives medians over rounds, the
added cost as the median of per-round differences, and beside it the difference of minima
(on a busy machine the minima are the least disturbed estimate).
Target: <= 0.3 us added per call.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_var, None)

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import shared_ops as so  # noqa: E402

rng = np.random.default_rng(0)
a = rng.standard_normal((8, 16)).astype(np.float32)
b = rng.standard_normal((8, 16)).astype(np.float32)
pos = np.abs(a) + 0.5
m = rng.standard_normal((16, 4)).astype(np.float32)
cond = a > 0

NAMES = {"a": a, "b": b, "pos": pos, "m": m, "cond": cond, "b1": b[:1], "np": np}

# op name -> (input names, attrs, the NumPy call its kernel makes, written out directly)
CASES = {
    "add": ("a b", {}, "np.add(a, b)"),
    "sub": ("a b", {}, "np.subtract(a, b)"),
    "mul": ("a b", {}, "np.multiply(a, b)"),
    "div": ("a b", {}, "np.divide(a, b)"),
    "neg": ("a", {}, "np.negative(a)"),
    "exp": ("a", {}, "np.exp(a)"),
    "log": ("pos", {}, "np.log(pos)"),
    "tanh": ("a", {}, "np.tanh(a)"),
    "sqrt": ("pos", {}, "np.sqrt(pos)"),
    "abs": ("a", {}, "np.abs(a)"),
    "maximum": ("a b", {}, "np.maximum(a, b)"),
    "gt": ("a b", {}, "a > b"),
    "where": ("cond a b", {}, "np.where(cond, a, b)"),
    "pow_scalar": ("pos", {"exponent": 2.0}, "pos ** 2.0"),
    "clip": ("a", {"min": -0.5, "max": 0.5}, "np.clip(a, -0.5, 0.5)"),
    "sum": ("a", {"axis": (1,), "keepdims": False}, "np.sum(a, axis=(1,), keepdims=False, dtype=a.dtype)"),
    "mean": ("a", {"axis": None, "keepdims": False}, "np.mean(a, axis=None, keepdims=False)"),
    "max": ("a", {"axis": (0,), "keepdims": True}, "np.max(a, axis=(0,), keepdims=True)"),
    "reshape": ("a", {"shape": (16, 8)}, "np.reshape(a, (16, 8))"),
    "transpose": ("a", {"axes": (1, 0)}, "a.T"),  # the kernel's 2-D fast path
    "broadcast_to": ("b1", {"shape": (8, 16)}, "np.broadcast_to(b1, (8, 16))"),
    "matmul": ("a m", {}, "np.matmul(a, m)"),
    "astype": ("a", {"dtype": "float64"}, "np.astype(a, np.float64)"),
    "add_n": ("a b", {}, "np.add(a, b)"),
    "ones_like": ("a", {}, "np.ones_like(a)"),
    "concatenate": ("a b", {"axis": 0}, "np.concat((a, b), axis=0)"),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--number", type=int, default=500, help="calls per timing")
    p.add_argument("--repeat", type=int, default=200, help="interleaved rounds")
    p.add_argument("--cpu", type=int, default=None, help="core to pin to (default: the first allowed)")
    args = p.parse_args()
    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})

    ns = so.array_ops(so.get_backend("numpy"))
    rows = []
    for name, (inputs, attrs, direct) in CASES.items():
        op = so.get_op(name)
        assert op.kernel is op.forward, "instrumentation must be off"
        env = {**NAMES, "op": op, "ns": ns}
        call = ", ".join(inputs.split())
        kw = "".join(f", {k}={v!r}" for k, v in attrs.items())
        timers = {
            "direct": timeit.Timer(direct, globals=env),
            "kernel": timeit.Timer(f"op.kernel(np, {call}{kw})", globals=env),
            "apply": timeit.Timer(f"ns.{name}({call}{kw})", globals=env),  # the path a gradient rule takes
        }
        same = eval(f"op.kernel(np, {call}{kw})", env), eval(direct, env)  # noqa: S307
        np.testing.assert_array_equal(*same)  # the kernel does exactly the direct call's work
        for t in timers.values():  # warm up
            t.timeit(args.number)
        samples = {k: [] for k in timers}
        for _ in range(args.repeat):  # interleaved, so drift and bursts hit all three alike
            for k, t in timers.items():
                samples[k].append(t.timeit(args.number) / args.number * 1e6)
        rows.append((name, samples))

    print(f"pinned to cpu {cpu}; numpy {np.__version__}; float32 (8, 16); {args.repeat} interleaved rounds x {args.number} calls")
    print("us/call: median over rounds; +kernel/+apply: median of the per-round differences to direct,")
    print("and in brackets the difference of the per-variant minima (the least disturbed rounds)")
    print(f"{'op':<14}{'direct':>8}{'kernel':>8}{'apply':>8}{'+kernel':>9}{'[min]':>8}{'+apply':>9}{'[min]':>8}")
    added = {"kernel": [], "apply": []}
    for name, s in rows:
        med = {k: statistics.median(v) for k, v in s.items()}
        line = f"{name:<14}{med['direct']:>8.3f}{med['kernel']:>8.3f}{med['apply']:>8.3f}"
        for k in ("kernel", "apply"):
            paired = statistics.median(x - d for x, d in zip(s[k], s["direct"]))
            lowest = min(s[k]) - min(s["direct"])
            added[k].append((paired, lowest))
            line += f"{paired:>+9.3f}{lowest:>+8.3f}"
        print(line)
    for label, pick in (("median", statistics.median), ("worst", max)):
        line = f"{label:<14}{'':>24}"
        for k in ("kernel", "apply"):
            line += f"{pick(p for p, _ in added[k]):>+9.3f}{pick(m for _, m in added[k]):>+8.3f}"
        print(line)
    worst = max(m for _, m in added["kernel"])
    print(f"target <= 0.3 us added per call through op.kernel (minima): {'met' if worst <= 0.3 else 'NOT met'} (worst {worst:+.3f} us)")


if __name__ == "__main__":
    main()
