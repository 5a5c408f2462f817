"""Random programs with control flow (scan with nested cond/scan and closures, cond,
while_loop): every way of the checker agrees, dyngraph and staticgraph bit for bit."""

from __future__ import annotations

from hypothesis import assume, given, settings

from graphcompare.equivalence import check_program
from graphcompare.program import Step
from graphcompare.strategies import programs

CONTROL = {"scan", "cond", "while_loop"}


@settings(max_examples=max(6, settings.default.max_examples // 7))  # half the steps are control flow: slow to compile
@given(programs(max_steps=4, control=2))
def test_every_way_agrees_on_programs_with_control_flow(prog):
    assume(any(isinstance(n, Step) and n.op in CONTROL for n in prog.nodes))
    res = check_program(prog)
    assume(res.valid)
    assert res.ok, res.report()


def test_control_steps_print_as_the_python_loop_and_sg_calls():
    from graphcompare.program import Leaf, Program
    import numpy as np

    x = Leaf((3, 2), "float64", np.ones((3, 2)))
    c = Leaf((2,), "float64", np.full(2, 0.5))
    prog = Program([x, c, Step("scan", (0, 1), {"act": "tanh", "inner": "cond"}, (3, 2), "float64")], (2,),
                   (np.ones((3, 2)),))
    assert "CF.scan_model(F, x0, x1, 'tanh', 'cond')" in prog.model_source()
    assert "CF.scan_model(torch, x0, x1" in prog.model_source("torch")
    res = check_program(prog)
    assert res.valid and res.ok, res.report()
