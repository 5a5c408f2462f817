"""Semantics the contract promises: tie and kink rules, -0.0 in add_n, deterministic scatter,
numerical stability, save flags, and the fusion helper's scalar expressions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import shared_ops as so
from shared_ops.testing import example_inputs, run_vjp

ARRAY = so.array_ops()


def grads(name, *inputs, **attrs):
    out = so.get_op(name).forward(np, *inputs, **so.get_op(name).bind_attrs(attrs))
    return run_vjp(name, inputs, attrs, np.ones(np.shape(out)))[1]


# --------------------------------------------------------------------------- kinks and ties


def test_max_min_split_the_gradient_equally_among_ties():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    (g,) = grads("max", x, axis=(1,))
    np.testing.assert_array_equal(g, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    (g,) = grads("min", x)  # full reduction: the one minimum takes all
    np.testing.assert_array_equal(g, [[1, 0, 0], [0, 0, 0]])
    (g,) = grads("max", x, keepdims=True)
    np.testing.assert_array_equal(g, [[0, 0.5, 0.5], [0, 0, 0]])


def test_maximum_minimum_split_half_half_at_ties():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 5.0, 0.0])
    ga, gb = grads("maximum", a, b)
    np.testing.assert_array_equal(ga, [0.5, 0, 1])
    np.testing.assert_array_equal(gb, [0.5, 1, 0])
    ga, gb = grads("minimum", a, b)
    np.testing.assert_array_equal(ga, [0.5, 1, 0])
    np.testing.assert_array_equal(gb, [0.5, 0, 1])


def test_kinks_follow_pytorch():
    x = np.array([-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(grads("relu", x)[0], [0, 0, 1])  # relu'(0) = 0
    np.testing.assert_array_equal(grads("abs", x)[0], [-1, 0, 1])  # abs'(0) = sign(0) = 0
    # clip passes the gradient at both bounds (inclusive, as torch.clamp)
    np.testing.assert_array_equal(grads("clip", np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), min=-1.0, max=1.0)[0], [0, 1, 1, 1, 0])
    assert grads("pow_scalar", np.array([0.0, 2.0]), exponent=0.0) == (None,)
    with np.errstate(divide="ignore", invalid="ignore"):  # masked afterwards, as PyTorch does
        ga, gb = grads("pow", np.array([0.0, 0.0]), np.array([2.0, 0.0]))
    np.testing.assert_array_equal(ga, [0.0, 0.0])
    np.testing.assert_array_equal(gb, [0.0, 0.0])  # a == 0, b >= 0: zero, not nan (PyTorch)


@pytest.mark.torch
def test_ties_and_kinks_match_pytorch():
    torch = pytest.importorskip("torch")
    x = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype=torch.float64, requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_array_equal(grads("max", x.detach().numpy(), axis=(1,))[0], x.grad.numpy())
    z = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64, requires_grad=True)
    for name, fn in (("relu", torch.relu), ("abs", torch.abs)):
        (tg,) = torch.autograd.grad(fn(z).sum(), z)
        np.testing.assert_array_equal(grads(name, z.detach().numpy())[0], tg.numpy())


# --------------------------------------------------------------------------- accumulation and scatter


def test_add_n_keeps_negative_zero_and_folds_left_in_order():
    m = np.array([-0.0, -0.0])
    out = ARRAY.add_n(m, m, m)
    assert np.signbit(out).all()  # seeded with the first term, never with +0.0
    a, b, c = np.float32(1e8), np.float32(-1e8), np.float32(1.0)
    assert ARRAY.add_n(np.array([a]), np.array([b]), np.array([c]))[0] == np.float32(1.0)  # (a + b) + c
    assert ARRAY.add_n(np.array([a]), np.array([c]), np.array([b]))[0] == np.float32(0.0)  # (a + c) + b


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_scatter_is_deterministic_and_sums_duplicates(backend):
    b = so.get_backend(backend)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 7, 500)
    g = (rng.standard_normal((500, 3)) * 10.0 ** rng.integers(-6, 6, (500, 1))).astype(np.float32)
    op = so.get_op("index_scatter")
    run = lambda: b.to_numpy(op.forward(b.xp, b.asarray(g), b.asarray(idx), index=(("a",),), shape=(7, 3)))  # noqa: E731
    first, second = run(), run()
    assert first.tobytes() == second.tobytes()
    expected = np.zeros((7, 3), np.float32)
    np.add.at(expected, idx, g)  # sequential in index order
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-3)
    if backend == "numpy":
        assert first.tobytes() == expected.tobytes()


def test_repeated_indices_accumulate_in_the_gradient():
    x = np.arange(4.0)
    (g, _) = run_vjp("getitem", (x, np.array([1, 1, 3, 1])), {"index": (("a",),)}, np.ones(4))[1]
    np.testing.assert_array_equal(g, [0, 3, 0, 1])


# --------------------------------------------------------------------------- stability


def test_stable_at_logits_of_1e4():
    x = np.array([[1e4, 1e4, 0.0], [-1e4, 1e4, 1e4 - 1.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        lse = ARRAY.logsumexp(x, axis=(1,))
        np.testing.assert_allclose(lse, [1e4 + math.log(2.0), 1e4 + math.log1p(math.exp(-1.0))], rtol=1e-15)
        sm = ARRAY.softmax(x, axis=1)
        np.testing.assert_allclose(sm[0], [0.5, 0.5, 0.0], atol=1e-300)
        lsm = ARRAY.log_softmax(x, axis=1)
        assert np.isfinite(lsm[:, :2]).all() and lsm[0, 2] == -1e4 - math.log(2.0)
        loss = ARRAY.softmax_cross_entropy(x, np.array([2, 0]))
        np.testing.assert_allclose(loss, (1e4 + math.log(2.0) + 2e4 + math.log1p(math.exp(-1.0))) / 2, rtol=1e-15)
        np.testing.assert_array_equal(ARRAY.sigmoid(np.array([-1e4, 1e4])), [0.0, 1.0])
        (gl, _) = run_vjp("softmax_cross_entropy", (x, np.array([2, 0])), {}, np.float64(1.0))[1]
        assert np.isfinite(gl).all()
    with np.errstate(divide="ignore"):
        assert ARRAY.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf  # no nan from inf - inf


# --------------------------------------------------------------------------- save flags, fusion


def test_save_flags_are_minimal():
    for name in ("tanh", "exp", "sigmoid", "sqrt", "relu", "softmax", "log_softmax"):
        op = so.get_op(name)
        assert op.save_output and op.save_inputs is False, name
    for name in ("add", "sub", "neg", "add_n", "sum", "reshape", "transpose", "broadcast_to", "sum_to"):
        op = so.get_op(name)
        assert op.save_inputs is False and not op.save_output, name
    assert 0 not in so.get_op("getitem").save_inputs  # only the index arrays are kept
    assert so.get_op("where").save_inputs == (0,)


def test_scalar_expressions_agree_with_the_kernels():
    """The fusion helper's scalar expression, evaluated per element, equals the kernel."""
    checked = 0
    for op in so.all_ops():
        if op.scalar_expr is None:
            continue
        assert op.elementwise, op.name
        for inputs, attrs in example_inputs(op, 3, "float64"):
            names = [f"a{i}" for i in range(len(inputs))]
            expr = op.scalar_expr(*names, **attrs)
            out = np.asarray(op.forward(np, *inputs, **op.bind_attrs(attrs)))
            cols = np.broadcast_arrays(*inputs, out)
            for k, values in enumerate(zip(*(c.reshape(-1) for c in cols[:-1]))):
                env = {n: v.item() for n, v in zip(names, values)}
                got = eval(expr, {"math": math, "np": np}, env)  # noqa: S307
                assert got == pytest.approx(cols[-1].reshape(-1)[k].item(), rel=1e-12, abs=1e-300), (op.name, expr)
        checked += 1
    assert checked >= 25


def test_free_dimensions_resolve_at_run_time():
    x = np.arange(12.0).reshape(3, 4)
    # a None the surface resolved from -1 (no `like`), and a None taken from `like`
    assert ARRAY.reshape(x, shape=(None,)).shape == (12,)
    assert ARRAY.reshape(x, np.ones((6, 2)), shape=(None, 2)).shape == (6, 2)
    assert ARRAY.broadcast_to(np.ones((1, 4)), x, shape=(None, 4)).shape == (3, 4)
    g = ARRAY.index_scatter(np.ones(2), np.array([0, 0]), x, index=(("a",), ("i", 1)), shape=(None, 4))
    np.testing.assert_array_equal(g[:, 1], [2, 0, 0])
    assert ARRAY.conv2d_grad_input(np.ones((2, 1, 2, 3)), np.ones((1, 1, 2, 2)), np.ones((2, 1, 3, 4)), shape=(None, 1, 3, 4)).shape == (2, 1, 3, 4)
