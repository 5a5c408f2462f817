"""``Tensor.backward()``'s short entry (``autograd.tensor_backward`` and ``autograd._run_one``)
against the general one (``autograd.backward`` and ``autograd._run_all``), in one process: the
same graphs built twice, walked once each way, must give the same bits, the same errors, the
same stolen-or-copied leaf gradients, and leave the same state behind (grad mode, the ops
namespace)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import dyngraph as dg
from dyngraph import autograd, engine, sinks, tensors
from dyngraph.grad_mode import MODE


def _general_run_one(e, seed, be, retain):
    seeds = [seed]
    seed = None  # as _run: the list is the only owner of the seed
    autograd._run_all([e], seeds, be, retain, False, None)


def _general_tensor_backward(t, gradient, retain_graph, create_graph, inputs):
    autograd.backward((t,), None if gradient is None else (gradient,), retain_graph, create_graph, inputs)


@pytest.fixture
def general(monkeypatch):
    """Turns the short entry off: every backward takes the general path."""

    def use():
        monkeypatch.setattr(autograd, "_run_one", _general_run_one)
        monkeypatch.setattr(tensors, "_tensor_backward", _general_tensor_backward)

    return use


def bits(t):
    if t is None:
        return None
    a = t.detach().numpy() if isinstance(t, dg.Tensor) else np.asarray(t)
    return (a.dtype.str, a.shape, a.tobytes(), a.flags.writeable)


def _mlp(dtype="float64"):
    from graphcompare.experiments.workloads import standard as std

    rng = np.random.default_rng(1)
    params = [dg.tensor(p.astype(dtype), requires_grad=True) for p in std.mlp_params(rng, sizes=(20, 16, 12, 5))]
    x, labels = std.mlp_batch(rng, batch=8, sizes=(20, 16, 12, 5))
    return std.mlp(dg, dg.tensor(x.astype(dtype)), dg.tensor(labels), params), params


def _chain(dtype="float32"):
    x = dg.tensor(np.linspace(-1, 1, 7, dtype=dtype), requires_grad=True)
    y = x
    for _ in range(5):
        y = (y * y).sin() + y
    return y.sum(), [x]


def _leaf():
    x = dg.tensor(np.float32(2.5), requires_grad=True)
    return x, [x]


def _fan():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    return (y * y + y.exp() * x).sum(), [x]


BUILDS = {"mlp64": _mlp, "mlp32": lambda: _mlp("float32"), "chain": _chain, "chain16": lambda: _chain("float16"),
          "leaf": _leaf, "fan": _fan}
CALLS = {
    "plain": lambda r: r.backward(),
    "retain-twice": lambda r: r.backward(retain_graph=True) or r.backward(),
    "retain-1": lambda r: r.backward(retain_graph=1) or r.backward(),
    "twice": lambda r: r.backward() or r.backward(),  # FreedGraphError (not for a leaf)
    "gradient": lambda r: r.backward(dg.ones_like(r) * 3),
    "create": lambda r: r.backward(create_graph=True),
    "dg.backward": lambda r: dg.backward(r),
}


def outcome(build, call):
    root, leaves = build()
    try:
        call(root)
        error = None
    except Exception as e:  # noqa: BLE001 - the same error both ways is the point
        error = (type(e), str(e))
    return {"error": error, "grads": [bits(x.grad) for x in leaves], "mode": MODE.enabled,
            "nig": "needs_input_grad" in engine.eager_interpreter(root._be).ops.__dict__}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("build", list(BUILDS))
def test_the_short_entry_gives_what_the_general_one_gives(build, call, general):
    short = outcome(BUILDS[build], CALLS[call])
    general()
    ref = outcome(BUILDS[build], CALLS[call])
    assert short == ref
    assert ref["mode"] is True and not ref["nig"]
    if call in ("plain", "dg.backward"):
        assert ref["error"] is None


@pytest.mark.parametrize("bad", ["no-grad", "not-scalar", "constant-operand"])
def test_bad_calls_get_the_general_errors(bad, general):
    def build():
        if bad == "no-grad":
            return dg.tensor(3.0) * 2
        if bad == "not-scalar":
            return dg.tensor([1.0, 2.0], requires_grad=True) * 2
        return dg.tensor(2.0, requires_grad=True) * dg.tensor(3.0)

    def err():
        try:
            build().backward()
        except Exception as e:  # noqa: BLE001
            return type(e), str(e)
        return None

    short = err()
    general()
    assert short == err()
    if bad != "constant-operand":  # a constant operand: no error either way
        assert short is not None and short[0] is dg.AutogradError
        assert ("does not require grad" in short[1]) if bad == "no-grad" else ("shape (2,)" in short[1])


def test_leaves_steal_their_gradients_alike(monkeypatch, general):
    """``sinks.owned`` keeps a gradient without copying it when nothing else holds it: the short
    entry must hold no reference to the seed that the general one drops."""
    counts = []

    def counting(g):
        counts.append(sys.getrefcount(g) - 1)
        return counts[-1]

    monkeypatch.setattr(sinks, "_getrefcount", counting)
    seen = []
    for turn in range(2):
        if turn:
            general()
        counts.clear()
        for build in BUILDS.values():
            build()[0].backward()
        seen.append(list(counts))
    assert seen[0] == seen[1] and min(seen[0]) <= sinks._STEAL_REFS


def test_the_seed_is_a_fresh_one_of_the_roots_dtype_and_shape():
    for dtype in ("float16", "float32", "float64"):
        for shape in ((), (1,), (1, 1)):
            x = dg.tensor(np.full(shape, 2.0, dtype=dtype), requires_grad=True)
            x.backward()
            g = x.grad.numpy()
            assert g.dtype == dtype and g.shape == shape and g.flags.c_contiguous and g.flags.writeable
            assert g.tobytes() == np.ones(shape, dtype).tobytes()
