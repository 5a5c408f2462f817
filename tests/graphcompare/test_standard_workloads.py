"""W1-W4, defined once in ``graphcompare.experiments.workloads.standard``: each hand-written
backward agrees with dyngraph's and staticgraph's gradients of the one model definition."""

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg
from graphcompare.experiments.workloads import standard as std


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-9, atol=1e-12)


def static_grads(loss_of, arrays, wrt):
    with sg.Graph():
        ps = [sg.placeholder(a.shape, a.dtype.name) for a in arrays]
        loss = loss_of(*ps)
        grads = sg.gradients(loss, [ps[i] for i in wrt])
        fn = sg.compile([loss, *grads], inputs=ps, optimize=False)
    return fn(*arrays)


def dyn_grads(loss_of, arrays, wrt):
    ts = [dg.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    loss = loss_of(*ts)
    loss.backward()
    return [loss.detach().numpy()] + [ts[i].grad.numpy() for i in wrt]


def test_chain_ops_cycle_and_w1_has_200():
    assert std.chain_ops(5) == ("mul", "add", "tanh", "mul", "add") and len(std.W1_OPS) == 200


@pytest.mark.parametrize("columns", [True, False])
def test_w1_w2_by_hand_match_autodiff(columns):
    rng = np.random.default_rng(0)
    x = np.array([0.3, -0.2])
    h, g = std.chain_numpy(np, x)
    for got in (dyn_grads(lambda t: std.chain(dg, t).sum(), [x], [0]),
                static_grads(lambda t: std.chain(sg, t).sum(), [x], [0])):
        close(got[0], h.sum())
        close(got[1], g)
    arrays = std.rnn_inputs(rng, "float64", columns=columns)
    want = std.rnn_numpy(np, *arrays)
    for run in (dyn_grads, static_grads):
        ns = dg if run is dyn_grads else sg
        for a, b in zip(run(lambda *a, ns=ns: std.rnn(ns, *a), arrays, [0, 1]), want):
            close(a, b)


def test_w3_w4_by_hand_match_autodiff():
    rng = np.random.default_rng(1)
    sizes = (7, 5, 4, 3)
    x, labels = std.mlp_batch(rng, 6, sizes, dtype="float64")
    params = std.mlp_params(rng, sizes, dtype="float64")
    loss, grads = std.mlp_numpy(np, x, labels, params)
    got = dyn_grads(lambda x_, l_, *ps: std.mlp(dg, x_, l_, ps), [x, labels, *params], list(range(2, 8)))
    close(got[0], loss)
    for a, b in zip(got[1:], grads):
        close(a, b)
    x, y = std.elementwise_inputs(rng, 50, "float64")
    want = std.elementwise_numpy(np, x, y)
    for got in (dyn_grads(lambda a, b: std.elementwise(dg, a, b), [x, y], [0, 1]),
                static_grads(lambda a, b: std.elementwise(sg, a, b), [x, y], [0, 1])):
        for a, b in zip(got, want):
            close(a, b)
