"""Disagreements the long campaigns found, each kept as a regression test (the campaign's chunk
seed and program are in the test's docstring)."""

from __future__ import annotations

import numpy as np

import staticgraph as sg
from graphcompare import controlflow as CF
from graphcompare.equivalence import check_model


def test_cse_keeps_a_scalar_constant_apart_from_a_one_element_one():
    """Chunk 17000057: ``x0.gather(-1, np.array([0]))`` beside a while loop whose counter starts
    at the scalar constant 0; cse merged the two constants (the key's shape was taken after
    ``np.ascontiguousarray``, which makes a 0-d array 1-d), so gather read a 0-d index and
    returned shape () for (1,)."""
    x0 = np.array([-1.0804093856458006, 1.1080448213823653])
    with sg.Graph():
        x = sg.placeholder((2,), "float64")
        zero = sg.constant(np.array(0, dtype=np.int64))
        g = x.gather(-1, np.array([0]))
        fn = sg.compile([g, zero], inputs=[x], optimize=["cse"])
    got, z = fn(x0)
    assert got.shape == (1,) and got.tobytes() == x0[[0]].tobytes() and np.shape(z) == ()

    def model(F, a):
        return [CF.while_model(F, a, a, 2), a.gather(-1, np.array([0]))]

    res = check_model(model, [x0], ways=("static", "pass:cse", "optimized"))
    assert res.ok, res.report()
