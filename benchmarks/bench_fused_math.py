"""Accuracy of the fused kernels' float32 ``exp`` and ``tanh`` over every float32 input.

The fused loop computes float32 ``exp``/``tanh`` with the float32 polynomials of
``shared_ops.fusion_spec.INLINE`` (both tiers, bitwise). This script runs the compiled loop on
every float32 bit pattern (or every ``--stride``-th) and measures the distance in units in the
last place (ulp: representable float32 values between two results) to

- ``ref``: the float64 function (NumPy, glibc) rounded to float32, which is the correctly
  rounded result except where the float64 value lies within its own error of a float32
  rounding boundary;
- NumPy's float32 function and, where installed, PyTorch's float32 function;

and whether every non-finite result (inf, NaN) and every zero's sign is the reference's. It
then times the loop against NumPy's float32 function on 4M elements (one pinned core).

    python benchmarks/bench_fused_math.py              # every float32 (a few minutes)
    python benchmarks/bench_fused_math.py --stride 97  # a sample
    python benchmarks/bench_fused_math.py --fit        # the polynomial's coefficients
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from shared_ops.fusion_cpu import KernelSpec, Output, Step, compile_kernel


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Representable float32 values between ``a`` and ``b`` (int64; finite inputs)."""
    def key(v):
        i = v.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(key(a) - key(b))


def kernel(op: str):
    spec = KernelSpec((None,), (("float32", (0,)),), (Step(op, (0,), (), "float32"),), (Output(1, (), "float32"),))
    k = compile_kernel(spec)

    def run(x):
        out = np.empty_like(x)
        k(x, out)
        return out
    return run


def measure(op: str, stride: int, chunk: int = 1 << 24) -> dict:
    try:
        import torch
    except ImportError:
        torch = None
    run = kernel(op)
    stats = {"inputs": 0, "max_ref": 0, "worst_x": None, "over1_ref": 0, "max_numpy": 0, "max_torch": None,
             "nonfinite_mismatch": 0, "zero_sign_mismatch": 0, "numpy_max_ref": 0}
    for start in range(0, 1 << 32, chunk * stride):
        bits = np.arange(start, min(start + chunk * stride, 1 << 32), stride, dtype=np.uint64).astype(np.uint32)
        x = bits.view(np.float32)
        got = run(x)
        with np.errstate(all="ignore"):
            ref = getattr(np, op)(x.astype(np.float64)).astype(np.float32)
            npf = getattr(np, op)(x)
        fin = np.isfinite(ref)
        same = (got == ref) | (np.isnan(got) & np.isnan(ref))
        stats["nonfinite_mismatch"] += int(np.count_nonzero(~same[~fin]))
        zero = ref == 0
        stats["zero_sign_mismatch"] += int(np.count_nonzero(np.signbit(got[zero]) != np.signbit(ref[zero])))
        gf, rf = got[fin], ref[fin]
        bad = ~np.isfinite(gf)
        stats["nonfinite_mismatch"] += int(np.count_nonzero(bad))
        d = ulp_distance(np.where(bad, np.float32(0), gf), rf)
        if d.size:
            i = int(np.argmax(d))
            if d[i] > stats["max_ref"]:
                stats["max_ref"], stats["worst_x"] = int(d[i]), float(x[fin][i])
            stats["over1_ref"] += int(np.count_nonzero(d > 1))
            nf = np.isfinite(npf[fin])
            stats["max_numpy"] = max(stats["max_numpy"], int(ulp_distance(gf[nf], npf[fin][nf]).max(initial=0)))
            stats["numpy_max_ref"] = max(stats["numpy_max_ref"], int(ulp_distance(npf[fin][nf], rf[nf]).max(initial=0)))
            if torch is not None:
                tf = getattr(torch, op)(torch.from_numpy(x)).numpy()[fin]
                tfin = np.isfinite(tf)
                m = int(ulp_distance(gf[tfin], tf[tfin]).max(initial=0))
                stats["max_torch"] = max(stats["max_torch"] or 0, m)
        stats["inputs"] += x.size
    return stats


def timing(op: str) -> tuple[float, float]:
    x = (np.random.default_rng(0).standard_normal(4_000_000) * 3).astype(np.float32)
    run, ref = kernel(op), getattr(np, op)
    run(x)
    best = []
    for f in (run, ref):
        ts = []
        for _ in range(7):
            t = time.thread_time_ns()
            f(x)
            ts.append(time.thread_time_ns() - t)
        best.append(min(ts) / x.size)
    return best[0], best[1]


def fit(bound: float = 0.3467, degree: int = 3, nodes: int = 3000, rounds: int = 80) -> list:
    """The coefficients of ``expm1(r) = r + r*r*(0.5 + r*C(r))`` on ``|r| <= bound``, ``C`` of
    ``degree``, fitted to the relative error (weighted least squares on Chebyshev nodes,
    reweighted toward the minimax solution: Lawson's iteration); rounded to float32. The
    leading 0.5 is kept exact so that the error vanishes near 0, as Taylor's does."""
    import math

    r = np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes) * bound
    r = r[np.abs(r) > 1e-4]
    em1 = np.array([math.expm1(v) for v in r])
    target = ((em1 - r) / (r * r) - 0.5) / r
    scale = r ** 3 / np.abs(em1)  # an error in C times this is the relative error of expm1
    A = np.vander(r, degree + 1, increasing=True)
    w = np.ones_like(r)
    for _ in range(rounds):
        sw = np.sqrt(w) * scale
        c, *_ = np.linalg.lstsq(A * sw[:, None], target * sw, rcond=None)
        w = w * np.abs((A @ c - target) * scale)
        w /= w.sum()
    c32 = c.astype(np.float32)
    err = np.abs((A @ c32.astype(np.float64) - target) * scale).max()
    print(f"C = {[float(v) for v in c32]}; relative error {err:.3g} (float32 coefficients, float64 evaluation)")
    return [float(v) for v in c32]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stride", type=int, default=1, help="every STRIDE-th float32 bit pattern (1: all)")
    ap.add_argument("--fit", action="store_true", help="refit the expm1 polynomial's coefficients and stop")
    args = ap.parse_args(argv)
    if args.fit:
        fit()
        return
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    print(f"fused float32 exp/tanh against the float64 function rounded to float32 (ref), every {args.stride}-th float32")
    print("| op | inputs | max ulp vs ref | worst input | inputs > 1 ulp | max ulp vs NumPy f32 | NumPy f32 vs ref "
          "| max ulp vs torch f32 | non-finite / zero-sign mismatches | ns/element fused, NumPy |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for op in ("exp", "tanh"):
        s = measure(op, args.stride)
        fused, npy = timing(op)
        print(f"| {op} | {s['inputs']} | {s['max_ref']} | {s['worst_x']!r} | {s['over1_ref']} | {s['max_numpy']} | "
              f"{s['numpy_max_ref']} | {s['max_torch'] if s['max_torch'] is not None else '-'} | "
              f"{s['nonfinite_mismatch']} / {s['zero_sign_mismatch']} | {fused:.2f}, {npy:.2f} |", flush=True)


if __name__ == "__main__":
    main()
