"""The seed tutorials' examples, as the tutorial teaches them, with their numbers asserted in
both models and checked against PyTorch.

Each test runs the chapter's own code (so the page and the test cannot drift apart), then
checks the variables it left behind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .doctest_md import run_page

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial"


class _Page:
    """The variables of a page as they were right after the first block that defined them."""

    def __init__(self, name: str):
        self.results = run_page(TUTORIAL / name)
        errors = [r.error for r in self.results if r.error]
        assert not errors, errors[0]

    def after(self, *names: str) -> dict:
        for r in self.results:
            if all(n in r.namespace for n in names):
                return r.namespace
        raise AssertionError(f"no block of the page defines {names}")


@pytest.fixture(scope="module")
def ch1():
    return _Page("01-tensors.md")


@pytest.fixture(scope="module")
def ch2():
    return _Page("02-graph.md")


@pytest.fixture(scope="module")
def ch3():
    return _Page("03-backward.md")


@pytest.fixture(scope="module")
def ch4():
    return _Page("04-static.md")


def _np(t):
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


# ---------------------------------------------------------------- "PyTorch 101": tensor basics


def test_uniform_7x5_in_both_models(ch1):
    ns = ch1.after("w", "rng")
    assert ns["w"].shape == (7, 5) and ns["w"].dtype == "float32"
    x = next(r.namespace["x"] for r in ch1.results if getattr(r.namespace.get("x"), "shape", None) == (7, 5))
    assert str(x.dtype) == "dyngraph.float32"
    assert (x.numpy() >= -1).all() and (x.numpy() < 1).all() and np.unique(x.numpy()).size == 35


def test_view_minus_one_15_of_5x10x15_is_50x15_in_both_models(ch1):
    ns = ch1.after("y", "y_sym", "flat")
    assert ns["y"].view(-1, 15).shape == (50, 15) and ns["y"].shape == (5, 10, 15)
    assert ns["flat"].shape == (50, 15) and ns["y_sym"].shape == (5, 10, 15)


def test_second_column_in_both_models(ch1):
    ns = ch1.after("m", "get_column")
    assert ns["m"][:, 1].tolist() == [1.0, 5.0, 9.0]
    assert ns["get_column"](np.arange(12.0, dtype=np.float32).reshape(3, 4)).tolist() == [1.0, 5.0, 9.0]


def test_add_out_and_add_inplace(ch1):
    ns = ch1.after("result", "before")
    x, y, result, before = ns["x"], ns["y"], ns["result"], ns["before"]
    assert result.shape == (5, 3)
    np.testing.assert_array_equal(result.numpy(), before + x.numpy())  # result = x + y (y before add_)
    np.testing.assert_array_equal(y.numpy(), before + 1)  # y.add_(x), x is ones


# ---------------------------------------------------------------- the chain-rule graph


def test_chain_rule_graph_values_and_gradients_in_both_models(ch2):
    ns = ch2.after("L", "a", "w4", "gradient")
    dyn = ch2.after("L", "b", "c", "d")
    assert [dyn[k].item() for k in ("b", "c", "d", "L")] == [3.0, 6.0, 33.0, 1089.0]
    assert ns["a"].grad.item() == 726.0
    assert [ns[f"w{i}"].grad.item() for i in (1, 2, 3, 4)] == [594.0, 792.0, 198.0, 396.0]
    static = [float(v) for v in ns["gradient"](np.float32(3.0))]
    assert static == [726.0, 594.0, 792.0, 198.0, 396.0]
    assert ns["a"].grad.item() != dyn["L"].item()  # dL/da is not L by coincidence


def test_chain_rule_against_pytorch(ch2):
    torch = pytest.importorskip("torch")
    a = torch.tensor(3.0, requires_grad=True)
    w = [torch.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0, 4.0)]
    d = w[2] * (w[0] * a) + w[3] * (w[1] * a)
    (d * d).backward()
    ns = ch2.after("L", "a", "gradient")
    assert ns["a"].grad.item() == a.grad.item()


# ---------------------------------------------------------------- "Getting Started": var_1 * var_2


def test_var1_times_var2_is_12_diff_is_9_gradients_4_and_3_in_both_models(ch3):
    ns = ch3.after("var_1", "var_2", "var_mult", "diff")
    assert ns["var_mult"].item() == 12.0 and ns["diff"].item() == 9.0
    assert ns["var_1"].grad.item() == 4.0 and ns["var_2"].grad.item() == 3.0
    assert ns["var_1"].is_leaf and not ns["var_mult"].is_leaf
    ns = ch3.after("run")
    assert [float(v) for v in ns["run"](np.float32(3.0), np.float32(4.0))] == [12.0, 9.0, 4.0, 3.0]


def test_retain_grad_beside_fetching_the_intermediate_gradient(ch3):
    ns = ch3.after("fetch")
    dyn = ch3.after("y", "z")
    assert dyn["y"].grad.tolist() == [1.0, 1.0, 1.0]
    dz_dy, dz_dx = ns["fetch"](np.array([1.0, 2.0, 3.0], np.float32))
    assert dz_dy.tolist() == [1.0, 1.0, 1.0] and dz_dx.tolist() == [2.0, 4.0, 6.0]


# ---------------------------------------------------------------- "Graphs, AD and Autograd": 5x5 and RNN


def test_5x5_exactly_as_the_seed_matches_pytorch_and_static_bitwise(ch3):
    torch = pytest.importorskip("torch")
    ns = ch3.after("x4", "static_grads", "dynamic_grads")
    leaves = [ns[k] for k in ("a", "x1", "x2", "x3", "x4")]
    assert all(t.shape == (5, 5) for t in leaves)
    ta, tx1, tx2, tx3, tx4 = (torch.tensor(_np(t), requires_grad=True) for t in leaves)
    b = tx1 * ta
    c = tx2 * ta
    d = tx3 * b + tx4 * c
    (10 - d).sum().backward()
    for ours, theirs in zip(leaves, (ta, tx1, tx2, tx3, tx4)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)
    for s, dyn in zip(ns["static_grads"], ns["dynamic_grads"]):
        assert s.tobytes() == dyn.tobytes()


def test_rnn_cell_as_the_seed_matches_pytorch_in_both_models(ch3):
    torch = pytest.importorskip("torch")
    ns = ch3.after("W_x", "W_h", "prev_h", "i2h", "h2h", "cell")
    W_x, W_h, x, prev_h = (ns[k] for k in ("W_x", "W_h", "x", "prev_h"))
    assert x.shape == (1, 10) and prev_h.shape == (1, 20) and W_h.shape == (20, 20) and W_x.shape == (20, 10)
    tW_x = torch.tensor(_np(W_x), requires_grad=True)
    tW_h = torch.tensor(_np(W_h), requires_grad=True)
    i2h = torch.matmul(tW_x, torch.tensor(x.numpy()).t())
    h2h = torch.matmul(tW_h, torch.tensor(prev_h.numpy()).t())
    (i2h + h2h).tanh().sum().backward()
    np.testing.assert_allclose(W_x.grad.numpy(), tW_x.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(W_h.grad.numpy(), tW_h.grad.numpy(), rtol=1e-5, atol=1e-6)
    gx, gh = ns["cell"](x.numpy(), prev_h.numpy(), _np(W_h), _np(W_x))
    assert gx.tobytes() == W_x.grad.numpy().tobytes() and gh.tobytes() == W_h.grad.numpy().tobytes()


def test_second_backward_fails_while_the_static_gradient_runs_again(ch3):
    ns = ch3.after("derivative")
    assert [float(ns["derivative"](np.float32(2.0))) for _ in range(5)] == [12.0] * 5
    import dyngraph as dg

    x = dg.tensor(2.0, requires_grad=True)
    y = (x * x).tanh()
    y.backward()
    with pytest.raises(dg.FreedGraphError, match="retain_graph=True"):
        y.backward()


def test_higher_order_has_no_coincidence(ch3):
    ns = ch3.after("dy_dx", "d2y_dx2")
    assert (ns["dy_dx"].item(), ns["d2y_dx2"].item()) == (27.0, 18.0)


# ---------------------------------------------------------------- the training loop, both ways


def test_the_same_training_loop_gives_the_same_bytes(ch4):
    ns = ch4.after("sess", "dynamic_w")
    assert ns["sess"].run(ns["w"]).tobytes() == ns["dynamic_w"].tobytes()
    np.testing.assert_allclose(ns["dynamic_w"], [[3.0]], atol=1e-4)


def test_the_seeds_one_weight_loop_in_both_models_matches_pytorch(ch4):
    torch = pytest.importorskip("torch")
    ns = ch4.after("sess_seed", "seed_w")
    assert ns["sess_seed"].run(ns["w"]).tobytes() == ns["seed_w"].tobytes()  # w: the static variable here
    w = torch.tensor([1.0], requires_grad=True)
    first = None
    for _ in range(10):
        for x, y in zip(ns["x_data"], ns["y_data"]):
            loss = (x * w - y) ** 2
            loss.backward()
            first = first or (loss.item(), w.grad.item())
            with torch.no_grad():
                w -= 0.01 * w.grad
            w.grad = None
    assert first == (1.0, -2.0)  # the seed's numbers at its first point
    np.testing.assert_allclose(ns["seed_w"], w.detach().numpy(), rtol=1e-6)
