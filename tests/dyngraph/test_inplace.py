"""In-place ops, the version counter and ``out=``."""

import numpy as np
import pytest

import dyngraph as dg


def test_inplace_ops_bump_the_version():
    t = dg.zeros(3)
    assert t._version == 0
    t.add_(1).mul_(3).sub_(1).div_(2)
    np.testing.assert_array_equal(t.numpy(), [1.0, 1.0, 1.0])
    assert t._version == 4
    t.zero_()
    t.fill_(2.5)
    t.clamp_(0.0, 2.0)
    np.testing.assert_array_equal(t.numpy(), [2.0, 2.0, 2.0])
    t += 1
    t -= 0.5
    t *= 2
    t /= 5
    np.testing.assert_allclose(t.numpy(), [1.0, 1.0, 1.0])
    assert t._version == 11


def test_random_fills_are_seeded():
    dg.manual_seed(3)
    a = dg.empty(4).uniform_(-1, 1)
    b = dg.empty(4).normal_(2.0, 0.5)
    dg.manual_seed(3)
    np.testing.assert_array_equal(dg.empty(4).uniform_(-1, 1).numpy(), a.numpy())
    np.testing.assert_array_equal(dg.empty(4).normal_(2.0, 0.5).numpy(), b.numpy())
    assert (a.numpy() >= -1).all() and (a.numpy() < 1).all()


def test_sgd_update_under_no_grad_keeps_the_leaf():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with dg.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.numpy(force=True), [0.8, 1.6])
    assert w.is_leaf and w.requires_grad and w._version == 1


def test_leaf_requiring_grad_refuses_inplace_outside_no_grad():
    w = dg.tensor([1.0], requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.uniform_(), lambda: w.__setitem__(0, 1.0)):
        with pytest.raises(dg.InplaceError, match="a leaf Variable that requires grad is being used in an in-place operation"):
            op()


def test_inplace_on_non_leaf_is_recorded():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    a.mul_(3)
    assert a.grad_fn.name() == "MulBackward0" and not a.is_leaf
    a.add_(x)  # the other operand requires grad too
    a.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0])
    np.testing.assert_array_equal(a.detach().numpy(), [7.0, 14.0])


def test_inplace_with_grad_operand_on_plain_tensor():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    a = dg.ones(2)
    a.mul_(x)
    assert a.requires_grad and a.grad_fn.name() == "MulBackward0"
    a.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_modifying_a_saved_value_is_detected_with_the_node_name():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = (h * h).sum()
    h.add_(1)
    with pytest.raises(RuntimeError) as info:
        y.backward()
    msg = str(info.value)
    assert "modified by an inplace operation" in msg and "MulBackward0" in msg
    assert "is at version 1; expected version 0 instead" in msg


def test_detach_shares_data_and_version():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # saves its output
    d = y.detach()
    d.add_(1)  # changes y's storage
    assert y._version == 1
    np.testing.assert_allclose(y.detach().numpy(), np.exp([1.0, 2.0]) + 1, rtol=1e-6)
    with pytest.raises(RuntimeError, match="ExpBackward0"):
        y.sum().backward()


def test_views_share_the_version_counter():
    base = dg.zeros(2, 3)
    v = base.reshape(6)
    v.add_(1)
    assert base._version == 1
    np.testing.assert_array_equal(base.numpy(), np.ones((2, 3)))
    x = dg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = x * 1
    y = (h * h).sum()
    with dg.no_grad():
        h.t().mul_(2)  # through a view
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_setitem_and_copy():
    t = dg.zeros(2, 3)
    t[0, 1] = 5.0
    t[1] = dg.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(t.numpy(), [[0, 5, 0], [1, 2, 3]])
    t.copy_(dg.ones(3))
    np.testing.assert_array_equal(t.numpy(), np.ones((2, 3)))
    assert t._version == 3


def test_inplace_cannot_change_shape_or_make_int_float():
    t = dg.zeros(3)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        t.add_(dg.ones(2, 3))
    i = dg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.mul_(1.5)


def test_out_argument():
    x = dg.tensor([1.0, 2.0])
    y = dg.tensor([3.0, 4.0])
    out = dg.zeros(2)
    r = dg.add(x, y, out=out)
    assert r is out and out._version == 1
    np.testing.assert_array_equal(out.numpy(), [4.0, 6.0])
    dg.mul(x, y, out=out)
    np.testing.assert_array_equal(out.numpy(), [3.0, 8.0])
    big = dg.zeros(1)
    dg.sub(x, y, out=big)  # resized, as PyTorch does
    np.testing.assert_array_equal(big.numpy(), [-2.0, -2.0])
    np.testing.assert_array_equal(dg.div(y, x).numpy(), [3.0, 2.0])
