"""The seed examples of the tutorial, their numbers asserted explicitly and checked against PyTorch.

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
def ch3():
    return _Page("03-backward.md")


def test_var1_times_var2_is_12_diff_is_9_gradients_4_and_3(ch3):
    ch3 = ch3.after("var_1", "var_2", "result", "diff")
    assert ch3["result"].item() == 12.0
    assert ch3["diff"].item() == 9.0
    assert ch3["var_1"].grad.item() == 4.0
    assert ch3["var_2"].grad.item() == 3.0
    assert ch3["var_1"].is_leaf and not ch3["result"].is_leaf


def _np(t):
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def test_rnn_cell_gradients_match_pytorch(ch3):
    torch = pytest.importorskip("torch")
    ch3 = ch3.after("W_x", "W_h", "prev_h", "loss")
    W_x, W_h, x, prev_h = (ch3[k] for k in ("W_x", "W_h", "x", "prev_h"))
    tW_x = torch.tensor(W_x.detach().numpy(), requires_grad=True)
    tW_h = torch.tensor(W_h.detach().numpy(), requires_grad=True)
    i2h = torch.mm(tW_x, torch.tensor(x.numpy()).t())
    h2h = torch.mm(tW_h, torch.tensor(prev_h.numpy()).t())
    loss = (i2h + h2h).tanh().sum()
    loss.backward()
    assert ch3["W_x"].grad is not None and ch3["W_h"].grad is not None
    np.testing.assert_allclose(ch3["loss"].item(), loss.item(), rtol=1e-5)
    np.testing.assert_allclose(W_x.grad.numpy(), tW_x.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(W_h.grad.numpy(), tW_h.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_5x5_gradients_match_pytorch(ch3):
    torch = pytest.importorskip("torch")
    ch3 = ch3.after("a", "b", "c", "d")
    a, b = ch3["a"], ch3["b"]
    ta = torch.tensor(a.detach().numpy(), requires_grad=True)
    tb = torch.tensor(b.detach().numpy(), requires_grad=True)
    c = ta * tb
    d = c.exp() + ta  # the chapter's d
    (10 - d).sum().backward()
    assert a.shape == (5, 5) and b.shape == (5, 5)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-6)
