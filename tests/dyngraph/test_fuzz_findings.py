"""Disagreements with PyTorch 2.13 that the differential fuzzer (``graphcompare.torchfuzz``)
found in its long runs, each replayed here as a regression test (float64, values, gradients,
versions and ``grad_fn`` names compared)."""

import numpy as np
import pytest

import dyngraph as dg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _facts(m, program):
    x = m.tensor([[1.0, 2.0, 3.0]], dtype=m.float64, requires_grad=True)
    y = x * 1
    exec(program, {"m": m, "y": y})  # noqa: S102  (the programs below)
    (y * m.tensor([[1.0, 2.0, 3.0]], dtype=m.float64)).sum().backward()
    return y.grad_fn.name(), y.tolist(), x.grad.tolist(), y._version


# ``x[k] = v`` is PyTorch's copy_to: full slices and ``...`` write into ``x`` itself
# (CopyBackwards / FillBackward3, not CopySlices), a 0-d value of another shape is a fill_
@pytest.mark.parametrize("program", [
    "y[...] = m.tensor(1.0)", "y[...] = 2.0", "y[:] = m.tensor([[1.0, 2.0, 3.0]])", "y[..., :] = 2.0",
    "y[0:1] = 2.0", "y[0:5] = 3.0", "y[:, ::1] = 3.0", "y[:, 0:3] = m.tensor([7.0, 8.0, 9.0])",
    "y[:, 1:] = 2.0", "y[0] = m.tensor([1.0, 2.0, 3.0])", "y[0, 0] = 5.0",
])
def test_setitem_writes_where_pytorch_writes(program):
    assert _facts(dg, program) == _facts(torch, program)


def test_a_view_written_in_place_is_regenerated_as_as_strided():
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        y = x * 1
        v, w = y[1:], y.narrow(0, 0, 2)
        v.sub_(0.5)
        return v.grad_fn.name(), w.grad_fn.name(), y.grad_fn.name()

    assert run(dg) == run(torch) == ("AsStridedBackward0", "AsStridedBackward0", "torch::autograd::CopySlices")
