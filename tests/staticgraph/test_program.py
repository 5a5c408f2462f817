"""The compiler's working IR: Program editing, invariants, text, and the fallback memory plan."""

import numpy as np
import pytest

import staticgraph as sg
from shared_ops import Spec
from staticgraph.liveness import simple_plan
from staticgraph.program import ProgramError
from staticgraph.lower import build_program


def _program():
    with sg.Graph():
        x = sg.placeholder((None, 3), name="x")
        w = sg.variable(np.ones(3, np.float32), name="w")
        a = x * w
        b = x * w           # a duplicate, for replace_uses
        y = (a + b).sum()
        unused = x.exp()    # noqa: F841  (not needed by y)
        step = sg.assign_sub(w, sg.gradients(y, w) * 0.1)
    return build_program([y, step], [x]), x, w, y


def test_build_program_prunes_orders_and_records_state():
    p, x, w, y = _program()
    p.check()
    assert all("exp" != n.op for n in p)
    assert p.inputs == [x.id] and p.variables == [w.id]
    assert len(p.assigns) == 1 and p.assigns[0][0] == w.id
    assert p.outputs[0] == y.id and p.outputs[1] == p.assigns[0][1]
    assert [n.id for n in p.nodes] == sorted(n.id for n in p.nodes)
    assert all(n.origin == n.id for n in p)


def test_replace_uses_remove_dead_and_text():
    p, x, w, y = _program()
    muls = [n for n in p if n.op == "mul" and n.inputs == [x.id, w.id]]
    a, b = muls[:2]
    count = p.replace_uses(b.id, a.id)
    assert count >= 1
    dropped = p.remove_dead()
    assert dropped == 1 and b.id not in p
    p.check()
    text = p.text()
    assert f"%{a.id} = mul %{x.id} %{w.id} : f32[?,3]" in text
    assert text.splitlines()[-1].startswith("assign w <- %")


def test_add_inserts_before_a_consumer_and_sort_repairs_order():
    p, x, w, y = _program()
    first_user = next(n for n in p if x.id in n.inputs)
    new = p.add("neg", [x.id], {}, Spec((None, 3), "float32"), before=first_user.id)
    assert new.id > max(n.id for n in p if n is not new)
    first_user.inputs = [new.id if i == x.id else i for i in first_user.inputs]
    p.check()
    # move the new node to the end: check() catches it, sort() repairs it
    p.nodes.remove(new)
    p.nodes.append(new)
    with pytest.raises(ProgramError, match="not defined before"):
        p.check()
    p.sort()
    p.check()


def test_copy_is_independent():
    p, *_ = _program()
    q = p.copy()
    q.nodes[-1].inputs = []
    q.outputs.append(q.outputs[0])
    assert p.nodes[-1].inputs and len(p.outputs) == 2
    assert q.text() != p.text()


def test_fused_nodes_need_a_kernel():
    p, x, *_ = _program()
    p.add("fused", [x.id], {}, Spec((None, 3), "float32"), payload=None)
    with pytest.raises(ProgramError, match="fused"):
        p.check()


def test_simple_plan_never_frees_outputs_and_reuses_dead_slots():
    p, *_ = _program()
    plan = simple_plan(p)
    keep = {plan.slot_of[i] for i in p.outputs} | {plan.slot_of[v] for _, v in p.assigns}
    live: dict[int, int] = {}   # slot -> value currently in it
    order = {n.id: k for k, n in enumerate(p.nodes)}
    last_use = {}
    for n in p.nodes:
        for i in n.inputs:
            last_use[i] = order[n.id]
    for n in p.nodes:
        for i in n.inputs:
            assert live[plan.slot_of[i]] == i, "an input's slot was overwritten before its last use"
        live[plan.slot_of[n.id]] = n.id
        for s in plan.free_after.get(n.id, ()):
            assert s not in keep or live[s] not in set(p.outputs) | {v for _, v in p.assigns}
    assert plan.n_slots < len(p.nodes)
