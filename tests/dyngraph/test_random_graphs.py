"""Random DAGs (fan-out, broadcasting, repeated inputs) give PyTorch's gradients, and the same
gradients again through create_graph and through grad()."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dyngraph as dg

torch = pytest.importorskip("torch")

OPS = ["add", "sub", "mul", "tanh", "sigmoid", "mulc", "row_sum", "square"]


@st.composite
def programs(draw):
    n_leaves = draw(st.integers(1, 3))
    steps = []
    for k in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(OPS))
        a = draw(st.integers(0, n_leaves + k - 1))
        b = draw(st.integers(0, n_leaves + k - 1))
        steps.append((op, a, b))
    outs = draw(st.lists(st.integers(0, n_leaves + len(steps) - 1), min_size=1, max_size=3))
    return n_leaves, steps, outs


def _run(m, leaves, steps, outs):
    vals = list(leaves)
    for op, a, b in steps:
        x, y = vals[a], vals[b]
        if op == "add":
            v = x + y
        elif op == "sub":
            v = x - y
        elif op == "mul":
            v = x * y
        elif op == "tanh":
            v = x.tanh()
        elif op == "sigmoid":
            v = x.sigmoid()
        elif op == "mulc":
            v = x * 0.75
        elif op == "square":
            v = x * x
        else:
            v = x + y.sum(dim=1, keepdim=True)  # broadcasting back to (3, 4)
        vals.append(v)
    loss = vals[outs[0]].sum()
    for o in outs[1:]:
        loss = loss + vals[o].sum()
    return loss


@given(programs(), st.integers(0, 2**31 - 1))
def test_random_graph_gradients_match_pytorch(program, seed):
    n_leaves, steps, outs = program
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((3, 4)) for _ in range(n_leaves)]
    d_leaves = [dg.tensor(a, requires_grad=True) for a in arrays]
    t_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    d_loss = _run(dg, d_leaves, steps, outs)
    t_loss = _run(torch, t_leaves, steps, outs)
    d_loss.backward()
    t_loss.backward()
    np.testing.assert_allclose(d_loss.item(), t_loss.item(), rtol=1e-12)
    for d, t in zip(d_leaves, t_leaves):
        assert (d.grad is None) == (t.grad is None)  # a leaf the outputs do not use
        if d.grad is not None:
            np.testing.assert_allclose(d.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)

    # grad() and create_graph=True run the same rules: bitwise the same gradients
    again = [dg.tensor(a, requires_grad=True) for a in arrays]
    gs = dg.grad(_run(dg, again, steps, outs), again, create_graph=True, allow_unused=True)
    for d, g in zip(d_leaves, gs):
        assert (g is None) == (d.grad is None)
        if g is not None:
            assert g.detach().numpy().tobytes() == d.grad.numpy().tobytes()
