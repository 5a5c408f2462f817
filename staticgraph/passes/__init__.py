"""The optimisation pipeline ``sg.compile(..., optimize=...)`` runs, one pass a file.

Each pass is ``run(program, ctx) -> PassResult``: it rewrites the ``Program`` in place, keeps
it topologically ordered, and says what it did in one report line plus details. Order:

=========  ==========================================================================
prune      drop nodes nothing fetched depends on (again after every rewrite)
cse        merge nodes with equal ``(op, inputs, attrs)``; constants by value
fold       evaluate nodes whose inputs are all constants (small results only)
simplify   algebraic identities, each exact in IEEE arithmetic (``x * 1 -> x``, ...);
           then ``cse`` once more (a rewrite can make two nodes equal)
fuse       group elementwise regions (forward and backward) into generated kernels
=========  ==========================================================================

Memory planning (in-place and buffer reuse) runs after the pipeline, at lowering
(``staticgraph.memory.plan``); its switch is ``"memory"`` in the same options. So does
``"stack"`` (``passes.stack``): a loop gradient's per-step weight-gradient products summed as
one product over the stacked steps, at the lowering of the loop's gradient node. The dict form
also takes ``"whole_step": False``: no whole-step mode (``staticgraph.wholestep``: a small
program's every instruction in one compiled function, decided by ``fuse``), which is on
wherever ``fuse`` runs.

``options``: ``True`` (all), ``False``/``None`` (none), a list of pass names to run (in the
order above), or a dict ``{"cse": False, ...}`` switching passes off (or on) by name. In the
dict, ``simplify`` may instead get a dict of its rule switches, ``{"simplify": {"mul_by_one":
False}}`` (the pass runs; see ``simplify.RULES``).
Tolerance of an optimised program against ``optimize=False`` (the rule the tests check):
``cse``, ``prune``, ``simplify`` and ``fold`` are exact except that ``fold`` evaluates on NumPy;
``fuse`` changes at most (a) float32 ``exp``/``tanh``/``sigmoid`` by a few ulp each (generated
float32 polynomials within 1 and 3 ulp of the correctly rounded result, NumPy's own within 1-3), (b) fused sums, which accumulate in float64 in a different order than NumPy's
pairwise sum, (c) NaN propagation of ``maximum``/``minimum``. So values agree with
``optimize=False`` within ``|a - b| <= rtol * (|b| + scale)``, rtol = 1e-4 (float32) or 1e-9
(float64), ``scale`` = the largest magnitude among the compared values.
"""

from __future__ import annotations

from shared_ops import GraphCompareError

from ..program import PassContext, PassResult
from . import cse, fold, fuse, prune, simplify

PASSES = {"prune": prune.run, "cse": cse.run, "fold": fold.run, "simplify": simplify.run, "fuse": fuse.run}
ALL = tuple(PASSES) + ("memory", "stack")  # run at lowering: the memory plan, loop gradients (stack)


class PassOptionError(GraphCompareError, ValueError):
    """An ``optimize=`` argument naming no known pass, or of a type compile does not take."""


def exact_passes(backend: str = "numpy") -> tuple:
    """The passes (``"memory"`` included) that leave every result bitwise unchanged on
    ``backend``, read from each pass module's own ``EXACT`` (and ``EXACT_BACKENDS``)."""
    from .. import memory
    from . import stack

    modules = {"prune": prune, "cse": cse, "fold": fold, "simplify": simplify, "fuse": fuse, "memory": memory,
               "stack": stack}
    return tuple(name for name in ALL
                 if getattr(modules[name], "EXACT") and backend in getattr(modules[name], "EXACT_BACKENDS", (backend,)))


# switches in the dict form that are modes, not passes (read from ``ctx.options``; a saved
# function keeps them)
MODES = ("whole_step",)


def selected(options) -> dict:
    """``{pass name: bool}`` (``"memory"`` included) from the ``optimize=`` argument."""
    if options is True:
        return {name: True for name in ALL}
    if options in (False, None):
        return {name: False for name in ALL}
    if isinstance(options, dict):
        unknown = [k for k in options if k not in ALL and k not in MODES]
        for k in MODES:
            if not isinstance(options.get(k, True), bool):
                raise PassOptionError(f"optimize={{'{k}': ...}} takes True or False, got {options[k]!r}")
        on = {name: _switch(name, options.get(name, True)) for name in ALL}
    elif isinstance(options, (list, tuple, set)):
        unknown = [k for k in options if k not in ALL]
        on = {name: name in options for name in ALL}
    else:
        raise PassOptionError(f"optimize= must be True, False, a list of pass names or a dict, got {options!r}")
    if unknown:
        raise PassOptionError(f"unknown pass name(s) {', '.join(map(repr, unknown))}; the passes are {', '.join(ALL)}")
    return on


def _switch(name: str, value) -> bool:
    """One pass's entry in an ``optimize=`` dict: a bool, or (simplify) a dict of rule switches."""
    if not isinstance(value, dict):
        return bool(value)
    if name != "simplify":
        raise PassOptionError(f"pass {name!r} takes no options, got {value!r}; give True or False")
    try:
        simplify.enabled(value)
    except KeyError as exc:
        raise PassOptionError(exc.args[0]) from None
    return True


def run_pipeline(program, options=True, ctx: PassContext | None = None) -> list[PassResult]:
    """Run the selected passes over ``program`` in order; a ``PassResult`` each, then one
    ``pipeline`` line. ``ctx`` receives the switches and the naive bytes before the passes
    (the memory planner reads both)."""
    from ..memory import naive_bytes

    ctx = ctx or PassContext()
    on = selected(options)
    ctx.switches = on
    if isinstance(options, dict):
        ctx.options = options
    ctx.naive_before = naive_bytes(program)  # for the memory report: what the passes saved
    n0 = len(program.nodes)
    results = []
    for name, fn in PASSES.items():
        if on[name]:
            results.append(fn(program, ctx))
            program.check()
        if name == "simplify" and on["simplify"] and on["cse"]:  # rewrites expose duplicates
            again = cse.run(program, ctx)
            program.check()
            if again.details:  # reported only when it merged something
                again.name = "cse (after simplify)"
                results.append(again)
    results.append(PassResult("pipeline", n0, len(program.nodes), [], sum(r.seconds for r in results)))
    return results


__all__ = ["run_pipeline", "PASSES", "ALL", "MODES", "selected", "exact_passes", "PassOptionError"]
