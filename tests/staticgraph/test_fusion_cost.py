"""The fusion pass's cost model, the fused runner's fresh outputs and the feeds' fast path."""

import numpy as np
import pytest

import staticgraph as sg
from staticgraph.compile import FeedError
from staticgraph.passes import fuse


def test_a_small_two_op_region_with_few_arrays_is_fused():
    with sg.Graph():
        a, b = sg.placeholder((20,), "float32", name="a"), sg.placeholder((20,), "float32", name="b")
        y = sg.tanh(a + b)
    fn = sg.compile(y, inputs=[a, b])
    assert len(fn.regions()) == 1  # 2 NumPy calls (1.2 us) against a call with 3 arrays (1.0 us)


def test_a_small_region_whose_call_costs_more_than_its_ops_stays_unfused():
    rng = np.random.default_rng(0)
    for n, fused in ((20, False), (fuse.SMALL_ELEMS + 1, True)):
        with sg.Graph():
            ps = [sg.placeholder((n,), "float32", name=f"a{i}") for i in range(3)]
            s = ps[0] + ps[1]
            out = [s * ps[2], s]  # two ops, three arrays in and two out: 1.2 us of NumPy calls, not more
        fn = sg.compile(out, inputs=ps, optimize={"whole_step": False})  # whole-step mode fuses every op
        assert bool(fn.regions()) is fused, n
        report = fn.report()
        assert ("left unfused" in report and "cost model" in report) is (not fused)
        xs = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
        ref = sg.compile(out, inputs=ps, optimize=False)(*xs)
        for u, v in zip(fn(*xs), ref):
            np.testing.assert_allclose(u, v, rtol=1e-6)


def test_the_cost_model_counts_views_and_reductions_as_calls():
    with sg.Graph():
        a = sg.placeholder((3, 4), "float32", name="a")
        y = (a * 2.0).sum()  # mul + sum: two calls, two arrays in (a, 2.0), one out
    assert len(sg.compile(y).regions()) == 1


def test_fresh_outputs_of_a_fused_region_differ_between_calls():
    with sg.Graph():
        a, b = sg.placeholder((20,), "float32", name="a"), sg.placeholder((20,), "float32", name="b")
        y = sg.tanh(a + b)
    fn = sg.compile(y, inputs=[a, b], block=True)
    x = np.linspace(-1, 1, 20, dtype=np.float32)
    r1, r2 = fn(x, x), fn(x, x)
    assert r1 is not r2 and not np.shares_memory(r1, r2)
    np.testing.assert_array_equal(r1, r2)


def test_feeds_off_the_fast_path_still_take_the_full_check():
    with sg.Graph():
        x = sg.placeholder((None, 3), "float32", name="x")
        y = x * 2.0 + 1.0
    fn = sg.compile(y)
    ref = np.arange(6, dtype=np.float32).reshape(2, 3)
    swapped = ref.astype(ref.dtype.newbyteorder())  # an equal-kind dtype that is not NumPy's singleton
    np.testing.assert_array_equal(fn(swapped), fn(ref))
    np.testing.assert_array_equal(fn(ref.astype(np.float64)), fn(ref))  # cast within its kind
    with pytest.raises(FeedError, match="placeholder 'x' has shape"):
        fn(np.zeros((2, 4), np.float32))
    with pytest.raises(FeedError, match="a different kind"):
        fn(np.zeros((2, 3), np.int32))


def test_a_regions_outputs_are_picked_inline_without_a_call():
    with sg.Graph():
        x = sg.placeholder((3,), "float32", name="x")
        y = sg.tanh(x * 2.0)
        loss = y.sum()
        g = sg.gradients(loss, x)
    fn = sg.compile([loss, g], block=True)
    exe = fn.executable()
    picks = [n for n in fn.program.nodes if n.op == "fused" and n.payload.__class__.__name__ == "Project"]
    assert picks, fn.text()
    for n in picks:
        assert f"K{n.id}(" not in exe.source and f"[{n.payload.k}]" in exe.source
    ref = sg.compile([loss, g], optimize=False)
    xv = np.array([0.5, -1.0, 2.0], np.float32)
    for u, v in zip(fn(xv), ref(xv)):
        np.testing.assert_allclose(u, v, rtol=1e-5)
