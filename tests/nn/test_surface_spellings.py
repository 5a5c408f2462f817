"""The surface spellings the models need, as PyTorch writes them, against PyTorch (values,
dtypes and gradients, float64) in dyngraph, and the same spelling in staticgraph giving
dyngraph's bytes (``optimize=False``)."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg

torch = pytest.importorskip("torch")

R = np.random.default_rng(11)
A = R.standard_normal((3, 4))
B = R.standard_normal((3, 4)) + 2.0
IDX = np.array([[0, 3], [2, 2], [1, 0]])
MASK = A > 0.3


def ns(t):
    """The namespace a case spells functions with: ``torch`` or the front end's module."""
    return torch if isinstance(t, torch.Tensor) else (dg if isinstance(t, dg.Tensor) else sg)


def F(t):
    return torch.nn.functional if isinstance(t, torch.Tensor) else ns(t).nn.functional


def lit(t, a):
    """A constant in the case's library (index and mask arrays; the front ends also take NumPy)."""
    return torch.tensor(a) if isinstance(t, torch.Tensor) else a


def const(t, a):
    """A tensor of the case's library (one_hot takes a tensor, as PyTorch's)."""
    return {torch: torch.tensor, dg: dg.tensor, sg: sg.constant}[ns(t)](a)


CASES = {
    "var_std": lambda x, y: (x.var(1, correction=0), x.var(1), x.var(dim=(0, 1), keepdim=True), x.std(0, unbiased=False),
                             x.std()),
    "topk_sort": lambda x, y: (*x.topk(2, dim=1), x.topk(3, dim=0, largest=False).values, *x.sort(dim=0, descending=True),
                               x.argsort(dim=1)),
    "split_chunk_unbind": lambda x, y: (*x.split(2, dim=1), *x.split([1, 3], dim=1), *x.chunk(2, dim=0), *x.unbind(1)),
    "masked_fill_alpha": lambda x, y: (x.masked_fill(lit(x, MASK), 0.5), x.add(y, alpha=0.5), x.sub(y, alpha=2.0)),
    "cat_stack": lambda x, y: (ns(x).cat([x, y], dim=1), ns(x).stack([x, y], dim=0)),
    "cumsum_prod": lambda x, y: (x.cumsum(1), x.prod(1), x.prod(), (x * y).cumsum(dim=0)),
    "gather_scatter_add": lambda x, y: (x.gather(1, lit(x, IDX)), x.scatter_add(1, lit(x, IDX), y[:, :2])),
    "tril_triu": lambda x, y: (x.tril(), x.triu(1), x.tril(-1)),
    "logical": lambda x, y: (((x > 0) & (y > 2)), ((x > 0) | (y > 2)), ~(x > 0), (x > 0).logical_not(),
                             (x > 0).all(), (x > 0).any(dim=1), (x > -9).all(dim=0)),
    "floor_div_remainder": lambda x, y: (x // y, x % y, ns(x).floor_divide(x, y), ns(x).remainder(x, y)),
    "norms": lambda x, y: (ns(x).linalg.vector_norm(x, ord=1, dim=1), ns(x).linalg.vector_norm(x), x.norm(),
                           ns(x).linalg.vector_norm(x, float("inf"), dim=0)),
    "special": lambda x, y: (x.sin(), x.cos(), x.erf(), (y * y).log1p(), x.expm1(), y.rsqrt(),
                             x.square()),
    "einsum": lambda x, y: (ns(x).einsum("ij,kj->ik", x, y), ns(x).einsum("ij,jk,kl->il", x, y.t(), x),
                            ns(x).einsum("ij->j", x)),
    "pad_one_hot_clone": lambda x, y: (F(x).pad(x, (1, 2)), F(x).pad(x, (0, 1, 2, 0), value=-1.0), x.clone(),
                                       F(x).one_hot(const(x, np.array([2, 0, 1])), 4)),
    "allclose": lambda x, y: (ns(x).allclose(x, x + 1e-9), ns(x).allclose(x, y), ns(x).allclose(x, x * (1 + 1e-6), rtol=1e-5)),
}


def _values(out):
    return [o for o in out if not isinstance(o, bool)], [o for o in out if isinstance(o, bool)]


@pytest.mark.torch
@pytest.mark.parametrize("name", list(CASES))
def test_spelling_matches_pytorch(name):
    fn = CASES[name]
    x, y = dg.tensor(A, requires_grad=True), dg.tensor(B, requires_grad=True)
    tx, ty = torch.tensor(A, requires_grad=True), torch.tensor(B, requires_grad=True)
    (outs, flags), (touts, tflags) = _values(fn(x, y)), _values(fn(tx, ty))
    assert flags == tflags and len(outs) == len(touts), name
    for k, (o, t) in enumerate(zip(outs, touts)):
        assert o.shape == tuple(t.shape) and o.dtype.name == str(t.dtype).split(".")[-1], (name, k, o.dtype, t.dtype)
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=f"{name} {k}")
    # PyTorch's `//` has no derivative (ours is zero, as torch.div(rounding_mode="floor")): values only
    pairs = [(o, t) for o, t in zip(outs, touts) if t.requires_grad and "NotImplemented" not in t.grad_fn.name()]
    if pairs:
        ws = [R.standard_normal(tuple(t.shape)) for _, t in pairs]
        sum(((o * w).sum() for (o, _), w in zip(pairs, ws)), dg.tensor(0.0, dtype="float64")).backward()
        sum((t * torch.tensor(w)).sum() for (_, t), w in zip(pairs, ws)).backward()
        for a, b in ((x, tx), (y, ty)):
            if b.grad is not None:
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", list(CASES))
def test_spelling_is_bitwise_the_same_in_staticgraph(name):
    fn = CASES[name]
    with sg.Graph() as g:
        xs, ys = sg.placeholder(A.shape, "float64"), sg.placeholder(B.shape, "float64")
        nodes = fn(xs, ys)
    got = sg.compile(list(nodes), inputs=[xs, ys], optimize=False)(A, B)
    want = fn(dg.tensor(A), dg.tensor(B))
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want)):
        b = np.asarray(b) if isinstance(b, bool) else b.numpy()
        assert np.asarray(a).dtype == b.dtype and np.asarray(a).tobytes() == b.tobytes(), (name, k)


@pytest.mark.torch
def test_dg_add_and_sub_take_alpha_and_out():
    x, y = dg.tensor(A), dg.tensor(B)
    want = torch.add(torch.tensor(A), torch.tensor(B), alpha=2.0).numpy()
    assert np.array_equal(dg.add(x, y, alpha=2.0).numpy(), want)
    assert np.array_equal(dg.sub(x, y, alpha=0.5).numpy(), torch.sub(torch.tensor(A), torch.tensor(B), alpha=0.5).numpy())
    out = dg.zeros(3, 4, dtype="float64")
    dg.add(x, y, alpha=2.0, out=out)
    assert np.array_equal(out.numpy(), want)
