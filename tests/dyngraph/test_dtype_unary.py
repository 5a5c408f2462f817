"""PyTorch's rule for a floating-point function of an integer or bool tensor: the result has the
default float dtype (float32), not NumPy's float64. Checked against torch for every such method
and function, on int64, int8 and bool inputs: the dtype and the values."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg

torch = pytest.importorskip("torch")

FLOATING_UNARY = ["exp", "log", "tanh", "sigmoid", "sqrt", "sin", "cos", "erf", "log1p", "expm1", "rsqrt"]
SOURCES = {"int64": np.array([1, 2, 3], dtype=np.int64), "int8": np.array([1, 2, 3], dtype=np.int8),
           "bool": np.array([True, False, True])}


@pytest.mark.parametrize("src", sorted(SOURCES))
@pytest.mark.parametrize("name", FLOATING_UNARY)
@pytest.mark.parametrize("form", ["method", "function"])
def test_integer_and_bool_inputs_give_float32_as_pytorch(name, src, form):
    a = SOURCES[src]
    if form == "method":
        ours, theirs = getattr(dg.tensor(a), name)(), getattr(torch.tensor(a), name)()
    else:
        ours, theirs = getattr(dg, name)(dg.tensor(a)), getattr(torch, name)(torch.tensor(a))
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1] == "float32"
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)
