"""Second order through sg.scan (``control.second_loop``): the gradient of a scan's gradient,
against PyTorch's double backward through the same Python loop (float64), for several lengths
of one compiled graph."""

import numpy as np
import pytest
import torch

import staticgraph as sg

RNG = np.random.default_rng(1515)


def _step(h, x, W, U, b):
    a = (h @ W + x @ U + b).tanh()
    return a * 0.5 + h * (W.sum() * 0.1), (a * a).sum()


def _static(optimize):
    with sg.Graph():
        xs = sg.placeholder((None, 2), "float64", name="xs")
        h0, W, U, b = (sg.placeholder(s, "float64", name=n) for s, n in [((3,), "h0"), ((3, 3), "W"), ((2, 3), "U"), ((3,), "b")])
        hT, ys = sg.scan(lambda h, x: _step(h, x, W, U, b), h0, xs)
        loss = (hT * hT).sum() + ys.sum()
        g = sg.gradients(loss, [W, h0, xs])
        second = (g[0] * g[0]).sum() + (g[1] * g[1]).sum() + (g[2] * g[2]).sum()
        gg = sg.gradients(second, [xs, h0, W, U, b])
        return sg.compile([*g, *gg], inputs=[xs, h0, W, U, b], optimize=optimize)


def _torch(arrays):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    xs, h0, W, U, b = ts
    h, ys = h0, []
    for t in range(xs.shape[0]):
        h, y = _step(h, xs[t], W, U, b)
        ys.append(y)
    loss = (h * h).sum() + (torch.stack(ys).sum() if ys else 0.0)
    g = torch.autograd.grad(loss, [W, h0, xs], create_graph=True, allow_unused=True)
    g = [torch.zeros_like(t) if d is None else d for d, t in zip(g, [W, h0, xs])]
    second = (g[0] * g[0]).sum() + (g[1] * g[1]).sum() + (g[2] * g[2]).sum()
    gg = torch.autograd.grad(second, ts, allow_unused=True)
    return [d.detach().numpy() for d in g] + [np.zeros(t.shape) if d is None else d.numpy() for d, t in zip(gg, ts)]


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "optimized"])
def fn(request):
    return _static(request.param)


@pytest.mark.parametrize("T", [0, 1, 2, 5])
def test_second_order_through_scan_against_torch(fn, T):
    arrays = [RNG.standard_normal((T, 2)), RNG.standard_normal(3), RNG.standard_normal((3, 3)) * 0.5,
              RNG.standard_normal((2, 3)), RNG.standard_normal(3)]
    got = fn(*arrays)
    want = _torch(arrays)
    names = ["gW", "gh0", "gxs", "gg_xs", "gg_h0", "gg_W", "gg_U", "gg_b"]
    for name, a, e in zip(names, got, want):
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-11, err_msg=name)
