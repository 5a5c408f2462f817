"""The public testing helpers: their documented examples run, and they catch what they claim."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import shared_ops.examples as E
import shared_ops.testing as T


def test_docstring_examples_run():
    saved = dict(T.EXAMPLES)
    try:
        result = doctest.testmod(T, optionflags=doctest.ELLIPSIS)
        examples = doctest.testmod(E, optionflags=doctest.ELLIPSIS)
    finally:
        T.EXAMPLES.clear()
        T.EXAMPLES.update(saved)
    assert result.attempted >= 10 and result.failed == 0
    assert examples.attempted >= 3 and examples.failed == 0


def test_numerical_gradient_is_float64_and_accurate():
    x = np.array([0.3, -1.1], dtype=np.float32)
    (g,) = T.numerical_gradient(lambda a: np.sum(np.sin(a)), [x])
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.cos(x.astype(np.float64)), rtol=1e-8)


def test_numerical_vjp_respects_wrt_and_skips_integers():
    a, labels = np.array([1.0, 2.0]), np.array([0, 1])
    grads = T.numerical_vjp(lambda x, l: x * l, [a, labels], np.ones(2))
    assert grads[1] is None
    np.testing.assert_allclose(grads[0], [0.0, 1.0], atol=1e-9)


def test_check_infer_with_free_dims():
    assert T.check_infer("add", (np.ones((2, 3)), np.ones(3)), free=((0, 0),)).shape == (None, 3)


def test_check_vjp_refuses_non_differentiable_ops():
    with pytest.raises(AssertionError, match="non-differentiable"):
        T.check_vjp("eq", (np.ones(2), np.ones(2)))


def test_finite_difference_examples_run_and_richardson_is_more_accurate():
    import shared_ops.numerical as N

    result = doctest.testmod(N)
    assert result.attempted >= 5 and result.failed == 0
    phi = lambda t: np.exp(1.0 + t)  # noqa: E731
    plain, extrapolated = N.central_difference(phi, 1e-2), N.central_difference(phi, 1e-2, richardson=True)
    assert abs(extrapolated - np.e) < abs(plain - np.e) / 100


def test_check_directional_and_check_gradient_catch_a_wrong_gradient():
    x = np.linspace(-1.0, 1.0, 100)
    f = lambda a: float(np.sum(np.sin(a)))  # noqa: E731
    T.check_gradient(f, [x], [np.cos(x)])  # 100 elements: along random directions
    T.check_gradient(f, [x[:5]], [np.cos(x[:5])])  # element by element
    with pytest.raises(AssertionError, match="along random direction 0"):
        T.check_directional(f, [x], [np.cos(x) * 1.001])
    with pytest.raises(AssertionError, match=r"input 0 element \(4,\)"):
        T.check_gradient(f, [x[:5]], [np.cos(x[:5]) * np.array([1, 1, 1, 1, 1.01])])
