"""The one dispatch point: every kernel call of both front ends is ``op.kernel(xp, ...)``.

With instrumentation off, ``op.kernel`` *is* ``op.forward``: calling through the dispatch
point costs one attribute lookup and nothing else. Two context managers swap every registered
op's ``kernel`` for a wrapper, and swap them back on exit (they compose):

``instrument()``
    counts calls, bytes in and out, and kernel time (CuPy is synchronised around the call so
    the time is the kernel's).
``perturb_rounding(ulps, seed)``
    Monte Carlo arithmetic (Parker, 1997): every floating-point result ``r`` of an op that
    rounds (not the ``exact`` ones: moves and selections) becomes ``r * (1 + rel * u)``, with
    ``rel`` = ``ulps`` machine epsilons of ``r``'s dtype (or one fixed ``rel``) and ``u``
    uniform in ``[-1, 1]`` from a seeded generator. The spread of a computation's results over
    a few such runs measures how much rounding at any of its kernels can move them: large
    where terms cancel, small where they do not.
    graphcompare's tolerance rule uses it (``graphcompare.equivalence``).

``wrap_kernels(make)``
    every kernel becomes ``make(name, kernel)`` inside the block (the experiments record every
    kernel's output, then replay it, to time a step with free kernels).

Kernels that are not a registry op's own (staticgraph's fused regions, kernels writing into a
planned buffer) are *named kernels*: ``bind(name, fn)`` gives the callable to call, ``fn``
itself while nothing is on (free), else ``fn`` under the same wrappers, so every one of them is
counted, perturbed or recorded like a registry kernel. Front ends that cache kernels
(staticgraph's executables) compare ``generation()`` with the value they cached under and bind
again when it moved.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .dtypes import dtype_name, is_floating
from .registry import REGISTRY

_generation = [0]
_active: list["Stats"] = []
_perturb: list["_Perturbation"] = []
_makers: list = []  # wrap_kernels' functions, innermost first


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


_SYNC: dict = {}


def _sync_of(xp):
    """The array module's device synchronisation (CuPy's stream), or None on the host; looked up
    once per module, since a failed module attribute lookup costs microseconds per kernel."""
    try:
        return _SYNC[xp]
    except (KeyError, TypeError):
        pass
    stream = getattr(getattr(xp, "cuda", None), "get_current_stream", None)
    sync = (lambda: stream().synchronize()) if stream is not None else None
    try:
        _SYNC[xp] = sync
    except TypeError:  # an unhashable namespace object: look it up each time
        pass
    return sync


def _wrap(name: str, forward):
    perf = time.perf_counter

    def kernel(xp, *arrays, **attrs):
        sync = _sync_of(xp)
        if sync is not None:
            sync()
        t0 = perf()
        out = forward(xp, *arrays, **attrs)
        if sync is not None:
            sync()
        dt = perf() - t0
        bi = 0
        for a in arrays:
            bi += _nbytes(a)
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


def _chain(name: str, kernel, exact: bool):
    if _perturb and not exact:  # an exact op (a move, a selection) never rounds
        kernel = _perturbed(kernel)
    for make in _makers:
        kernel = make(name, kernel)
    if _active:  # outermost: the instrumentation counts the rest as kernel time
        kernel = _wrap(name, kernel)
    return kernel


def bind(name: str, fn, *, exact: bool = False):
    """The callable to call for the named kernel ``fn`` (not a registry op's: a fused region, a
    kernel writing into a planned buffer): ``fn`` itself while no instrumentation, perturbation
    or ``wrap_kernels`` is on, else ``fn`` under them, as registry kernels are. ``exact``: it
    only moves or selects values (never perturbed). Bind again when ``generation()`` moved."""
    return _chain(name, fn, exact)


def _rebind(registry=REGISTRY) -> None:
    for op in registry.all():
        op.kernel = _chain(op.name, op.forward, op.exact)
    _generation[0] += 1


@dataclass
class _Perturbation:
    rel: float | None  # one relative size for every dtype, or
    ulps: float        # this many machine epsilons of each result's dtype
    rng: object
    results: int = 0  # floating-point results perturbed so far


_EPS: dict = {}


def _jitter(xp, out, p: _Perturbation):
    if isinstance(out, tuple):
        return tuple(_jitter(xp, o, p) for o in out)
    dt = getattr(out, "dtype", None)
    if dt is None or not is_floating(dt):
        return out
    rel = p.rel
    if rel is None:
        name = dtype_name(dt)
        eps = _EPS.get(name)
        if eps is None:
            eps = _EPS[name] = float(np.finfo(name).eps)
        rel = p.ulps * eps
    shape = tuple(out.shape)
    factor = 1.0 + rel * p.rng.uniform(-1.0, 1.0, size=shape)  # float64, on the host
    p.results += 1
    if isinstance(out, np.generic):  # NumPy returns 0-d results as scalars
        return (out * factor.astype(dt))[()]
    return out * xp.asarray(factor, dtype=dt)


def _perturbed(forward):
    def kernel(xp, *arrays, **attrs):
        return _jitter(xp, forward(xp, *arrays, **attrs), _perturb[-1])

    kernel.__wrapped__ = forward
    return kernel


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


@contextlib.contextmanager
def wrap_kernels(make):
    """Inside the block every kernel (registry ops' and named ones) is ``make(name, kernel)``.

    >>> with wrap_kernels(lambda name, k: k):   # e.g. record each output, or replay it
    ...     ...
    """
    _makers.append(make)
    _rebind()
    try:
        yield
    finally:
        _makers.remove(make)
        _rebind()


@contextlib.contextmanager
def perturb_rounding(ulps: float = 16, seed: int = 0, *, rel: float | None = None):
    """Multiply every floating-point result of a rounding op (``OpDef.exact`` is False) inside
    the block by ``1 + rel * u``, with ``u`` uniform in ``[-1, 1]`` from
    ``numpy.random.default_rng(seed)`` (Monte Carlo arithmetic). ``rel`` is ``ulps`` machine
    epsilons of the result's dtype (16 ulps: ``2**-48`` for float64, ``2**-19`` for float32),
    so every op is disturbed in proportion to its own rounding; or pass one fixed ``rel``.
    Runs are reproducible: the same computation and seed perturb the same way.

    >>> with perturb_rounding(16, seed=1) as p:
    ...     ...                       # run anything; p.results counts the perturbed results
    """
    def bad(x, lo, hi):
        return isinstance(x, bool) or not isinstance(x, (int, float)) or not lo < float(x) <= hi

    if rel is not None and bad(rel, 0.0, 1e-2):
        raise ValueError(f"perturb_rounding: rel must be a float in (0, 0.01] (a relative size like 2**-44), "
                         f"got {rel!r}")
    if rel is None and bad(ulps, 0.0, 2.0 ** 16):
        raise ValueError(f"perturb_rounding: ulps must be a number in (0, 65536] (machine epsilons of each "
                         f"result's dtype, like 16), got {ulps!r}")
    if _perturb:
        raise RuntimeError("perturb_rounding blocks do not nest: leave the outer block first")
    p = _Perturbation(None if rel is None else float(rel), float(ulps), np.random.default_rng(seed))
    _perturb.append(p)
    _rebind()
    try:
        yield p
    finally:
        _perturb.remove(p)
        _rebind()
