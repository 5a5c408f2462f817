"""Optimiser state against torch.optim: ``state_dict`` holds PyTorch's entries with PyTorch's
values, a run resumed from a loaded state continues PyTorch's trajectory, ``step(closure)``,
AdamW's default weight decay; ``minimize(var_list=)`` updates only those variables."""

from __future__ import annotations

import numpy as np
import pytest
from _models import X, Y, copy_into_torch, mlp

import dyngraph as dg
import staticgraph as sg

torch = pytest.importorskip("torch")

OPTS = {
    "sgd_momentum": (lambda p: dg.optim.SGD(p, lr=0.2, momentum=0.9, dampening=0.1, weight_decay=0.01),
                     lambda p: torch.optim.SGD(p, lr=0.2, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "adam": (lambda p: dg.optim.Adam(p, lr=0.05, betas=(0.8, 0.99)), lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.99))),
    "adamw_default_decay": (lambda p: dg.optim.AdamW(p, lr=0.05), lambda p: torch.optim.AdamW(p, lr=0.05)),
}


def _pair(name):
    dg.manual_seed(0)
    model = mlp()
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).double()
    copy_into_torch(model, tmodel)
    make, tmake = OPTS[name]
    return model, make(model.parameters()), tmodel, tmake(tmodel.parameters())


def _steps(model, opt, tmodel, topt, n):
    losses = []
    for _ in range(n):
        def closure():
            opt.zero_grad()
            loss = dg.nn.functional.cross_entropy(model(dg.tensor(X)), dg.tensor(Y))
            loss.backward()
            return loss

        def tclosure():
            topt.zero_grad()
            loss = torch.nn.functional.cross_entropy(tmodel(torch.tensor(X)), torch.tensor(Y))
            loss.backward()
            return loss

        losses.append((opt.step(closure).item(), topt.step(tclosure).item()))
    return np.array(losses)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(OPTS))
def test_state_dict_is_pytorchs_and_a_resumed_run_continues_pytorchs_trajectory(name):
    model, opt, tmodel, topt = _pair(name)
    losses = _steps(model, opt, tmodel, topt, 3)
    np.testing.assert_allclose(losses[:, 0], losses[:, 1], rtol=1e-12)
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert [g["params"] for g in ours["param_groups"]] == [g["params"] for g in theirs["param_groups"]]
    for key in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "betas", "eps"):
        if key in theirs["param_groups"][0]:
            assert ours["param_groups"][0][key] == theirs["param_groups"][0][key], key
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for i, entries in theirs["state"].items():
        assert set(ours["state"][i]) == set(entries), (i, set(ours["state"][i]), set(entries))
        for k, v in entries.items():
            np.testing.assert_allclose(np.asarray(ours["state"][i][k], np.float64), v.numpy(), rtol=1e-12, err_msg=k)
    # a fresh optimiser over a copy of the model, loaded with the state, continues the same run
    dg.manual_seed(1)
    again = mlp()
    again.load_state_dict(model.state_dict())
    resumed = OPTS[name][0](again.parameters())
    resumed.load_state_dict({"state": {i: {k: np.asarray(v) if not np.isscalar(v) else v for k, v in s.items()}
                                       for i, s in ours["state"].items()},
                             "param_groups": ours["param_groups"]})
    more = _steps(again, resumed, tmodel, topt, 4)
    np.testing.assert_allclose(more[:, 0], more[:, 1], rtol=1e-9)


def test_step_returns_the_closures_loss():
    model = mlp()
    opt = dg.optim.SGD(model.parameters(), lr=0.1)
    before = model[0].weight.detach().numpy().copy()

    def closure():
        loss = dg.nn.functional.cross_entropy(model(dg.tensor(X)), dg.tensor(Y))
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.grad_fn is not None  # the closure ran with gradients on, and its loss came back
    assert not np.array_equal(before, model[0].weight.detach().numpy())


def test_minimize_var_list_updates_only_those_variables():
    sg.nn.manual_seed(0)
    with sg.Graph() as g:
        model = mlp()
        x = sg.placeholder((None, 5), "float64")
        y = sg.placeholder((None,), "int64")
        loss = sg.nn.functional.cross_entropy(model(x), y)
        first = model[0].weight
        train = sg.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True, weight_decay=0.01).minimize(loss, var_list=[first])
    sess = sg.Session(g, optimize=False)
    start = sess.run(model.state_dict())
    for _ in range(2):
        sess.run(train, {x: X, y: Y})
    end = sess.run(model.state_dict())
    assert not np.array_equal(start["0.weight"], end["0.weight"])
    assert all(np.array_equal(start[k], end[k]) for k in start if k != "0.weight")
