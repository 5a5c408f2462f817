"""The ways of the equivalence checker, running one of them and measuring how far it is from
its reference (the checker itself is ``graphcompare.equivalence``)."""

from __future__ import annotations

import importlib.util

import numpy as np

from shared_ops import default_backend
from staticgraph import passes

from . import _runners as R
from .program import Program, Step, compile_model

MAX_MAGNITUDE = 1e6  # values past this make a program numerically meaningless: rejected


def exact_passes() -> tuple:
    """Passes held to bitwise equality on the current backend (``fold`` computes with NumPy,
    so on CuPy it is held to the tolerance)."""
    return passes.exact_passes(default_backend().name)


def pass_names() -> tuple:
    """The compiler's pass names (``staticgraph.passes.ALL``), in pipeline order."""
    return passes.ALL


def default_ways() -> tuple:
    ways = ["static", "function"] + [f"pass:{p}" for p in pass_names()] + ["optimized", "finite differences"]
    # found, not imported: importing PyTorch costs seconds, which a campaign whose chunks never
    # ask for the torch way would pay in every process
    if importlib.util.find_spec("torch") is not None:
        ways.append("torch")
    return tuple(ways)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _guard(program: Program, X64: list) -> str:
    """Why the float64 values put some op at a kink or out of range ('' when they do not)."""
    import dyngraph as dg

    from .recipes_control import recipe

    f = compile_model(program.model_source("surface64", name="allv", all_values=True), "allv")
    with dg.no_grad():
        vals = f(dg, *[dg.tensor(a) for a in X64])
    values: list = []
    it = iter(vals)
    leaves = iter(X64)
    for n in program.nodes:
        values.append(next(leaves) if not isinstance(n, Step) else next(it).numpy())
    for k, (n, v) in enumerate(zip(program.nodes, values)):
        if not np.all(np.isfinite(v)) or (v.size and np.max(np.abs(v)) > MAX_MAGNITUDE):
            return f"{program.name(k)} is not finite or exceeds {MAX_MAGNITUDE:g} in float64"
        if isinstance(n, Step):
            g = recipe(n.op).guard
            if g is not None and not g([values[a] for a in n.args], n.params):
                return f"{program.name(k)} = {n.op}(...) has an input at or near a kink"
    return ""


def _run_way(way: str, s):  # s: an equivalence.Subject
    if way == "static":
        return R.run_static(s.model, s.X, s.W, optimize=False)
    if way == "function":
        return R.run_function(s.model, s.X, s.W, optimize=False)
    if way == "optimized":
        return R.run_static(s.model, s.X, s.W, optimize=True)
    if way.startswith("pass:"):
        return R.run_static(s.model, s.X, s.W, optimize=[way[5:]])
    raise ValueError(f"unknown way {way!r}; the ways are {', '.join(default_ways())}")


def _worst(got, expected) -> tuple:
    abs_, ulp = 0.0, 0
    for a, b in zip(got, expected):
        if a is None or b is None or np.shape(a) != np.shape(b):
            continue
        m, _, u = R.differences(a, b)
        abs_ = max(abs_, m)
        if u is not None:
            ulp = max(ulp, u)
    return abs_, ulp
