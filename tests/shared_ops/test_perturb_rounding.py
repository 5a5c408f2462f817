"""shared_ops.perturb_rounding: Monte Carlo arithmetic over every rounding kernel."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import shared_ops as so


def _cancelling_grad():
    """d/dx of sum(exp(x) - 1.0000001 * exp(x)): terms of size e**x cancel to 1e-7 of them."""
    x = dg.tensor(np.linspace(1.0, 2.0, 5), requires_grad=True)
    (x.exp() - x.exp() * 1.0000001).sum().backward()
    return x.grad.numpy()


def test_perturbs_every_rounding_kernel_reproducibly_and_restores_them():
    exact = _cancelling_grad()
    with so.perturb_rounding(rel=2.0 ** -40, seed=3) as p:
        a = _cancelling_grad()
    with so.perturb_rounding(rel=2.0 ** -40, seed=3):
        b = _cancelling_grad()
    with so.perturb_rounding(rel=2.0 ** -40, seed=4):
        c = _cancelling_grad()
    assert p.results > 0
    assert a.tobytes() == b.tobytes()          # the same seed perturbs the same way
    assert a.tobytes() != c.tobytes() and a.tobytes() != exact.tobytes()
    # first order: the spread is rel times the size of the cancelling terms (e**x ~ 3..7),
    # far larger than rel times the result (~5e-7)
    spread = np.max(np.abs(a - exact)) / 2.0 ** -40
    assert 0.1 < spread < 100
    assert all(op.kernel is op.forward for op in so.all_ops())  # swapped back
    assert _cancelling_grad().tobytes() == exact.tobytes()


def test_exact_ops_are_not_perturbed():
    ops = so.array_ops()
    x = np.array([[3.0, -1.0], [2.0, 5.0]])
    with so.perturb_rounding(rel=1e-3, seed=0) as p:
        assert ops.max(x).item() == 5.0                      # a selection stays exact,
        assert np.array_equal(ops.transpose(x), x.T)         # and so does a move,
        assert np.array_equal(ops.relu(x), np.maximum(x, 0))
        assert p.results == 0
        s = ops.add(x, x)                                    # but a sum rounds
    assert p.results == 1 and not np.array_equal(s, 2 * x)
    assert np.allclose(s, 2 * x, rtol=1e-3, atol=0)
    exact = sorted(op.name for op in so.all_ops() if op.exact)
    assert {"max", "min", "where", "reshape", "getitem", "relu", "abs", "neg"} <= set(exact)
    assert not {"add", "mul", "sum", "exp", "matmul", "astype", "sum_to"} & set(exact)


def test_float32_scalars_and_booleans():
    ops = so.array_ops()
    with so.perturb_rounding(rel=2.0 ** -10, seed=1):
        s = ops.sum(np.ones(4, np.float32))        # NumPy returns a float32 scalar here
        b = ops.lt(np.ones(3), np.zeros(3))
    assert np.asarray(s).dtype == np.float32 and s != 4.0 and abs(s - 4.0) <= 4 * 2.0 ** -10
    assert b.dtype == np.bool_ and not b.any()


def test_composes_with_instrumentation():
    ops = so.array_ops()
    with so.instrument() as stats, so.perturb_rounding(rel=1e-6, seed=0) as p:
        ops.exp(np.ones(3))
    assert stats.calls == 1 and p.results == 1
    assert all(op.kernel is op.forward for op in so.all_ops())


def test_array_api_strict_backend():
    import array_api_strict as strict
    with so.use_backend("array_api_strict"):
        t = dg.tensor([1.0, 2.0], requires_grad=True)
        with so.perturb_rounding(rel=1e-3, seed=0):
            y = (t * t).sum()
        y.backward()
    assert isinstance(y.detach()._data, type(strict.asarray(1.0)))
    assert abs(float(y.item()) - 5.0) < 5 * 2e-3 and float(y.item()) != 5.0


@pytest.mark.parametrize("rel", [0.0, -1e-6, 0.5, "1e-6", True])
def test_bad_rel_is_a_clear_error(rel):
    with pytest.raises(ValueError, match=r"perturb_rounding: rel must be a float in \(0, 0.01\]"):
        with so.perturb_rounding(rel=rel):
            pass
    assert all(op.kernel is op.forward for op in so.all_ops())


@pytest.mark.parametrize("ulps", [0, -3, 1e9, "16", None])
def test_bad_ulps_is_a_clear_error(ulps):
    with pytest.raises(ValueError, match=r"perturb_rounding: ulps must be a number in \(0, 65536\]"):
        with so.perturb_rounding(ulps):
            pass
    assert all(op.kernel is op.forward for op in so.all_ops())


def test_ulps_perturb_each_dtype_at_its_own_epsilon():
    ops = so.array_ops()
    with so.perturb_rounding(16, seed=2):
        a32 = ops.add(np.ones(1000, np.float32), np.float32(1.0))
        a64 = ops.add(np.ones(1000), 1.0)
    d32 = np.abs(a32.astype(np.float64) - 2.0) / 2.0
    d64 = np.abs(a64 - 2.0) / 2.0
    eps32, eps64 = float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps)
    # uniform in [-16 eps, 16 eps] of each dtype (plus the rounding of the product)
    assert 8 * eps32 < d32.max() <= 17 * eps32 and 8 * eps64 < d64.max() <= 17 * eps64


def test_blocks_do_not_nest():
    with so.perturb_rounding():
        with pytest.raises(RuntimeError, match="do not nest"):
            with so.perturb_rounding(rel=1e-6):
                pass
        assert so.get_op("add").kernel is not so.get_op("add").forward  # the outer block is intact
    assert so.get_op("add").kernel is so.get_op("add").forward
