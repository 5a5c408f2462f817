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
    """A counter that changes whenever kernels are swapped (``instrument``,
    ``perturb_rounding``, ``wrap_kernels`` entered or left): a kernel cached from ``bind`` is
    stale when it moved.

    Returns:
        The current generation.

    Examples:
        >>> from shared_ops import generation, instrument
        >>> before = generation()
        >>> with instrument():
        ...     inside = generation()
        >>> inside != before, generation() != inside
        (True, True)
    """
    return _generation[0]


@dataclass
class OpStats:
    calls: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0


@dataclass
class Stats:
    """What the kernels did while instrumentation was on, total and per op; ``instrument()``
    gives one, with the totals ``calls``, ``kernel_seconds``, ``bytes_in`` and ``bytes_out``.

    Args:
        per_op: op name -> its calls, seconds, bytes in and out (filled by ``instrument``).

    Examples:
        >>> import dyngraph as dg
        >>> from shared_ops import instrument
        >>> with instrument() as stats:
        ...     y = dg.tensor([1.0, 2.0]).exp() * 2.0
        >>> stats.calls, stats.per_op["exp"].calls, stats.bytes_out
        (2, 1, 16)
    """

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
        """The per-op figures as a text table, the slowest op first.

        Returns:
            One line per op: calls, milliseconds, megabytes in and out.

        Examples:
            >>> import dyngraph as dg
            >>> from shared_ops import instrument
            >>> with instrument() as stats:
            ...     y = dg.tensor([1.0, 2.0]).exp()
            >>> header, row = stats.table().splitlines()
            >>> header.split(), row.split()[:2]
            (['op', 'calls', 'ms', 'MB', 'in', 'MB', 'out'], ['exp', '1'])
        """
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
    or ``wrap_kernels`` is on, else ``fn`` under them, as registry kernels are. Bind again when
    ``generation()`` moved.

    Args:
        name: the kernel's name in ``Stats`` and for ``wrap_kernels``.
        fn: ``fn(xp, *arrays, **attrs)``, the kernel.
        exact: it only moves or selects values (never perturbed).

    Returns:
        The callable to call in place of ``fn``.

    Examples:
        >>> import numpy as np
        >>> from shared_ops import bind, instrument
        >>> def double(xp, x):
        ...     return x * 2
        >>> bind("double", double) is double  # nothing is on: free
        True
        >>> with instrument() as stats:
        ...     out = bind("double", double)(np, np.ones(3))
        >>> stats.per_op["double"].calls
        1
    """
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
    """Count calls, bytes and kernel time of every kernel run inside the block (blocks nest;
    each counts what ran inside it).

    Yields:
        The ``Stats`` the block fills.

    Examples:
        >>> import dyngraph as dg
        >>> from shared_ops import instrument
        >>> x = dg.tensor([1.0, 2.0], requires_grad=True)
        >>> with instrument() as stats:
        ...     (x * x).sum().backward()
        >>> stats.per_op["mul"].calls  # x * x forward, then g * x twice backward
        3
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
    """Inside the block every kernel (registry ops' and named ones) is ``make(name, kernel)``:
    the experiments record each kernel's output, then replay it, to time a step without its
    kernels.

    Args:
        make: ``make(name, kernel) -> kernel``, called for every kernel when the block starts
            (and whenever kernels are swapped inside it).

    Yields:
        Nothing; the kernels are swapped back when the block ends.

    Examples:
        >>> import dyngraph as dg
        >>> from shared_ops import wrap_kernels
        >>> seen = []
        >>> def log(name, kernel):
        ...     def logged(xp, *arrays, **attrs):
        ...         seen.append(name)
        ...         return kernel(xp, *arrays, **attrs)
        ...     return logged
        >>> with wrap_kernels(log):
        ...     y = dg.tensor([1.0, 2.0]).tanh().sum()
        >>> seen
        ['tanh', 'sum']
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

    Args:
        ulps: the size of each perturbation in machine epsilons of the result's dtype, in
            ``(0, 65536]``.
        seed: the generator's seed.
        rel: one relative size for every dtype instead, in ``(0, 0.01]``.

    Yields:
        The perturbation; its ``results`` counts the floating-point results perturbed so far.

    Raises:
        ValueError: ``ulps`` or ``rel`` out of its range.
        RuntimeError: the block is entered inside another ``perturb_rounding`` block.

    Examples:
        >>> import dyngraph as dg
        >>> from shared_ops import perturb_rounding
        >>> x = dg.tensor([1.0, 2.0, 3.0], dtype="float64")
        >>> with perturb_rounding(16, seed=1) as p:
        ...     y = (x / 3.0).sum()
        >>> p.results, float(y) == 2.0, abs(float(y) - 2.0) < 1e-13
        (2, False, True)
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
