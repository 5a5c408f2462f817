"""nn ops' paths the op suite's examples never reached (surviving mutants): the default
axis of softmax and log_softmax, and cross-entropy's gradient when the class count is free."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import shared_ops as so
import staticgraph as sg


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_without_an_axis_normalises_the_last_one(name):
    """PyTorch's implicit dim of a 2-D input is its last; so is the ops' default axis."""
    op = so.get_op(name)
    x = np.random.default_rng(0).standard_normal((3, 4))
    y = op.forward(np, x, **op.bind_attrs({}))
    p = y if name == "softmax" else np.exp(y)
    np.testing.assert_allclose(p.sum(axis=-1), np.ones(3), rtol=1e-12)
    assert not np.allclose(p.sum(axis=0), 1.0)


def test_cross_entropy_gradient_with_a_free_class_count_is_dyngraphs():
    """Logits declared (None, None): the class count is known only when the graph runs, and the
    rule builds its one-hot from the logits' shape instead of a number."""
    with sg.Graph():
        logits = sg.placeholder((None, None), dtype="float64")
        labels = sg.placeholder((None,), dtype="int64")
        loss = sg.softmax_cross_entropy(logits, labels)
        grad, = sg.gradients(loss, [logits])
    fn = sg.compile([loss, grad], inputs=[logits, labels], optimize=False)
    x, y = np.random.default_rng(1).standard_normal((3, 5)), np.array([0, 4, 2])
    value, g = fn(x, y)
    xt = dg.tensor(x, requires_grad=True)
    lt = dg.softmax_cross_entropy(xt, dg.tensor(y))
    lt.backward()
    assert np.asarray(value).tobytes() == lt.detach().numpy().tobytes()
    assert g.tobytes() == xt.grad.numpy().tobytes()


@pytest.mark.parametrize("n, m", [(2, 3), (3, 2)])
def test_cross_entropy_refuses_batch_sizes_that_differ_either_way(n, m):
    from shared_ops import ShapeError, Spec

    with pytest.raises(ShapeError, match="disagree on the batch size"):
        so.get_op("softmax_cross_entropy").infer(Spec((n, 5), "float32"), Spec((m,), "int64"))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_default_axis_is_the_last_on_three_dimensions_too(name):
    """On a 2-D input axis 1 is the last one; on 3-D only -1 is."""
    op = so.get_op(name)
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    y = op.forward(np, x, **op.bind_attrs({}))
    p = y if name == "softmax" else np.exp(y)
    np.testing.assert_allclose(p.sum(axis=-1), np.ones((2, 3)), rtol=1e-12)


def test_conv2d_with_a_kernel_as_tall_as_the_input_gives_one_row():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 5))
    w = np.random.default_rng(3).standard_normal((4, 2, 3, 2))
    assert so.get_op("conv2d").infer(so.Spec(x.shape, "float64"), so.Spec(w.shape, "float64"),
                                     **so.get_op("conv2d").bind_attrs({})).shape == (1, 4, 1, 4)
    got = dg.apply_op("conv2d", dg.tensor(x), dg.tensor(w)).numpy()
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    with pytest.raises(so.ShapeError, match="is larger than the padded input"):
        so.get_op("conv2d").infer(so.Spec((1, 2, 2, 5), "float64"), so.Spec(w.shape, "float64"),
                                  **so.get_op("conv2d").bind_attrs({}))
