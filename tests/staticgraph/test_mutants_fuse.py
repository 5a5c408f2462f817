"""What the fusion tests left unchecked (surviving mutants of ``staticgraph/passes/fuse.py``):
the report's NumPy-tier build time, the region size the docs state, read-only constants typed
ahead for numba, a ``sum_to`` whose target shape is known only at run time, a node whose other input
hangs on a reader of the region. Through
``sg.compile`` and its report, as a user sees them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import staticgraph as sg
from staticgraph.fusion import FusedKernel

# the whole-step tier off: these tests look at fused regions and their own tiers
ONLY = {"prune": False, "cse": False, "fold": False, "simplify": False, "fuse": False, "memory": False,
        "whole_step": False}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "deeper" / "tiers.md"


def _compile(outputs, inputs, **on):
    return sg.compile(outputs, inputs=inputs, optimize={**ONLY, **on})


def _chain(length):
    with sg.Graph():
        x = sg.placeholder((4,), dtype="float64", name="x")
        y = x
        for _ in range(length):
            y = y.tanh()
    return y, x


def test_the_report_gives_the_numpy_tier_build_time_in_milliseconds():
    y, x = _chain(200)  # a long region: its NumPy tier takes a measurable time to build
    fn = _compile([y], [x], fuse=True)
    total_ms = sum(k.build_seconds["numpy"] for k in fn.regions()) * 1e3
    assert total_ms >= 0.1, total_ms  # "0.0 ms" would not tell a unit error apart
    shown = re.search(r"region\(s\): NumPy tier built in ([0-9.]+) ms", fn.report())
    assert shown and shown.group(1) == f"{total_ms:.1f}", fn.report()


def test_a_region_holds_as_many_ops_as_the_docs_say():
    limit = int(re.search(r"A region holds up to (\d+) ops", DOCS.read_text()).group(1))
    for length, sizes in ((limit, [limit]), (limit + 2, [2, limit])):  # longer: split at the limit
        y, x = _chain(length)
        fn = _compile([y], [x], fuse=True)
        assert sorted(len(k.members) for k in fn.regions()) == sizes
        xv = np.linspace(-1.0, 1.0, 4)
        np.testing.assert_allclose(fn(xv)[0], _compile([y], [x])(xv)[0], rtol=1e-13)  # fuse: a tolerance pass


def test_a_read_only_constant_has_its_machine_code_built_ahead():
    """``sg.constant`` freezes its array; numba types a read-only array apart, so the region's
    numba tier is built for it: the first call after the wait runs there, with no detour
    through the NumPy tier and no second compile."""
    c = np.linspace(0.5, 1.5, 16)
    with sg.Graph():
        x = sg.placeholder((16,), dtype="float64", name="x")
        k = sg.constant(c)
        y = (x * k).tanh() + k
    assert not k.value.flags.writeable
    fn = _compile([y], [x], fuse=True)
    (region,) = fn.regions()
    assert isinstance(region, FusedKernel) and True in region.readonly
    assert fn.wait_compiled() and region.tier == "numba"
    xv = np.linspace(-2.0, 2.0, 16)
    out = fn(xv)[0]
    assert region.fallbacks == 0 and region.tier == "numba"
    assert not region._layouts  # no layout asked for afterwards: the call ran the machine code built ahead
    np.testing.assert_allclose(out, _compile([y], [x])(xv)[0], rtol=1e-13)


def test_a_sum_to_a_run_time_shape_is_not_fused_into_the_loop_it_sums():
    """The gradient of ``y`` of shape ``(?, 1)`` broadcast against ``x`` of shape ``(?, 3)``
    sums to ``y``'s run-time shape (a ``sum_to`` with a second input that gives it): fed a
    ``y`` of one row, the batch dimension is summed too. As a reduction inside the region's loop
    it would keep ``x``'s rows: a gradient of the wrong shape and values."""
    with sg.Graph():
        x = sg.placeholder((None, 3), dtype="float64", name="x")
        y = sg.placeholder((None, 1), dtype="float64", name="y")
        (gy,) = sg.gradients(((x * y).tanh() * x).sum(), [y])
    fn = sg.compile([gy], [x, y])
    assert fn.regions(), fn.report()
    ref = sg.compile([gy], [x, y], optimize=False)
    xv = np.linspace(-1.0, 1.0, 15).reshape(5, 3)
    for yv in (np.full((1, 1), 0.7), np.linspace(0.1, 0.5, 5).reshape(5, 1)):
        got, want = fn(xv, yv)[0], ref(xv, yv)[0]
        assert got.shape == want.shape == yv.shape
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_node_whose_other_input_hangs_on_a_reader_of_the_region_stays_out():
    """``b + tanh(b @ W)``: the matmul reads ``b``'s region from outside, the sum would
    read both."""
    with sg.Graph():
        x = sg.placeholder((3, 3), dtype="float64", name="x")
        W = sg.placeholder((3, 3), dtype="float64", name="W")
        b = x.exp() * 2.0
        n = (b + (b @ W).tanh()) * 3.0
    fn = _compile([n], [x, W], fuse=True)
    labels = sorted(k.label for k in fn.regions())
    assert "cycle" not in fn.report(), fn.report()
    assert labels == ["2 ops: exp,mul", "3 ops: tanh,add,mul"], labels
    xv, wv = np.eye(3) * 0.5 + 0.1, np.full((3, 3), 0.2)
    np.testing.assert_allclose(fn(xv, wv)[0], _compile([n], [x, W])(xv, wv)[0], rtol=1e-13)
