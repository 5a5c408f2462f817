"""The LSTM language-model step and the transformer block: the hand-written NumPy forward and
backward (``workloads.models_numpy``) against dyngraph's and staticgraph's gradients of the one
model definition, in float64; and the NumPy peer's training step against dyngraph's."""

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg
from graphcompare.experiments.workloads import lstm_lm, transformer
from graphcompare.experiments.workloads.base import SharedNS
from graphcompare.experiments.workloads.models_numpy import lstm_numpy, transformer_numpy

pytest.importorskip("scipy")  # the hand-written GELU takes erf from SciPy


def as64(arrays):
    return [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]


def autodiff(w, front):
    data, params = as64(w.data), as64(w.params)
    if front == "dyngraph":
        ts = [dg.tensor(a) for a in data]
        ps = [dg.tensor(p, requires_grad=True) for p in params]
        loss = w.model(SharedNS(), *ts, *ps)
        loss.backward()
        return loss.item(), [p.grad.numpy() for p in ps]
    with sg.Graph():
        ts = [sg.placeholder(a.shape, a.dtype.name) for a in data]
        ps = [sg.placeholder(p.shape, p.dtype.name) for p in params]
        loss = w.model(SharedNS(), *ts, *ps)
        fn = sg.compile([loss, *sg.gradients(loss, ps)], inputs=ts + ps, optimize=False)
    out = fn(*data, *params)
    return float(out[0]), out[1:]


CASES = {
    "lstm_lm": (lambda: lstm_lm(batch=3, T=4, vocab=7, embed=5, hidden=6, seed=1), lstm_numpy, {}),
    "transformer": (lambda: transformer(batch=2, T=5, d=8, heads=2, seed=1), transformer_numpy, {"heads": 2}),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("front", ["dyngraph", "staticgraph"])
def test_hand_written_gradients_match_autodiff(name, front):
    make, by_hand, kw = CASES[name]
    w = make()
    if name == "lstm_lm":  # a start state away from zero, so the h0/c0 terms of the backward matter
        rng = np.random.default_rng(2)
        w.data[2], w.data[3] = (rng.standard_normal(w.data[2].shape).astype(np.float32) for _ in range(2))
    loss, grads = by_hand(np, *as64(w.data), *as64(w.params), **kw)
    want_loss, want = autodiff(w, front)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    assert len(grads) == len(want) == len(w.params)
    for k, (a, b) in enumerate(zip(grads, want)):
        assert a.shape == b.shape and a.dtype == np.float64, (name, k)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"{name} parameter {k}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_peer_trains_like_dyngraph(name):
    """Three SGD steps of the NumPy peer and of dyngraph: the same losses to float32 rounding."""
    w = CASES[name][0]()
    steps = {kind: w.impl(kind).step for kind in ("numpy", "dyngraph")}
    for _ in range(3):
        a, b = float(steps["numpy"]()), float(steps["dyngraph"]().item())
        np.testing.assert_allclose(a, b, rtol=2e-5)
