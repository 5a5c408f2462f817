"""The one dispatch point: every kernel call of both front ends is ``op.kernel(xp, ...)``.

With instrumentation off, ``op.kernel`` *is* ``op.forward``: calling through the dispatch
point costs one attribute lookup and nothing else. ``instrument()`` swaps every registered
op's ``kernel`` for a wrapper that counts calls, bytes in and out, and kernel time (CuPy is
synchronised around the call so the time is the kernel's), then swaps them back.

Front ends that cache kernels (staticgraph's executables) compare ``generation()`` with the
value they cached under and rebind when it moved.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field

from .registry import REGISTRY, OpDef

_generation = [0]
_active: list["Stats"] = []


def generation() -> int:
    """Changes whenever kernels are swapped; cached kernels are stale when it moved."""
    return _generation[0]


@dataclass
class OpStats:
    calls: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0


@dataclass
class Stats:
    """What the kernels did while instrumentation was on, total and per op."""

    per_op: dict = field(default_factory=lambda: defaultdict(OpStats))

    @property
    def calls(self) -> int:
        return sum(s.calls for s in self.per_op.values())

    @property
    def kernel_seconds(self) -> float:
        return sum(s.seconds for s in self.per_op.values())

    @property
    def bytes_in(self) -> int:
        return sum(s.bytes_in for s in self.per_op.values())

    @property
    def bytes_out(self) -> int:
        return sum(s.bytes_out for s in self.per_op.values())

    def table(self) -> str:
        rows = sorted(self.per_op.items(), key=lambda kv: -kv[1].seconds)
        lines = [f"{'op':<24}{'calls':>8}{'ms':>10}{'MB in':>10}{'MB out':>10}"]
        for name, s in rows:
            lines.append(
                f"{name:<24}{s.calls:>8}{s.seconds * 1e3:>10.3f}{s.bytes_in / 1e6:>10.3f}{s.bytes_out / 1e6:>10.3f}"
            )
        return "\n".join(lines)


def _nbytes(x) -> int:
    n = getattr(x, "nbytes", None)
    if n is None:
        size = getattr(x, "size", 0) or 0
        itemsize = getattr(getattr(x, "dtype", None), "itemsize", 0) or 0
        return int(size) * int(itemsize)
    return int(n)


def _wrap(op: OpDef):
    forward = op.forward
    name = op.name
    perf = time.perf_counter

    def kernel(xp, *arrays, **attrs):
        sync = getattr(getattr(xp, "cuda", None), "get_current_stream", None)
        if sync is not None:
            sync().synchronize()
        t0 = perf()
        out = forward(xp, *arrays, **attrs)
        if sync is not None:
            sync().synchronize()
        dt = perf() - t0
        bi = sum(_nbytes(a) for a in arrays)
        bo = _nbytes(out)
        for stats in _active:
            s = stats.per_op[name]
            s.calls += 1
            s.seconds += dt
            s.bytes_in += bi
            s.bytes_out += bo
        return out

    kernel.__wrapped__ = forward
    return kernel


def _rebind(registry=REGISTRY) -> None:
    on = bool(_active)
    for op in registry.all():
        op.kernel = _wrap(op) if on else op.forward
    _generation[0] += 1


@contextlib.contextmanager
def instrument():
    """Count calls, bytes and kernel time of every kernel run inside the block.

    >>> with instrument() as stats:
    ...     ...                       # run anything
    >>> stats.calls, stats.kernel_seconds
    """
    stats = Stats()
    _active.append(stats)
    if len(_active) == 1:
        _rebind()
    try:
        yield stats
    finally:
        _active.remove(stats)
        if not _active:
            _rebind()


def call(op: OpDef, xp, *arrays, **attrs):
    """Run one kernel through the dispatch point (front ends may call ``op.kernel`` directly)."""
    return op.kernel(xp, *arrays, **attrs)
