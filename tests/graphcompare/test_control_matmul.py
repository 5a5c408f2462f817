"""Random programs with a matrix product by a captured weight inside a loop body
(``scan_matmul``, ``while_matmul``): the loops ``staticgraph.passes.stack`` rewrites (an
operand that changes from step to step) and the ones it must leave alone (a loop-invariant
operand; a carry's own terms). They are drawn by the campaign's strategy, agree every way, and
a planted bug in ``stack`` is found by them."""

from __future__ import annotations

import contextlib
import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

import staticgraph as sg
from graphcompare import _runners as R
from graphcompare.equivalence import check_program
from graphcompare.program import Leaf, Program, Step, compile_model
from graphcompare.strategies import programs
from staticgraph.passes import stack

MATMUL_LOOPS = ("scan_matmul", "while_matmul")
QUIET = dict(database=None, deadline=None, suppress_health_check=list(HealthCheck), print_blob=False)


def matmul_steps(prog) -> list:
    return [n for n in prog.nodes if isinstance(n, Step) and n.op in MATMUL_LOOPS]


def stacked_loops(prog) -> int:
    """How many loops of ``prog``'s gradient ``stack`` rewrites: its ``stack:`` report lines."""
    model = compile_model(prog.model_source())
    with sg.Graph():
        ps = [sg.placeholder(a.shape, a.dtype.name) for a in prog.inputs()]
        total, outs = R.loss(sg, model, ps, prog.weights)
        gs = sg.gradients(total, ps)
        fn = sg.compile(list(outs) + [g for g in gs if g is not None], inputs=ps, optimize=["stack"])
    return sum(ln.strip().startswith("stack:") for ln in fn.report().splitlines())


@contextlib.contextmanager
def plans_made():
    """Counts ``stack.plan``'s verdicts while active: ``{"fired": n, "refused": n}``."""
    good = stack.plan
    count = {"fired": 0, "refused": 0}

    def counting(*args, **kw):
        got = good(*args, **kw)
        count["fired" if got is not None else "refused"] += 1
        return got

    stack.plan = counting
    try:
        yield count
    finally:
        stack.plan = good


# --------------------------------------------------------------------------- (a) drawn by the campaign


def alone(prog, i: int) -> Program:
    """Step ``i`` of ``prog`` on its own: its inputs become leaves of the same shapes and dtypes
    (one leaf per distinct input), its result the output."""
    step = prog.nodes[i]
    rng = np.random.default_rng(i)
    order = list(dict.fromkeys(step.args))
    leaves = [Leaf(prog.nodes[a].shape, prog.nodes[a].dtype,
                   rng.uniform(0.2, 2.0, prog.nodes[a].shape).astype(prog.nodes[a].dtype)) for a in order]
    args = tuple(order.index(a) for a in step.args)
    return Program(leaves + [Step(step.op, args, step.params, step.shape, step.dtype)], (len(leaves),),
                   (rng.uniform(0.5, 1.5, step.shape),))


def test_the_campaigns_programs_draw_loops_stack_rewrites_and_loops_it_leaves_alone():
    drawn = []

    @seed(17)
    @settings(max_examples=300, phases=(Phase.generate,), **QUIET)
    @given(programs(record_events=False))  # the campaign's strategy, as `graphcompare check` draws
    def collect(prog):
        drawn.extend((prog, i) for i, n in enumerate(prog.nodes) if isinstance(n, Step) and n.op in MATMUL_LOOPS)

    collect()
    verdicts: dict = {}
    for prog, i in drawn:
        step = prog.nodes[i]
        # the weight's terms are products of two values that change from step to step, unless the
        # other operand is the loop-invariant one ("fixed"), or the weight is also the loop's
        # initial carry (its terms are merged with the carry's in step order); a carry's own
        # terms are never rewritten
        merged = step.args[1] in step.args[:1] + step.args[2:]
        why = "fixed" if step.params["operand"] == "fixed" else "merged" if merged else "rewritten"
        assert stacked_loops(alone(prog, i)) == (why == "rewritten"), (why, alone(prog, i).model_source())
        verdicts[why] = verdicts.get(why, 0) + 1
    ops = {prog.nodes[i].op for prog, i in drawn}
    assert ops == set(MATMUL_LOOPS) and verdicts["rewritten"] >= 30 and verdicts["fixed"] >= 5, verdicts
    # the weight is sometimes the scan's own xs (one value, the rows' terms and the weight's)
    own = [prog.nodes[i] for prog, i in drawn if prog.nodes[i].op == "scan_matmul" and prog.nodes[i].args[1] == prog.nodes[i].args[0]]
    assert len(own) >= 2, len(own)
    # and inside the programs as drawn (other steps around the loops), the report shows them
    whole = list({id(p): p for p, _ in drawn}.values())[:20]
    assert sum(stacked_loops(prog) for prog in whole) >= 15


# --------------------------------------------------------------------------- (b) every way agrees


def test_loops_with_a_matrix_product_agree_every_way():
    """dyngraph and staticgraph (optimize=False) bit for bit, every pass and optimize=True within
    the tolerance, PyTorch (float64) and finite differences; a program whose loops ``stack``
    all left alone is bit for bit the plain one under ``pass:stack`` too."""
    seen = {"rewritten": 0, "left alone": 0}

    @settings(max_examples=max(20, settings.default.max_examples // 2), **QUIET)  # every step is a loop: slow to compile
    @given(programs(max_steps=3, control=1, control_ops=MATMUL_LOOPS))
    def every_way(prog):
        with plans_made() as count:
            res = check_program(prog)
        if not res.valid:
            return
        assert res.ok, res.report()
        assert {"static", "function", "pass:stack", "optimized", "torch"} <= set(res.worst), res.worst
        if count["fired"]:
            seen["rewritten"] += 1
        elif matmul_steps(prog):
            seen["left alone"] += 1
            assert res.worst["pass:stack"] == (0.0, 0), (res.worst, prog.model_source())

    every_way()
    assert seen["rewritten"] >= 5 and seen["left alone"] >= 1, seen


# --------------------------------------------------------------------------- (c) planted bugs in stack


def _mutated(old: str, new: str) -> dict:
    """``staticgraph.passes.stack``'s functions with ``old`` replaced by ``new`` in its source
    (a mutant, as a mutation tool makes one), in a namespace of their own."""
    src = inspect.getsource(stack)
    assert src.count(old) == 1, old
    ns: dict = {"__name__": stack.__name__}
    exec(compile(src.replace(old, new), stack.__file__, "exec"), ns)
    return ns


MUTANTS = {
    # a carry's or a residual's history joined last step first, the other operand in step order
    "reversed_rows": ("concat([kept[t][r][p] for t in range(T - 1)], axis=axis)",
                      "concat([kept[T - 2 - t][r][p] for t in range(T - 1)], axis=axis)"),
    # the carry a step ended with, not the one it started from
    "carry_after_its_step": ("concat([kept[t][r][p] for t in range(T - 1)], axis=axis)",
                             "concat([kept[t + 1][r][p] for t in range(T - 1)], axis=axis)"),
    # the rows of xs last step first
    "reversed_xs": ("S = step[i] if kind == \"step\" else xs[k][:T - 1, ...]",
                    "S = step[i] if kind == \"step\" else xs[k][T - 2::-1, ...]"),
    # a carry's own terms (which seed the step before) taken among the closures' and stacked
    "stacks_a_carrys_terms": ("enumerate(layout.raw_slots[n_fcarry:])", "enumerate(layout.raw_slots)"),
}


@contextlib.contextmanager
def planted(name: str):
    ns = _mutated(*MUTANTS[name])
    saved = {f: getattr(stack, f) for f in ("plan", "formed", "resolve_residuals")}
    for f in saved:
        setattr(stack, f, ns[f])
    try:
        yield
    finally:
        for f, good in saved.items():
            setattr(stack, f, good)


@pytest.mark.parametrize("name", list(MUTANTS))
def test_a_planted_bug_in_stack_is_found_by_the_random_loops(name):
    """Within the ``ci`` profile's budget of programs (40, drawn the same in every profile), the
    ``pass:stack`` way disagrees with dyngraph on some program; the unmutated pass agrees on
    such programs (``test_loops_with_a_matrix_product_agree_every_way``)."""
    found, calls = [], []

    @settings(max_examples=40, derandomize=True, phases=(Phase.generate,), **QUIET)  # a verdict, not a minimal program
    @given(programs(max_steps=3, control=1, control_ops=MATMUL_LOOPS))
    def property_(prog):
        calls.append(1)
        res = check_program(prog, ways=("pass:stack",), stop_at_first=True)
        if res.valid and not res.ok:
            found.append(res.differences[0])
            raise AssertionError(str(res.differences[0]))

    with planted(name), pytest.raises(AssertionError):
        property_()
    assert found and found[0].way == "pass:stack", found
    print(f"{name}: found at program {len(calls)} of 40: {found[0]}")


def test_a_mutant_is_planted_only_while_active():
    good = stack.formed
    for name, (old, new) in MUTANTS.items():
        assert old in inspect.getsource(stack) and old != new, name
    with planted("reversed_rows"):
        assert stack.formed is not good and stack.formed.__code__.co_filename == good.__code__.co_filename
    assert stack.formed is good


# --------------------------------------------------------------------------- spelling, bad input, a known bug


def test_matmul_loops_print_as_the_python_loop_and_sg_calls():
    xs = Leaf((4, 3), "float64", np.linspace(-1.0, 1.0, 12).reshape(4, 3))
    w = Leaf((2, 3), "float64", np.full((2, 3), 0.5))
    prog = Program([xs, w, Step("scan_matmul", (0, 1), {"side": "left", "operand": "xs", "rows": (3, 1)},
                                (4, 2, 1), "float64")], (2,), (np.ones((4, 2, 1)),))
    assert "CF.matmul_scan_model(F, x0, x1, None, 'left', 'xs', (3, 1))" in prog.model_source()
    assert "CF.matmul_scan_model(torch, x0, x1, None, 'left', 'xs', (3, 1))" in prog.model_source("torch")
    assert stacked_loops(prog) == 1
    res = check_program(prog)
    assert res.valid and res.ok, res.report()


def test_control_ops_names_must_be_control_flow_steps():
    bad = []

    @settings(max_examples=1, **QUIET)
    @given(programs(control_ops=("scan", "matmul")))
    def draw(prog):
        bad.append(prog)

    with pytest.raises(ValueError, match=r"control_ops \['scan', 'matmul'\] must name control-flow steps among"):
        draw()
    assert not bad


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("operand", ["xs", "carry", "step", "fixed"])
def test_a_scan_whose_body_captures_its_own_xs_is_bitwise_dyngraph(operand, dtype):
    """The weight is the scan's own xs: its rows' terms and the weight's per-step terms are terms
    of one value, which dyngraph sums step by step (row t, then step t's weight term). Every
    way agrees, the bitwise ones bit for bit, for 1 to 4 steps."""
    rng = np.random.default_rng(0)
    for T in (1, 2, 4):
        xs = Leaf((T, 5), dtype, rng.uniform(-2.0, 2.0, (T, 5)).astype(dtype))
        fixed = [Leaf((5, 1), dtype, rng.uniform(-1.0, 1.0, (5, 1)).astype(dtype))] if operand == "fixed" else []
        prog = Program([xs] + fixed + [Step("scan_matmul", (0, 0) + ((1,) if fixed else ()),
                                            {"side": "left", "operand": operand, "rows": (5, 1)}, (T, T, 1), dtype)],
                       (1 + len(fixed),), (rng.uniform(0.5, 1.5, (T, T, 1)),))
        res = check_program(prog)
        assert res.valid and res.ok, res.report()
        assert res.worst["static"] == (0.0, 0) and res.worst["function"] == (0.0, 0), res.worst


def test_check_takes_control_and_a_results_directory_remembers_it(tmp_path, capsys):
    from graphcompare.campaign import run_campaign
    from graphcompare.check import main
    from graphcompare.recipes_control import CONTROL_TABLE

    steps = {c: sum(n for op, n in run_campaign(3, 6, None, ("static",), 4, control=c)[0].ops.items() if op in CONTROL_TABLE)
             for c in (0, 1)}
    assert steps[0] == 0 and steps[1] >= 6, steps

    assert main(["--examples", "6", "--seed", "3", "--control", "1", "--ways", "static",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "OK: every way agreed" in out
    assert main(["--control", "-1", "--examples", "2", "--no-progress"]) == 2
    assert "--control must be 0 (no control flow) or more (got -1)" in capsys.readouterr().err
    # a results directory remembers it: the same directory with another --control is refused
    d = str(tmp_path / "r")
    assert main(["--examples", "2", "--seed", "3", "--control", "2", "--ways", "static", "--results", d,
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["--examples", "2", "--seed", "3", "--ways", "static", "--results", d, "--no-progress"]) == 2
    assert "control 2 there, 8 now" in capsys.readouterr().err
