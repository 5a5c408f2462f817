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


def test_torch_check_allows_cancellation_to_differ_by_an_ulp_of_the_terms():
    """From the 10,000-program campaign (chunk seed 2007): a log_softmax over rows that are all
    equal, so the gradient of x1 is exactly 0 in real arithmetic and ~1e-16 of rounding noise
    in each library, which add the cancelling terms in different orders. Relative to the
    result, the two differ by 100%; relative to the terms, by an ULP."""
    import torch

    from graphcompare.equivalence import Subject, check_subject

    x0 = np.array([-1.3465310335159302, -0.6856160759925842, -0.2737523317337036, -0.22974973917007446,
                   -1.6638864278793335, 1.842960000038147, 1.2919443845748901, 1.5130938291549683,
                   -1.1785249710083008, 1.8831303119659424, 1.6685364246368408, -0.20492930710315704,
                   -1.7433277368545532, 0.2604540288448334, 1.5133798122406006, 0.5161800980567932,
                   -1.753722071647644, 1.1746301651000977, 0.7394813895225525, 0.9608370065689087]).reshape(5, 4)
    x1 = np.array([[1.8015297651290894, -1.2028484344482422, -1.6416345834732056, -1.9217249155044556]])
    w = np.array([0.8218693733215332, 1.0943000316619873, 0.8379112482070923, 0.8916190266609192,
                  1.3902744054794312, 0.7271575927734375, 1.1231871843338013, 0.5840153694152832,
                  1.3326441049575806, 1.2870982885360718, 0.7393694519996643, 1.3764842748641968,
                  0.5585680603981018, 0.8361170887947083, 0.6502794623374939, 0.9503393769264221,
                  1.2963242530822754, 0.7306421995162964, 0.552021324634552, 0.9045518636703491]).reshape(5, 4)

    def model(F, x0, x1):
        return [F.where(x1 == x0, x0, x1).log_softmax(axis=0)]

    def model_torch(F, x0, x1):
        return [torch.where(x1 == x0, x0, x1).log_softmax(dim=0)]

    X, W = [x0, x1], [w]
    names = ["output v0", "grad x0", "grad x1"]
    ref = R.run_dyngraph(model, X, W)
    got = R.run_torch(model_torch, X, W)
    assert np.max(np.abs(ref[2])) < 1e-14 and np.max(np.abs(got[2] - ref[2])) > 0
    with pytest.raises(AssertionError, match="torch: grad x1 differs from ours"):
        R.check_reference(got, ref, names, "torch", ulps=0)  # relative to the result alone: too tight
    err64 = R.rounding_error(model, X, W, ref)
    R.check_reference(got, ref, names, "torch", rounding=err64)
    with pytest.raises(AssertionError, match="torch: grad x1 differs from ours"):
        R.check_reference(got[:2] + [got[2] + 1e-12], ref, names, "torch", rounding=err64)
    s = Subject(model, model, X, W, names, model_torch=model_torch)
    res = check_subject(s, ways=("torch",))
    assert res.ok, res.report()
