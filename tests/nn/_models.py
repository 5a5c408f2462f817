"""Small models and data shared by the nn tests: one definition, built in either front end."""

from __future__ import annotations

import numpy as np

import dyngraph as dg
import staticgraph as sg

RNG = np.random.default_rng(1234)
X = RNG.standard_normal((7, 5))
Y = RNG.integers(0, 3, 7)


def mlp(dtype="float64"):
    nn = dg.nn
    return nn.Sequential(nn.Linear(5, 6, dtype=dtype), nn.Tanh(), nn.Linear(6, 3, dtype=dtype))


def copy_into_torch(model, tmodel):
    """Load our model's initial values into the PyTorch model (same names, same layouts)."""
    import torch

    sd = {k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}
    tmodel.load_state_dict(sd)


def dg_run(make_opt, steps, seed=0, model_fn=mlp):
    dg.manual_seed(seed)
    model = model_fn()
    opt = make_opt(model.parameters())
    losses = []
    x, y = dg.tensor(X), dg.tensor(Y)
    for _ in range(steps):
        opt.zero_grad()
        loss = dg.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


def sg_run(make_opt, steps, seed=0, model_fn=mlp, optimize=False):
    sg.nn.manual_seed(seed)
    with sg.Graph() as g:
        model = model_fn()
        x = sg.placeholder((None, 5), "float64")
        y = sg.placeholder((None,), "int64")
        loss = sg.nn.functional.cross_entropy(model(x), y)
        train = make_opt().minimize(loss)
    sess = sg.Session(g, optimize=optimize)
    losses = [float(sess.run([loss, train], {x: X, y: Y})[0]) for _ in range(steps)]
    return sess.run(model.state_dict()), losses
