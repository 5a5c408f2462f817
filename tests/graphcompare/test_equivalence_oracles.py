"""The oracles: central differences (element by element and by projection) and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from graphcompare import _runners as R
from graphcompare.equivalence import subject_of
from graphcompare.oracles import check_gradients, numerical_gradient, program_loss, projection_check, torch_reference
from graphcompare.strategies import programs


def cubic(x, y):
    return float(np.sum(x ** 3) + np.sum(x[:, None] * y))


X = np.array([0.5, -1.0, 2.0])
Y = np.array([[1.5, -0.25], [0.75, 2.0], [-1.0, 0.5]])
GRADS = [3 * X ** 2 + Y.sum(axis=1), np.broadcast_to(X[:, None], Y.shape).copy()]


def test_numerical_gradient_of_a_known_function():
    for got, want in zip(numerical_gradient(cubic, [X, Y]), GRADS):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_check_gradients_names_the_wrong_element():
    check_gradients(cubic, [X, Y], GRADS)
    wrong = [GRADS[0].copy(), GRADS[1]]
    wrong[0][2] = -wrong[0][2]
    with pytest.raises(AssertionError, match=r"input 0 element \(2,\)"):
        check_gradients(cubic, [X, Y], wrong)


def test_projection_check_for_large_inputs():
    rng = np.random.default_rng(1)
    big = rng.normal(size=(40, 30))
    f = lambda a: float(np.sum(np.tanh(a)))  # noqa: E731
    g = 1 - np.tanh(big) ** 2
    check_gradients(f, [big], [g])  # 1200 elements: by projection
    with pytest.raises(AssertionError, match="direction 0"):
        projection_check(f, [big], [g * 1.001])


@settings(max_examples=15, suppress_health_check=list(HealthCheck))
@given(programs(max_steps=5))
def test_elementwise_differences_agree_with_the_float64_reference(prog):
    s = subject_of(prog)
    ref = R.run_dyngraph(s.model64, s.X64, s.W64)
    assume(all(np.all(np.isfinite(r)) for r in ref if r is not None))
    from graphcompare.equivalence import _guard

    assume(not _guard(prog, s.X64))
    assume(sum(a.size for a in s.X64) <= 40)
    check_gradients(program_loss(prog), s.X64, ref[len(ref) - len(s.X):], rtol=1e-5)


@settings(max_examples=15, suppress_health_check=list(HealthCheck))
@given(programs(max_steps=6))
def test_torch_translation_agrees_with_dyngraph_in_float64(prog):
    pytest.importorskip("torch")
    from graphcompare.equivalence import _guard

    s = subject_of(prog)
    assume(not _guard(prog, s.X64))  # at a kink PyTorch's choice of subgradient may differ
    ref = R.run_dyngraph(s.model64, s.X64, s.W64)
    got = torch_reference(prog)
    for name, a, r in zip(s.names, got, ref):
        if r is None:
            assert a is None or not np.any(a), name
        else:
            np.testing.assert_allclose(a, r, rtol=1e-9, atol=1e-12 * (1 + np.max(np.abs(r))), err_msg=name)
