"""Thin adapters from the harness to dyngraph, staticgraph and the dispatch point.

Every call the experiments make into a front end goes through here, so a workload is only its
math and the measures are only their loops. If a front end is missing or raises, the harness
records the error for that cell of the report and carries on.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import dyngraph as dg
import staticgraph as sg
from shared_ops import instrument, wrap_kernels
from shared_ops.functions import FUNCTIONS
from shared_ops.registry import REGISTRY
from staticgraph import passes
from staticgraph.memory import MemoryPlan

perf = time.perf_counter
F = FUNCTIONS  # the shared functions (softmax_cross_entropy, conv2d, concatenate, ...) for both front ends


class Unavailable(RuntimeError):
    """This implementation cannot run here (a peer such as PyTorch or JAX is not installed)."""


class BudgetExceeded(RuntimeError):
    """A static build ran past the suite's compile budget (the cell is reported, the run goes on)."""


@contextlib.contextmanager
def time_limit(seconds: float | None, what: str = "compile"):
    """Raise ``BudgetExceeded`` in this (main) thread after ``seconds``; no limit elsewhere."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise BudgetExceeded(f"{what} took longer than the suite's budget of {seconds:g} s and was stopped")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------- dyngraph


def dg_tensor(array, requires_grad: bool = False):
    return dg.tensor(array, requires_grad=requires_grad)


def dg_sgd(params, lr: float) -> None:
    """SGD the PyTorch way: in place under ``no_grad`` (``p.sub_(p.grad * lr)``), then ``grad = None``."""
    with dg.no_grad():
        for p in params:
            p.sub_(p.grad * lr)
            p.grad = None


def dg_clear(params) -> None:
    for p in params:
        p.grad = None


# --------------------------------------------------------------------------- staticgraph


@dataclass
class StaticBuild:
    """A compiled static step and what building it cost (seconds)."""

    fn: Any
    declare_s: float
    gradients_s: float
    compile_s: float
    n_nodes: int = 0
    first_call_s: float | None = None  # the first run after compile (any lazy code generation)

    @property
    def build_s(self) -> float:
        return self.declare_s + self.gradients_s + self.compile_s


def static_build(model: Callable, data_specs: list, param_specs: list, optimize=True,
                 grads_of: str = "params", first_args: list | None = None,
                 budget_s: float | None = None) -> StaticBuild:
    """Declare ``model(*data, *params)`` on placeholders, add its gradients, compile.

    The compiled function takes ``(*data, *params)`` arrays and returns ``[loss, *grads]``
    (gradients for the params; ``grads_of="data"`` for the data inputs instead).
    """
    with time_limit(budget_s, "the static build (declare, gradients, compile, first call)"):
        return _static_build(sg, model, data_specs, param_specs, optimize, grads_of, first_args)


def _static_build(s, model, data_specs, param_specs, optimize, grads_of, first_args) -> StaticBuild:
    t0 = perf()
    with s.Graph() as g:
        data = [s.placeholder(shape, dtype, name=f"d{i}") for i, (shape, dtype) in enumerate(data_specs)]
        params = [s.placeholder(shape, dtype, name=f"p{i}") for i, (shape, dtype) in enumerate(param_specs)]
        loss = model(*data, *params)
        t1 = perf()
        wrt = params if grads_of == "params" else data
        grads = list(s.gradients(loss, wrt))
        t2 = perf()
    fn = s.compile([loss, *grads], inputs=[*data, *params], optimize=optimize)
    t3 = perf()
    first = None
    if first_args is not None:
        fn(*first_args)
        first = perf() - t3
    return StaticBuild(fn, t1 - t0, t2 - t1, t3 - t2, len(g.nodes), first)


def pass_names() -> list[str]:
    """The compiler's switchable passes, as staticgraph names them (``memory`` planning included)."""
    return list(passes.ALL)


def static_memory(fn) -> dict:
    """naive / planned / lower-bound bytes of a compiled function's memory plan (and the bytes
    its buffers hold); all None under ``optimize=False``, which plans no buffers."""
    plan = fn.plan
    if not isinstance(plan, MemoryPlan):
        return {"naive": None, "planned": None, "lower_bound": None}
    return {"naive": plan.naive, "planned": plan.planned_peak, "lower_bound": plan.lower_bound, "resident": plan.resident}


# --------------------------------------------------------------------------- kernels


def kernel_update(xp, params, grads, lr) -> None:
    """``p -= lr * g`` through the shared kernels (so the dispatch point counts it), in place."""
    mul, sub = REGISTRY.get("mul").kernel, REGISTRY.get("sub").kernel
    for p, g in zip(params, grads):
        p[...] = sub(xp, p, mul(xp, g, xp.asarray(lr, dtype=g.dtype)))


# Kernel swaps go through the dispatch point: registry kernels and the kernels a staticgraph
# executable names there (fused regions, kernels writing into planned buffers) alike, so kernel
# time, recording and replay see every kernel of a step.


@contextlib.contextmanager
def counting():
    """``shared_ops.instrument()``: every kernel counted, fused and planned ones included."""
    with instrument() as stats:
        yield stats


@contextlib.contextmanager
def record_kernels(log: list):
    """Run with every kernel's output appended to ``log`` (for ``replay_kernels``). A kernel called
    inside another (a fused kernel's reference path) runs unrecorded: replay replaces the outer one."""
    depth = [0]

    def make(name, fwd):
        def k(xp, *a, **kw):
            if depth[0]:
                return fwd(xp, *a, **kw)
            depth[0] += 1
            try:
                out = fwd(xp, *a, **kw)
            finally:
                depth[0] -= 1
            log.append(out)
            return out

        return k

    with wrap_kernels(make):
        yield log


def _fresh(v):
    """A new array object over a recorded output (no computation, no copy), as a kernel returns."""
    if isinstance(v, tuple):
        return tuple(_fresh(x) for x in v)
    view = getattr(v, "view", None)
    return view() if view is not None and hasattr(v, "shape") and getattr(v, "ndim", 0) > 0 else v


@contextlib.contextmanager
def replay_kernels(log: list):
    """Every kernel returns a fresh view of its recorded output instead of computing: a step's cost
    with free kernels, which is everything the execution model adds around them (creating and
    freeing the result objects included, as with real kernels)."""
    n = len(log)
    pos = [0]

    def make(name, fwd):
        def k(xp, *a, **kw):
            i = pos[0]
            pos[0] = i + 1 if i + 1 < n else 0
            return _fresh(log[i])

        return k

    with wrap_kernels(make):
        yield pos
