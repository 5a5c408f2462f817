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
    print(verdicts)
    # and inside the programs as drawn (other steps around the loops), the report shows them
    assert sum(stacked_loops(prog) for prog in {id(p): p for p, _ in drawn}.values()) >= 30
