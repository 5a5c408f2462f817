"""Reductions' paths the op suite's examples never reached (surviving mutants): argmax/argmin
over the flattened input with keepdim, in both front ends, beside PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import shared_ops as so
import staticgraph as sg
from shared_ops import Spec


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("shape", [(2, 3), (3,), (2, 1, 4)], ids=str)
def test_arg_reductions_over_everything_with_keepdim_keep_every_axis_as_one(name, shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(len(shape)).permutation(int(np.prod(shape))).astype(np.float64).reshape(shape)
    want = getattr(torch, name)(torch.tensor(x), dim=None, keepdim=True).numpy()
    assert want.shape == (1,) * len(shape)
    assert so.get_op(name).infer(Spec(shape, "float64"), axis=None, keepdims=True) == Spec(want.shape, "int64")
    got = getattr(dg.tensor(x), name)(dim=None, keepdim=True).numpy()
    assert got.shape == want.shape and got.dtype == np.int64 and np.array_equal(got, want)
    with sg.Graph():
        p = sg.placeholder(shape, "float64")
        y = getattr(p, name)(dim=None, keepdim=True)
        assert tuple(y.shape) == want.shape
        out = sg.Session().run(y, {p: x})
    assert np.asarray(out).shape == want.shape and np.array_equal(out, want)
