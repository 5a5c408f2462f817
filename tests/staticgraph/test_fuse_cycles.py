"""Fusion never closes a cycle: a node joins a region only if none of its other inputs
depends on that region through a path that leaves it, through a node outside, through another
region, or through the region's own reduction (its value exists only once the loop has run).
A cycle makes the pass leave the whole program unfused ("the program has a cycle")."""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg

ONLY = {"prune": False, "cse": False, "fold": False, "simplify": False, "fuse": True, "memory": False}


@pytest.mark.parametrize("through", [False, True], ids=["direct", "through-a-scalar-op"])
def test_a_node_reading_its_regions_reduction_stays_out_of_that_region(through):
    """``n = b + b.sum()``: the sum is ready only after the loop that computes ``b``, so ``n``
    starts a region of its own. In ``b``'s region it would read that region's own result, a
    cycle, and the pass would leave the whole program unfused."""
    with sg.Graph():
        x = sg.placeholder((3, 3), dtype="float64", name="x")
        W = sg.placeholder((3, 3), dtype="float64", name="W")
        b = (x @ W).exp() * 2.0
        s = b.sum()
        if through:
            s = (s * 0.5).exp()  # 0-d ops between the sum and its reader
        m = b @ W  # a reader outside the region
        n = b + s
        outs = [n.tanh() * 3.0, m]
    fn = sg.compile(outs, inputs=[x, W], optimize=ONLY)
    report = fn.report()
    assert "cycle" not in report, report
    labels = sorted(k.label for k in fn.regions())
    assert labels[0] == "2 ops: exp,mul+sum -> 2 outs" and "3 ops: add,tanh,mul" in labels, (labels, report)
    xv, wv = np.eye(3) * 0.5 + 0.1, np.full((3, 3), 0.2)
    ref = sg.compile(outs, inputs=[x, W], optimize=False)(xv, wv)
    for a, r in zip(fn(xv, wv), ref):
        np.testing.assert_allclose(a, r, rtol=1e-13)


def _regions(outs, inputs):
    fn = sg.compile(outs, inputs=inputs, optimize=ONLY)
    report = fn.report()
    assert "cycle" not in report, report
    return fn, sorted(k.label for k in fn.regions())


def test_a_node_reading_a_region_that_reads_the_first_stays_out():
    """``c`` (another shape) reads ``b``'s region, and ``n`` reads ``b`` and ``c``'s sum:
    in ``b``'s region, ``n`` would wait for ``c``, which waits for ``b``'s region."""
    with sg.Graph():
        x = sg.placeholder((3, 3), dtype="float64", name="x")
        y = sg.placeholder((2, 3, 3), dtype="float64", name="y")
        b = x.exp() * 2.0
        c = (b + y).sum(axis=0)
        n = (b + c).tanh()
    fn, labels = _regions([n], [x, y])
    assert labels == ["1 ops: add+sum", "2 ops: add,tanh", "2 ops: exp,mul"], labels
    xv, yv = np.eye(3) * 0.5 + 0.1, np.linspace(-1.0, 1.0, 18).reshape(2, 3, 3)
    np.testing.assert_allclose(fn(xv, yv)[0], sg.compile([n], inputs=[x, y], optimize=False)(xv, yv)[0], rtol=1e-13)
