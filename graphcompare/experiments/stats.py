"""Repeated timing and its summary: every figure in the report is a median with its spread.

A *sample* is the mean time of one step over ``inner`` consecutive steps (``inner`` chosen so a
sample lasts about ``target_s``, which keeps the clock's resolution and the loop's own cost out
of small steps); a measure is the median over ``repeats`` samples with the interquartile range
and the min/max beside it.
"""

from __future__ import annotations

import contextlib
import gc
import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable

perf = time.perf_counter


@dataclass
class Summary:
    """Median and spread of repeated samples (seconds, bytes, or any unit)."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, samples) -> "Summary":
        xs = sorted(float(x) for x in samples)
        if not xs:
            nan = math.nan
            return cls(nan, nan, nan, nan, nan, 0)
        if len(xs) == 1:
            q1 = q3 = xs[0]
        else:
            q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
        return cls(statistics.median(xs), q1, q3, xs[0], xs[-1], len(xs))

    @classmethod
    def from_dict(cls, d: dict) -> "Summary":
        return cls(**{k: float(d[k]) if k != "n" else int(d[k]) for k in ("median", "q1", "q3", "min", "max", "n")})

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def scaled(self, k: float) -> "Summary":
        return Summary(self.median * k, self.q1 * k, self.q3 * k, self.min * k, self.max * k, self.n)


@contextlib.contextmanager
def quiet_gc():
    """No cyclic garbage collection inside timed samples (as ``timeit``): a full collection costs
    in proportion to everything the process holds (PyTorch, matplotlib, earlier results), not to
    the step being timed. Both front ends free their graphs by reference counting."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def calibrate(step: Callable[[], object], target_s: float, max_inner: int = 100_000) -> int:
    """How many consecutive steps make one sample of about ``target_s`` seconds (at least 1).

    Each trial length is timed three times and the fastest kept, so one preemption by another
    process cannot make a fast step look slow (which would leave samples of a few steps)."""
    n = 1
    while True:
        dt = min(_run(step, n) for _ in range(3))
        if dt >= target_s / 8 or n >= max_inner:
            break
        n *= 4
    return max(1, min(max_inner, int(round(n * target_s / max(dt, 1e-9)))))


def _run(step, n: int) -> float:
    t0 = perf()
    for _ in range(n):
        step()
    return perf() - t0


def time_step(step: Callable[[], object], repeats: int, target_s: float, warmup: int = 1,
              inner: int | None = None) -> tuple[Summary, int]:
    """Seconds per step, as a Summary over ``repeats`` samples; also the ``inner`` count used."""
    for _ in range(warmup):
        step()
    samples = []
    with quiet_gc():
        if inner is None:
            inner = calibrate(step, target_s)
        for _ in range(repeats):
            t0 = perf()
            for _ in range(inner):
                step()
            samples.append((perf() - t0) / inner)
    return Summary.of(samples), inner


def fmt_seconds(s: float) -> str:
    """A duration with a unit that keeps three significant figures readable."""
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "n/a"
    if math.isinf(s):
        return "inf"
    a = abs(s)
    if a >= 1000:  # "1.79e+03 s" is hard to read: whole seconds
        return f"{s:,.0f} s"
    if a >= 1:
        return f"{s:.3g} s"
    if a >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    if a >= 1e-6:
        return f"{s * 1e6:.3g} µs"
    return f"{s * 1e9:.3g} ns"


def fmt_bytes(b: float | None) -> str:
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return "n/a"
    b = float(b)
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(b) >= k:
            return f"{b / k:.3g} {unit}"
    return f"{b:.0f} B"


def fmt_summary(s: Summary | None, fmt=fmt_seconds) -> str:
    """``median [q1–q3]``: the form of every timed figure in the report."""
    if s is None or s.n == 0:
        return "n/a"
    return f"{fmt(s.median)} [{fmt(s.q1)}–{fmt(s.q3)}]"
