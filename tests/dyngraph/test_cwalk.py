"""The compiled backward walk (``dyngraph/_cwalk.c``) against its Python twin (``engine.walk_py``),
in one process: the same graphs built twice and walked once each way must give the same bits,
the same errors and the same graph afterwards (released nodes, freed saved values, counters).

The compiled module is optional (``dyngraph._accel``); where it is not built or is turned off
(``DYNGRAPH_PURE=1``) these differential tests have nothing to compare and are skipped; the
fallback tests are in ``test_cwalk_accel.py``.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import weakref

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import dyngraph as dg
from dyngraph import engine, sinks
from dyngraph.errors import AutogradError, FreedGraphError, InplaceError
from dyngraph.node import Node

from cwalk_switch import fan as _fan, compiled_only, walking  # tests/dyngraph is on sys.path


def nodes_of(*tensors) -> list:
    """Every node reachable from the tensors' grad_fns, in creation order."""
    seen, stack = {}, [t.grad_fn for t in tensors if t.grad_fn is not None]
    while stack:
        n = stack.pop()
        if id(n) in seen or not isinstance(n, Node):
            continue
        seen[id(n)] = n
        stack.extend(c for c in n.next if c is not None)
    return sorted(seen.values(), key=lambda n: n.seq)


def node_state(nodes) -> list:
    return [(n.name(), n.released, n.saved is None, n.out is None, n.nbytes) for n in nodes]


def bits(t):
    if t is None:
        return None
    a = t.detach().numpy() if isinstance(t, dg.Tensor) else np.asarray(t)
    return (a.dtype.str, a.shape, a.tobytes())


def outcome(build, walk, compiled):
    """Build a graph, walk it one way; what can be seen afterwards."""
    with walking(compiled):
        before = dg.stats()["saved_bytes"]
        made = build()
        roots, leaves = made[0], made[1]
        nodes = nodes_of(*roots)
        held = dg.stats()["saved_bytes"] - before
        try:
            walk(roots)
            error = None
        except Exception as e:  # noqa: BLE001 - the same error both ways is the point
            error = (type(e), str(e))
        return {
            "error": error,
            "grads": [bits(x.grad) for x in leaves],
            "nodes": node_state(nodes),
            "held": held,
            "left": dg.stats()["saved_bytes"] - before,
        }


def same_both_ways(build, walk=lambda roots: roots[0].backward()):
    mine, ref = outcome(build, walk, True), outcome(build, walk, False)
    assert mine == ref
    return ref


# ------------------------------------------------------------------------------ random programs


def _program_graph(model, X, W):
    def build():
        xs = [dg.tensor(a, requires_grad=True) for a in X]
        from graphcompare._runners import loss

        total, _ = loss(dg, model, xs, W)
        return [total], xs

    return build


@compiled_only
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=__import__("hypothesis").strategies.data())
def test_random_programs_give_the_same_bits_both_ways(data):
    from graphcompare.program import compile_model
    from graphcompare.strategies import fixed_constants, programs

    with fixed_constants():
        prog = data.draw(programs(max_steps=10))
    model = compile_model(prog.model_source("surface"))
    W = [w.astype(prog.nodes[i].dtype) for w, i in zip(prog.weights, prog.outputs)]
    with np.errstate(all="ignore"):
        ref = same_both_ways(_program_graph(model, prog.inputs(), W))
        same_both_ways(_program_graph(model, prog.inputs(), W),
                       lambda roots: roots[0].backward(retain_graph=True) or roots[0].backward())
    assert ref["error"] is None and ref["left"] == 0


# ------------------------------------------------------------------------------ the workloads


def _w1():
    from graphcompare.experiments.workloads import standard as std

    x = dg.tensor(np.linspace(-1, 1, 7, dtype=np.float32), requires_grad=True)
    return [std.chain(dg, x).sum()], [x]


def _w2(columns):
    from graphcompare.experiments.workloads import standard as std

    Wx, Wh, xs, h0 = std.rnn_inputs(np.random.default_rng(0), "float32", columns=columns)
    tw = [dg.tensor(Wx, requires_grad=True), dg.tensor(Wh, requires_grad=True), dg.tensor(xs), dg.tensor(h0)]
    return [std.rnn(dg, *tw)], tw[:2]


def _w3():
    from graphcompare.experiments.workloads import standard as std

    rng = np.random.default_rng(1)
    params = [dg.tensor(p, requires_grad=True) for p in std.mlp_params(rng, sizes=(20, 16, 12, 5))]
    x, labels = std.mlp_batch(rng, batch=8, sizes=(20, 16, 12, 5))
    return [std.mlp(dg, dg.tensor(x), dg.tensor(labels), params)], params


@compiled_only
@pytest.mark.parametrize("build", [_w1, lambda: _w2(False), lambda: _w2(True), _w3], ids=["W1", "W2", "W2-columns", "W3"])
def test_the_workloads_give_the_same_bits_both_ways(build):
    ref = same_both_ways(build)
    assert ref["error"] is None and all(g is not None for g in ref["grads"])
    assert ref["held"] > 0 and ref["left"] == 0 and all(s[1] for s in ref["nodes"])


# ------------------------------------------------------------------------------ semantics


@compiled_only
def test_a_second_backward_fails_alike():
    same_both_ways(_fan, lambda roots: roots[0].backward() or roots[0].backward())
    roots, _ = _fan()
    roots[0].backward()
    with pytest.raises(FreedGraphError, match="backward through the graph a second time"):
        roots[0].backward()


@compiled_only
def test_retain_graph_and_accumulation_into_grad():
    def walk(roots):
        roots[0].backward(retain_graph=True)
        roots[0].backward(retain_graph=True)
        roots[0].backward()

    ref = same_both_ways(_fan, walk)
    assert ref["error"] is None and ref["left"] == 0


@compiled_only
def test_an_in_place_change_fails_alike_and_leaves_the_same_graph():
    def build():
        a = dg.tensor([0.5, -1.5, 2.0], requires_grad=True)
        w = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
        h = a * 2.0
        y = (h * w).tanh() * 3.0  # the product saves h; the tanh and the last mul run first
        with dg.no_grad():
            h.mul_(2.0)
        return [y.sum()], [a, w]

    ref = same_both_ways(build)
    assert ref["error"][0] is InplaceError and "is at version 1; expected version 0" in ref["error"][1]
    assert ref["nodes"][-1][1] and not ref["nodes"][0][1]  # released up to the failing node


@compiled_only
def test_saved_outputs_and_tensors_saved_after_a_change_take_the_python_helpers_alike():
    def changed_output():  # exp saves its output; changing it fails in Interpreter.output
        a = dg.tensor([0.5, -1.5, 2.0], requires_grad=True)
        y = a.exp()
        z = (y * 2.0).sum()
        with dg.no_grad():
            y.add_(1.0)
        return [z], [a]

    def saved_at_version_one():  # saved after an in-place change: node.vers, so unpack()
        a = dg.tensor([0.5, -1.5, 2.0], requires_grad=True)
        h = a * 1.0
        h.mul_(3.0)
        y = (h * a).sum()
        return [y], [a]

    ref = same_both_ways(changed_output)
    assert ref["error"][0] is InplaceError
    ref = same_both_ways(saved_at_version_one)
    assert ref["error"] is None and ref["grads"][0] is not None

    def changed_again():
        roots, leaves = saved_at_version_one()
        h = roots[0].grad_fn.next[0].saved[0]
        with dg.no_grad():
            h.mul_(2.0)
        return roots, leaves

    ref = same_both_ways(changed_again)
    assert ref["error"][0] is InplaceError and "is at version 2; expected version 1" in ref["error"][1]


@compiled_only
def test_a_hook_may_run_another_backward():
    def build():
        a = dg.tensor([0.5, -1.5, 2.0], requires_grad=True)
        b = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
        h = a.tanh()

        def inner(g):
            with dg.enable_grad():  # a whole walk inside this one
                (b * b * g.detach()).sum().backward()
            return g * 2.0

        h.register_hook(inner)
        return [(h * a).sum()], [a, b]

    ref = same_both_ways(build)
    assert ref["error"] is None and all(g is not None for g in ref["grads"])


@compiled_only
def test_hooks_run_alike():
    def build():
        a = dg.tensor([0.5, -1.5, 2.0], requires_grad=True)
        b = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
        h = a * b
        h.register_hook(lambda g: g * 3.0)
        h.retain_grad()
        k = h.tanh()
        k.grad_fn.register_prehook(lambda g: g + 1.0)
        a.register_hook(lambda g: g * 0.5)
        seen = []
        b.register_post_accumulate_grad_hook(lambda t: seen.append(bits(t.grad)))
        y = (k * a).sum()
        return [y], [a, b, h]

    ref = same_both_ways(build)
    assert ref["error"] is None and ref["grads"][2] is not None

    def failing():
        (roots, leaves) = build()
        leaves[2].register_hook(lambda g: 1 / 0)
        return roots, leaves

    ref = same_both_ways(failing)
    assert ref["error"][0] is ZeroDivisionError

    def wrong_shape():
        (roots, leaves) = build()
        leaves[2].register_hook(lambda g: dg.ones(5))
        return roots, leaves

    err = same_both_ways(wrong_shape)["error"]
    assert err[0] is AutogradError and err[1].startswith("hook '<lambda>' has changed the size of value")


@compiled_only
def test_errors_of_a_rule_propagate_alike():
    def build(vjp):
        a = dg.tensor([0.5, -1.5, 2.0], requires_grad=True)
        h = a.exp()
        y = (h * a).sum()
        n = h.grad_fn
        n.op = dataclasses.replace(n.op, vjp=vjp)
        return [y], [a]

    def raising(ops, g, inputs, out):
        raise ValueError("a rule failed")

    ref = same_both_ways(lambda: build(raising))
    assert ref["error"] == (ValueError, "a rule failed")
    ref = same_both_ways(lambda: build(lambda ops, g, inputs, out: (g, g)))
    assert ref["error"][0] is AutogradError and "returned 2 gradients for 1 inputs" in ref["error"][1]


@compiled_only
def test_leaves_steal_their_gradients_alike(monkeypatch):
    """``sinks.owned`` keeps a gradient without copying it when nothing else holds it: the
    compiled walk must hold no reference the Python walk does not."""
    counts = []

    def counting(g):
        counts.append(sys.getrefcount(g) - 1)  # this function's parameter
        return counts[-1]

    monkeypatch.setattr(sinks, "_getrefcount", counting)
    seen = {}
    for compiled in (True, False):
        counts.clear()
        for build in (_fan, _w1, lambda: _w2(False), _w3):
            with walking(compiled):
                roots, _ = build()
                roots[0].backward()
        seen[compiled] = list(counts)
    assert seen[True] == seen[False] and min(seen[True]) <= sinks._STEAL_REFS


# ------------------------------------------------------------------------------ memory


@compiled_only
def test_a_walked_graph_is_freed_and_nothing_leaks():
    ops = engine.eager_ops(dg.tensor(1.0)._be)
    a = dg.tensor(np.linspace(-1, 1, 5), requires_grad=True)
    data = a._data

    def once(fail):
        y = (a * 2.0).tanh()
        y = (y * a + y.exp()).sum()
        refs = [weakref.ref(n) for n in nodes_of(y)]
        if fail:
            y.backward()
            with pytest.raises(FreedGraphError):
                y.backward()
        else:
            y.backward()
        del y
        return refs

    for fail in (False, True):
        once(fail)
        gc.collect()
        base = (sys.getrefcount(ops), sys.getrefcount(data), sys.getrefcount(engine.FREED_MSG), dg.stats()["nodes_alive"])
        for _ in range(50):
            refs = once(fail)
            assert all(r() is None for r in refs)  # by reference counting alone (no cycles)
        a.grad = None
        once(fail)
        a.grad = None
        assert (sys.getrefcount(ops), sys.getrefcount(data), sys.getrefcount(engine.FREED_MSG),
                dg.stats()["nodes_alive"]) == base
