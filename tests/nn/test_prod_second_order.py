"""Second and third derivatives through ``prod`` against PyTorch (float64), zeros included, in
both front ends: ``prod_others`` (prod's gradient factor) has a gradient of its own."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg

torch = pytest.importorskip("torch")

CASES = [
    (np.array([[1.5, -0.5, 2.0, 0.7], [0.3, 0.0, -1.2, 0.9], [0.0, 0.0, 1.1, -0.8]]), 1),
    (np.array([[1.5, -0.5, 2.0, 0.7], [0.3, 0.0, -1.2, 0.9], [0.0, 0.0, 1.1, -0.8]]), 0),
    (np.array([[1.5, -0.5, 2.0, 0.7], [0.3, 0.5, -1.2, 0.0]]), None),
]


def _f(lib_prod, x, dim, w):
    p = lib_prod(x, dim)
    return (p * w).sum() if dim is not None else p * 1.3


@pytest.mark.torch
@pytest.mark.parametrize("k", range(len(CASES)))
def test_hessian_vector_products_match_pytorch(k):
    xv, dim = CASES[k]
    rng = np.random.default_rng(k)
    w = rng.standard_normal(np.prod(xv.shape) // xv.shape[dim] if dim is not None else 1)
    w = w.reshape([s for i, s in enumerate(xv.shape) if i != dim]) if dim is not None else w[0]
    v, u = rng.standard_normal(xv.shape), rng.standard_normal(xv.shape)

    def prod_t(x, d):
        return x.prod() if d is None else x.prod(d)

    tx = torch.tensor(xv, requires_grad=True)
    (tg,) = torch.autograd.grad(_f(prod_t, tx, dim, torch.tensor(w)), tx, create_graph=True)
    (th,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tx, create_graph=True)
    (t3,) = torch.autograd.grad((th * torch.tensor(u)).sum(), tx)

    x = dg.tensor(xv, requires_grad=True)
    (g,) = dg.grad(_f(prod_t, x, dim, dg.tensor(w)), x, create_graph=True)
    (h,) = dg.grad((g * dg.tensor(v)).sum(), x, create_graph=True)
    (h3,) = dg.grad((h * dg.tensor(u)).sum(), x)
    for ours, theirs in ((g, tg), (h, th), (h3, t3)):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)

    with sg.Graph() as graph:
        xs = sg.placeholder(xv.shape, "float64")
        (sgx,) = sg.gradients(_f(prod_t, xs, dim, sg.constant(w)), [xs])
        (shx,) = sg.gradients((sgx * sg.constant(v)).sum(), [xs])
    sess = sg.Session(graph, optimize=False)
    got = sess.run([sgx, shx], {xs: xv})
    assert got[1].tobytes() == h.detach().numpy().tobytes()  # bitwise dyngraph's
    np.testing.assert_allclose(got[1], th.detach().numpy(), rtol=1e-10, atol=1e-12)
