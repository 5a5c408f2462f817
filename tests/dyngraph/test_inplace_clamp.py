"""``clamp`` / ``clamp_`` with tensor bounds, against PyTorch 2.13 (float64 values and
gradients to ``x`` and to both bounds): broadcasting, ties at a bound, ``min > max``, one bound
only, promotion, in place on a tensor with history, and the errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import dyngraph as dg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

SHAPES = {  # x, lo, hi: broadcast against each other
    "same": ((3, 4), (3, 4), (3, 4)),
    "broadcast": ((3, 4), (4,), (3, 1)),
    "0-d bounds": ((3, 4), (), ()),
    "bounds wider": ((4,), (3, 4), (1, 4)),
}


def _data(rng, shape):
    # a grid of quarters: ties between x and a bound, and min == max, happen often
    return (rng.integers(-4, 5, shape) / 4.0).astype(np.float64)


def _run(m, arrays, which, grads, method="clamp", expand=False):
    x, lo, hi = (m.tensor(a, dtype=m.float64, requires_grad=g) for a, g in zip(arrays, grads))
    args = (lo if "lo" in which else None, hi if "hi" in which else None)
    if method == "clamp_":
        y = (x * 1).clamp_(*args)
    else:
        y = (x.expand(*np.broadcast_shapes(*(a.shape for a in arrays))) if expand else x).clamp(*args)
    (y * m.tensor(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)) + 1)).sum().backward()
    return y, [t.grad for t in (x, lo, hi)]


CASES = [
    pytest.param(shape, which, grads, seed, id=f"{shape}-{'+'.join(which)}-rg{''.join(map(str, map(int, grads)))}-{seed}")
    for shape, which, grads, seed in itertools.product(
        SHAPES, (("lo", "hi"), ("lo",), ("hi",)), ((True, True, True), (True, False, False), (False, True, True)), range(3))
]


@pytest.mark.parametrize("shape,which,grads,seed", CASES)
def test_values_and_gradients_match_pytorch(shape, which, grads, seed):
    rng = np.random.default_rng(seed)
    arrays = [_data(rng, s) for s in SHAPES[shape]]
    try:
        ty, tg = _run(torch, arrays, which, grads)
    except RuntimeError as exc:
        # PyTorch's clamp_backward_min_max writes a broadcast mask in place and fails when the
        # bounds are wider than x: the reference is then x expanded first (the same function)
        assert shape == "bounds wider" and "doesn't match the broadcast shape" in str(exc)
        ty, tg = _run(torch, arrays, which, grads, expand=True)
    dy, dgr = _run(dg, arrays, which, grads)
    assert dy.grad_fn.name() == ty.grad_fn.name() == "ClampBackward0"
    np.testing.assert_array_equal(dy.detach().numpy(), ty.detach().numpy())
    for name, a, b in zip(("x", "min", "max"), tg, dgr):
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=f"{name}.grad")


@pytest.mark.parametrize("which", [("lo", "hi"), ("lo",), ("hi",)])
def test_in_place_on_a_tensor_with_history(which):
    rng = np.random.default_rng(7)
    arrays = [_data(rng, s) for s in SHAPES["broadcast"]]
    ty, tg = _run(torch, arrays, which, (True, True, True), method="clamp_")
    dy, dgr = _run(dg, arrays, which, (True, True, True), method="clamp_")
    assert dy.grad_fn.name() == ty.grad_fn.name()
    np.testing.assert_array_equal(dy.detach().numpy(), ty.detach().numpy())
    for a, b in zip(tg, dgr):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(b.numpy(), a.numpy())


def test_dtypes_are_promoted_as_pytorch_promotes_them():
    for m in (torch, dg):
        assert str(m.tensor([1, 5, 9]).clamp(m.tensor([2.0, 2.0, 2.0])).dtype).endswith("float32")
        assert str(m.tensor([1.0, 5.0]).clamp(m.tensor([2.0], dtype=m.float64)).dtype).endswith("float64")
        assert str(m.tensor([1, 5, 9]).clamp(m.tensor([2, 2, 2]), m.tensor(4)).dtype).endswith("int64")
    assert dg.tensor([1, 5, 9]).clamp(dg.tensor([2, 2, 2]), dg.tensor(4)).tolist() == [2, 4, 4]


def test_bad_bounds_are_refused_with_a_clear_error():
    x = dg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="both be tensors or both numbers"):
        x.clamp(0.5, dg.tensor([1.0, 1.0]))
    with pytest.raises(TypeError):
        torch.tensor([1.0, 2.0]).clamp(0.5, torch.tensor([1.0, 1.0]))  # PyTorch refuses it too
    with pytest.raises(RuntimeError, match="clamp"):
        x.clamp(dg.tensor([0.0, 0.0, 0.0]))  # shapes (2,) and (3,) do not broadcast
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        x.clamp_(dg.ones(3, 2))  # an in-place result cannot grow
    with pytest.raises(Exception, match="at least one of min= and max="):
        x.clamp()


def test_a_bound_changed_in_place_after_the_clamp_is_refused_as_in_pytorch():
    program = """
x = m.tensor([0.1, 0.9], dtype=m.float64, requires_grad=True)
lo = m.tensor([0.5, 0.5], dtype=m.float64)
y = x.clamp(lo)
lo.add_(1)
y.sum().backward()
"""
    for m in (torch, dg):
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            exec(program, {"m": m})  # noqa: S102  (our own program)
