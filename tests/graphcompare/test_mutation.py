"""Mutation check: plant a bug, and the suite must find it within 200 programs, with a
reproducer that fails when run (in a fresh process, with the same bug planted).

Each mutation is a context manager that patches the live registry or pass table and restores
it; a subprocess applies it by name (``python -c 'import test_mutation; ...'``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings

from graphcompare.equivalence import check_program
from graphcompare.strategies import programs
from shared_ops import dispatch, get_op

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


@contextlib.contextmanager
def _patched(obj, attr, value):
    old = getattr(obj, attr)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        setattr(obj, attr, old)


@contextlib.contextmanager
def wrong_vjp_sign():
    """mul's gradient with respect to its second input has the wrong sign."""
    op = get_op("mul")
    good = op.vjp

    def bad(ops, g, inputs, output):
        ga, gb = good(ops, g, inputs, output)
        return ga, (None if gb is None else ops.neg(gb))

    with _patched(op, "vjp", bad):
        yield


@contextlib.contextmanager
def missing_unbroadcast():
    """The one un-broadcasting helper (``ops.sum_to``, used by every broadcasting rule) does nothing."""
    from shared_ops.interp import OpsNamespace
    from staticgraph.gradients import SymbolicOps

    def bad(self, x, shape):
        return x

    with _patched(OpsNamespace, "sum_to", bad), _patched(SymbolicOps, "sum_to", bad):
        yield


@contextlib.contextmanager
def fan_in_dropped():
    """The gradient accumulator drops the last contribution when three or more arrive."""
    op = get_op("add_n")
    good = op.forward

    def bad(xp, *terms):
        return good(xp, *(terms[:-1] if len(terms) >= 3 else terms))

    with _patched(op, "forward", bad):
        dispatch._rebind()  # op.kernel follows op.forward; cached executables see a new generation
        try:
            yield
        finally:
            op.forward = good
            dispatch._rebind()


@contextlib.contextmanager
def pass_reorders_sum():
    """The cse pass also reverses the terms of every add_n: a non-associative sum reordered."""
    from staticgraph import passes

    good = passes.PASSES["cse"]

    def bad(program, ctx):
        result = good(program, ctx)
        for node in program.nodes:
            if node.op == "add_n" and len(node.inputs) >= 3:
                node.inputs = list(reversed(node.inputs))
        return result

    passes.PASSES["cse"] = bad
    try:
        yield
    finally:
        passes.PASSES["cse"] = good


@contextlib.contextmanager
def fused_math_loses_precision():
    """The fused kernels' scalar language rounds every float64 exp/log/tanh/sigmoid/sqrt result
    through float32, in both tiers (they share it): a precision bug of 1e-8 relative in a pass
    held only to the tolerance."""
    from shared_ops import fusion_cpu, fusion_numpy, fusion_spec

    good = fusion_spec.template

    def bad(op, attrs, dtype, nargs, **weak):
        stmts, expr = good(op, attrs, dtype, nargs, **weak)
        if dtype == "float64" and op in ("exp", "log", "tanh", "sigmoid", "sqrt"):
            expr = f"_f64(_f32({expr}))"
        return stmts, expr

    def clear():  # kernels are cached in process by region (both tiers); on disk by their source
        fusion_cpu.clear_cache()
        fusion_numpy._np_template.cache_clear()
        fusion_numpy._CACHE.clear()

    clear()
    fusion_spec.template = fusion_numpy.template = bad
    try:
        yield
    finally:
        fusion_spec.template = fusion_numpy.template = good
        clear()


MUTATIONS = {
    "wrong_vjp_sign": (wrong_vjp_sign, ("static", "finite differences")),
    "missing_unbroadcast": (missing_unbroadcast, ("static", "finite differences")),
    "fan_in_dropped": (fan_in_dropped, ("static", "finite differences")),
    "pass_reorders_sum": (pass_reorders_sum, ("pass:cse",)),
    "fused_math_loses_precision": (fused_math_loses_precision, ("pass:fuse",)),
}


def _find(ways) -> tuple:
    """Run the property until it fails; the failing (shrunk) result and the call it first failed at."""
    state = {"calls": 0, "first": None, "last": None}

    @settings(max_examples=200, database=None, deadline=None, derandomize=True,
              phases=(Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck), print_blob=False)
    @given(programs())
    def prop(prog):
        state["calls"] += 1
        res = check_program(prog, ways=ways, stop_at_first=True)
        assume(res.valid)
        if not res.ok:
            if state["first"] is None:
                state["first"] = state["calls"]
            state["last"] = res
            raise AssertionError(str(res.differences[0]))

    with pytest.raises(AssertionError):
        prop()
    return state["last"], state["first"]


def _run_script(path, mutation=None):
    pre = ""
    if mutation:
        pre = (f"import sys; sys.path.insert(0, {HERE!r}); import test_mutation as m; "
               f"_cm = m.MUTATIONS[{mutation!r}][0](); _cm.__enter__(); ")
    code = pre + f"exec(compile(open({str(path)!r}).read(), {str(path)!r}, 'exec'))"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_planted_bug_is_found_and_reproduced(name, tmp_path):
    mutation, ways = MUTATIONS[name]
    with mutation():
        res, first = _find(ways)
    assert res is not None and first is not None
    assert first <= 200, f"{name} was found only after {first} programs"
    print(f"{name}: found at program {first}: {res.differences[0]}")
    d = res.differences[0]
    assert d.way in ways and d.message
    repro = res.reproducer
    assert "import dyngraph as dg" in repro and "import staticgraph as sg" in repro
    assert "graphcompare" not in repro.replace("graphcompare reproducer", "")  # public API only
    path = tmp_path / "repro.py"
    path.write_text(repro)
    broken = _run_script(path, name)
    assert broken.returncode != 0, broken.stdout + broken.stderr
    assert "no disagreement" not in broken.stdout
    fixed = _run_script(path)
    assert fixed.returncode == 0, textwrap.shorten(fixed.stderr, 2000)
    assert "no disagreement" in fixed.stdout
