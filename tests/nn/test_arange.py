"""``arange`` in both front ends against ``torch.arange``: PyTorch's signature, length, dtype
rule, values and errors; the op has no gradient and its result is a leaf."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import shared_ops as so
import staticgraph as sg

torch = pytest.importorskip("torch")

CASES = [
    ((5,), {}), ((5.0,), {}), ((1, 4), {}), ((1, 4, 0.5), {}), ((0, 1, 0.1), {}), ((3, 0, -1), {}),
    ((0, 10, 3), {}), ((0, -10, -3), {}), ((2,), {"dtype": "float64"}), ((0.5, 4), {"dtype": "int64"}),
    ((-1.5, 2), {"dtype": "int64"}), ((-1.5, 2), {}), ((True,), {}), ((0, 0), {}), ((0.0, 1.0, 1 / 3), {}),
    ((1, 2.5, 0.5), {"dtype": "float64"}), ((10 ** 8 + 1, 10 ** 8 + 5), {"dtype": "float32"}),
    ((0, 7, 2), {"dtype": "int32"}), ((-2.0, 3.0, 0.7), {"dtype": "float64"}), ((np.int64(3),), {}),
    ((np.float32(3),), {}), ((), {"end": 4}), ((), {"start": 1, "end": 4}),
]


def _sg_value(args, kw):
    with sg.Graph() as g:
        r = sg.arange(*args, **kw)
    return sg.Session(g).run(r)


@pytest.mark.parametrize("args,kw", CASES)
def test_values_length_and_dtype_are_pytorchs(args, kw):
    tkw = {k: getattr(torch, v) if k == "dtype" else v for k, v in kw.items()}
    want = torch.arange(*args, **tkw).numpy()
    for got in (dg.arange(*args, **kw).numpy(), _sg_value(args, kw)):
        assert got.dtype == want.dtype and got.shape == want.shape, (args, kw, got, want)
        if got.dtype.kind == "i" or not got.size:
            assert np.array_equal(got, want)
        else:  # PyTorch's vectorised loop adds k * step to a rounded base: a rounding of the largest value apart
            np.testing.assert_allclose(got, want, rtol=0, atol=2 * np.finfo(got.dtype).eps * np.abs(want).max())


def test_dyadic_float_ranges_are_bitwise_pytorchs():
    for args in [(0.0, 8.0, 0.25), (-3.0, 3.0, 0.5), (4.0, -4.0, -0.125), (100.0,)]:
        for dt in ("float32", "float64"):
            want = torch.arange(*args, dtype=getattr(torch, dt)).numpy()
            assert dg.arange(*args, dtype=dt).numpy().tobytes() == want.tobytes() == _sg_value(args, {"dtype": dt}).tobytes()


ERRORS = [((0, 5, 0), "step must be nonzero"), ((0, 5, 0.0), "step must be nonzero"),
          ((5, 0, 1), "upper bound and lower bound inconsistent with step sign"),
          ((0, 5, -1), "upper bound and lower bound inconsistent with step sign"),
          ((-3.5,), "upper bound and lower bound inconsistent with step sign"),
          ((0, float("inf")), "unsupported range"), ((float("nan"),), "unsupported range")]


@pytest.mark.parametrize("args,message", ERRORS)
def test_pytorchs_errors_with_a_fix(args, message):
    with pytest.raises(RuntimeError, match=message):
        torch.arange(*args)
    with pytest.raises(so.ShapeError, match=message):
        dg.arange(*args)
    with sg.Graph(), pytest.raises(so.ShapeError, match=message):
        sg.arange(*args)


def test_truncated_integer_step_and_bad_arguments():
    # with an integer dtype PyTorch casts the arguments first, so a step of 0.3 becomes 0
    with pytest.raises(ValueError, match="step must be nonzero"):
        torch.arange(0, 1, 0.3, dtype=torch.int64)
    with pytest.raises(so.ShapeError, match="step must be nonzero"):
        dg.arange(0, 1, 0.3, dtype="int64")
    with pytest.raises(so.DTypeError, match="argument 'end' must be a number, not str"):
        dg.arange("a")
    with pytest.raises(so.DTypeError, match="bool"):
        dg.arange(3, dtype="bool")
    with pytest.raises(TypeError, match="'end'"):
        dg.arange()
    with pytest.raises(TypeError):  # dtype is keyword-only, as in PyTorch
        dg.arange(0, 3, 1, "float64")
    with sg.Graph():
        n = sg.placeholder((), "int64")
        with pytest.raises(so.DTypeError, match="known when it is declared"):
            sg.arange(n)


def test_a_leaf_without_gradient_in_both_front_ends():
    op = so.get_op("arange")
    assert not op.differentiable and op.bind_attrs({"end": 3, "dtype": "int64"})["start"] == 0
    r = dg.arange(3.0, requires_grad=True)
    assert r.is_leaf and r.grad_fn is None
    (r * r).sum().backward()
    assert r.grad.tolist() == [0.0, 2.0, 4.0]
    assert dg.arange(dg.tensor(3)).tolist() == [0, 1, 2]  # a 0-d tensor is read as its number
    with pytest.raises(dg.AutogradError, match="floating point"):
        dg.arange(3, requires_grad=True)
    with sg.Graph() as g:
        x = sg.placeholder((4,), "float64")
        y = (x * sg.arange(1.0, 5.0, dtype="float64")).sum()
        (gx,) = sg.gradients(y, [x])
    for optimize in (False, True):
        assert sg.Session(g, optimize=optimize).run(gx, {x: np.zeros(4)}).tolist() == [1.0, 2.0, 3.0, 4.0]
