"""Optimisers: 25-step trajectories against torch.optim (float64, rtol 1e-9), and dyngraph
against staticgraph bitwise with ``optimize=False`` (the same shared update arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest
from _models import X, Y, copy_into_torch, dg_run, mlp, sg_run

import dyngraph as dg
import staticgraph as sg

STEPS = 25

# (dyngraph optimiser, torch.optim spelling, staticgraph optimiser or None)
CASES = {
    "sgd": (lambda p: dg.optim.SGD(p, lr=0.3), lambda t, p: t.optim.SGD(p, lr=0.3),
            lambda: sg.train.GradientDescentOptimizer(0.3)),
    "sgd_momentum_wd": (lambda p: dg.optim.SGD(p, lr=0.2, momentum=0.9, weight_decay=0.01),
                        lambda t, p: t.optim.SGD(p, lr=0.2, momentum=0.9, weight_decay=0.01),
                        lambda: sg.train.MomentumOptimizer(0.2, 0.9, weight_decay=0.01)),
    "sgd_nesterov": (lambda p: dg.optim.SGD(p, lr=0.2, momentum=0.8, nesterov=True),
                     lambda t, p: t.optim.SGD(p, lr=0.2, momentum=0.8, nesterov=True),
                     lambda: sg.train.MomentumOptimizer(0.2, 0.8, use_nesterov=True)),
    "sgd_dampening": (lambda p: dg.optim.SGD(p, lr=0.2, momentum=0.9, dampening=0.3),
                      lambda t, p: t.optim.SGD(p, lr=0.2, momentum=0.9, dampening=0.3), None),
    "adam": (lambda p: dg.optim.Adam(p, lr=0.05), lambda t, p: t.optim.Adam(p, lr=0.05),
             lambda: sg.train.AdamOptimizer(0.05)),
    "adam_wd": (lambda p: dg.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), weight_decay=0.1),
                lambda t, p: t.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), weight_decay=0.1),
                lambda: sg.train.AdamOptimizer(0.05, 0.8, 0.99, weight_decay=0.1)),
    "adamw": (lambda p: dg.optim.AdamW(p, lr=0.05, weight_decay=0.1), lambda t, p: t.optim.AdamW(p, lr=0.05, weight_decay=0.1),
              lambda: sg.train.AdamOptimizer(0.05, weight_decay=0.1, decoupled=True)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(CASES))
def test_trajectory_matches_torch_optim(name):
    torch = pytest.importorskip("torch")
    make_dg, make_torch, _ = CASES[name]
    dg.manual_seed(0)
    init = mlp()
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    copy_into_torch(init, tmodel)
    model, losses = dg_run(make_dg, STEPS)
    opt = make_torch(torch, tmodel.parameters())
    x, y = torch.tensor(X), torch.tensor(Y)
    tlosses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(x), y)
        loss.backward()
        opt.step()
        tlosses.append(loss.item())
    np.testing.assert_allclose(losses, tlosses, rtol=1e-9, atol=0)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v.numpy(), tmodel.state_dict()[k].numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c[2] is not None])
def test_dyngraph_and_staticgraph_train_bitwise_equal(name):
    make_dg, _, make_sg = CASES[name]
    model, dlosses = dg_run(make_dg, STEPS)
    weights, slosses = sg_run(make_sg, STEPS)
    assert np.array(dlosses).tobytes() == np.array(slosses).tobytes()
    for k, v in model.state_dict().items():
        assert v.numpy().tobytes() == weights[k].tobytes(), k


def test_optimize_true_agrees_within_rounding():
    _, dlosses = dg_run(CASES["adam"][0], 10)
    _, slosses = sg_run(CASES["adam"][2], 10, optimize=True)
    np.testing.assert_allclose(slosses, dlosses, rtol=1e-9)


def test_fetched_loss_is_computed_before_the_update():
    """TF1: a run that fetches the loss and the train op sees the variables before the update."""
    sg.nn.manual_seed(0)
    with sg.Graph() as g:
        model = mlp()
        x = sg.placeholder((None, 5), "float64")
        y = sg.placeholder((None,), "int64")
        loss = sg.nn.functional.cross_entropy(model(x), y)
        train = sg.train.GradientDescentOptimizer(0.5).minimize(loss)
    sess = sg.Session(g, optimize=False)
    before = sess.run(loss, {x: X, y: Y})
    first, _ = sess.run([loss, train], {x: X, y: Y})
    after = sess.run(loss, {x: X, y: Y})
    assert first == before and after < before


def test_optimizer_state_dict_round_trip():
    model, _ = dg_run(CASES["adam"][0], 3)
    opt = dg.optim.Adam(model.parameters(), lr=0.05)
    opt.zero_grad()
    dg.nn.functional.cross_entropy(model(dg.tensor(X)), dg.tensor(Y)).backward()
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    other = dg.optim.Adam(model.parameters(), lr=0.05)
    other.load_state_dict(sd)
    assert float(other.state_dict()["state"][2]["step"]) == 1.0
    with pytest.raises(ValueError, match="doesn't match the size"):
        dg.optim.Adam(list(model.parameters())[:2]).load_state_dict(sd)


def test_bad_arguments_are_refused():
    p = [dg.zeros(3, requires_grad=True)]
    with pytest.raises(ValueError, match="Nesterov"):
        dg.optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        dg.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        dg.optim.SGD([dg.zeros(3, requires_grad=True) * 2], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        dg.optim.SGD([np.zeros(3)], lr=0.1)
    with sg.Graph():
        c = sg.constant(np.ones(3)).sum()
        with pytest.raises(ValueError, match="no variables to optimize"):
            sg.train.GradientDescentOptimizer(0.1).minimize(c)
