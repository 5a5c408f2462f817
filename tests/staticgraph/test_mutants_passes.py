"""What the pass tests left unchecked (surviving mutants): cse's counts in the report, the
second cse after simplify, fold's size rule and its refusal to fold a variable, fusion's cap
on a region's size. Through ``sg.compile`` and its report, as a user sees them."""

from __future__ import annotations

import re

import numpy as np

import staticgraph as sg
from staticgraph.passes import fuse

ONLY = {"prune": False, "cse": False, "fold": False, "simplify": False, "fuse": False, "memory": False}


def _compile(outputs, inputs, **on):
    return sg.compile(outputs, inputs=inputs, optimize={**ONLY, **on})


def test_cse_counts_every_merge_of_one_op():
    with sg.Graph():
        x, y = sg.placeholder((3,), name="x"), sg.placeholder((3,), name="y")
        outs = [x * y, x * y, x * y]
    assert "merged 2 mul" in _compile(outs, [x, y], cse=True).report()


def test_cse_runs_again_on_what_simplify_exposed():
    """exp(x * 1) becomes exp(x), a duplicate of the exp(x) beside it."""
    with sg.Graph():
        x = sg.placeholder((3,), dtype="float64", name="x")
        outs = [(x * 1.0).exp(), x.exp()]
    fn = _compile(outs, [x], cse=True, simplify=True)
    assert "cse (after simplify)" in fn.report()
    a, b = fn(np.array([0.5, -1.0, 2.0]))
    assert a.tobytes() == b.tobytes() == np.exp(np.array([0.5, -1.0, 2.0])).tobytes()


def test_fold_grows_small_constants_and_leaves_large_ones():
    """A constant op whose result has more elements than its inputs is folded only while the
    result stays small (4096 elements): 3x4 is folded, 100x100 is left to run."""
    with sg.Graph():
        x = sg.placeholder((), dtype="float64", name="x")
        small = sg.constant(np.ones((3, 1))) + sg.constant(np.ones((1, 4)))
        large = sg.constant(np.ones((100, 1))) + sg.constant(np.ones((1, 100)))
        outs = [x * small, x * large]
    fn = _compile(outs, [x], fold=True)
    report = fn.report()
    assert "folded 1 add into constants" in report
    assert re.search(r"= constant .*: f64\[3,4\]", report) and re.search(r"= add .*: f64\[100,100\]", report), report
    a, b = fn(np.float64(2.0))
    assert (a == 4.0).all() and a.shape == (3, 4) and (b == 4.0).all() and b.shape == (100, 100)


def test_fold_never_freezes_a_variable():
    """An op on a variable is not a constant: an assignment must show in the next run."""
    with sg.Graph() as g:
        v = sg.variable(np.array([1.0, 2.0]), name="v")
        y = (v * 2.0).exp()
        step = sg.assign(v, v + 1.0)
    sess = sg.Session(g, optimize=True)
    sess.run(step)
    np.testing.assert_allclose(sess.run(y), np.exp(2.0 * np.array([2.0, 3.0])), rtol=1e-15)


def test_fuse_caps_a_region_at_max_region_nodes(monkeypatch):
    monkeypatch.setattr(fuse, "MAX_REGION", 6)
    with sg.Graph():
        x = sg.placeholder((3, 4), dtype="float64", name="x")
        y = x
        for _ in range(10):
            y = (y * 1.5).tanh()
    fn = _compile([y], [x], fuse=True)
    sizes = [int(n) for n in re.findall(r"<- (\d+) nodes", fn.report())]
    assert sizes and max(sizes) <= 6 and sum(sizes) == 20, fn.report()
    want = np.random.default_rng(0).standard_normal((3, 4))
    ref = _compile([y], [x])(want)
    assert np.allclose(fn(want), ref, rtol=1e-12)
