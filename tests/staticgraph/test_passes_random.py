"""Every pass, alone and in the pipeline, keeps values and gradients on random graphs.

Random programs of elementwise ops, broadcasting, reductions and shape ops (written once
against the shared surface, so the same program runs in dyngraph) are compiled with
``optimize=False`` (the reference), with each pass alone, and with the whole pipeline.

Tolerance rule (``close`` below): ``|a - b| <= rtol * (|b| + scale)`` elementwise, with
``scale`` the largest magnitude of the reference value and ``rtol`` = 1e-9 for float64,
1e-4 for float32. Why not bitwise: fusion evaluates float32 ``exp``/``tanh`` with its own
polynomials (within 1-2 ulp) and accumulates fused sums in float64 in another order; constant
folding runs on NumPy; ``log(softmax)`` becomes the more accurate ``log_softmax``. The other
passes are exact, and the memory plan alone is checked BITWISE (test_memory_plan.py).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import staticgraph as sg
from shared_ops.functions import FUNCTIONS

SHAPES = [(3, 4), (4,), (1, 4), (3, 1), ()]
UNARY = ["neg", "tanh", "sigmoid", "exp_tanh", "abs", "relu", "times_one", "plus_negzero", "square"]
BINARY = ["add", "sub", "mul", "maximum", "div_safe"]


def apply(kind, a, b=None):
    if kind == "neg":
        return -a
    if kind == "tanh":
        return a.tanh()
    if kind == "sigmoid":
        return a.sigmoid()
    if kind == "exp_tanh":
        return a.tanh().exp()
    if kind == "abs":
        return a.abs()
    if kind == "relu":
        return a.relu()
    if kind == "times_one":
        return a * 1.0
    if kind == "plus_negzero":
        return a + (-0.0)
    if kind == "square":
        return a * a
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    if kind == "maximum":
        return FUNCTIONS["maximum"](a, b)
    if kind == "div_safe":
        return a / (b * b + 1.0)
    raise AssertionError(kind)


@st.composite
def programs(draw):
    """A list of steps over values numbered from the inputs."""
    n_in = draw(st.integers(1, 3))
    shapes = [draw(st.sampled_from(SHAPES[:4])) for _ in range(n_in)]
    steps = []
    n_vals = n_in
    for _ in range(draw(st.integers(1, 9))):
        k = draw(st.sampled_from(["u", "b", "b", "sum", "t"]))
        i = draw(st.integers(0, n_vals - 1))
        if k == "u":
            steps.append(("u", draw(st.sampled_from(UNARY)), i))
        elif k == "b":
            steps.append(("b", draw(st.sampled_from(BINARY)), i, draw(st.integers(0, n_vals - 1))))
        elif k == "sum":
            steps.append(("sum", draw(st.sampled_from([None, 0, -1])), i))
        else:
            steps.append(("t", i))
        n_vals += 1
    outs = draw(st.lists(st.integers(0, n_vals - 1), min_size=1, max_size=3, unique=True))
    return shapes, steps, outs


def build(xs, steps, outs):
    vals = list(xs)
    for s in steps:
        a = vals[s[2] if s[0] != "t" else s[1]]
        if s[0] == "u":
            v = apply(s[1], a)
        elif s[0] == "b":
            v = apply(s[1], a, vals[s[3]])
        elif s[0] == "sum":
            v = a.sum() if s[1] is None or a.ndim == 0 else a.sum(axis=s[1], keepdims=True)
        else:
            v = (a.transpose() * 2.0).transpose() if a.ndim == 2 else a  # same shape, via views
        vals.append(v)
    fetched = [vals[i] for i in outs]
    loss = fetched[0].sum()
    for v in fetched[1:]:
        loss = loss + v.sum()
    return fetched, loss


def close(a, b, dtype):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    rtol = 1e-9 if dtype == "float64" else 1e-4
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    ok = np.abs(a - b) <= rtol * (np.abs(b) + scale) + 1e-300
    ok |= np.isnan(a) & np.isnan(b)
    ok |= np.isinf(a) & (a == b)
    assert ok.all(), f"max abs diff {np.nanmax(np.abs(a - b))} (scale {scale})"


def compiled(prog, dtype, optimize):
    shapes, steps, outs = prog
    with sg.Graph():
        xs = [sg.placeholder(s, dtype=dtype, name=f"x{k}") for k, s in enumerate(shapes)]
        fetched, loss = build(xs, steps, outs)
        grads = sg.gradients(loss, xs)
        wanted = fetched + [loss] + [g for g in grads if g is not None]
        return sg.compile(wanted, xs, optimize=optimize)


def feeds(prog, dtype, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2, 2, s).astype(dtype) for s in prog[0]]


CONFIGS = [["prune"], ["cse"], ["fold"], ["simplify"], ["fuse"], ["memory"], True]


@settings(max_examples=8)  # each new region compiles a numba kernel (about a second)
@given(programs(), st.sampled_from(["float64", "float32"]), st.integers(0, 2**16))
def test_every_pass_alone_and_the_pipeline_keep_values_and_gradients(prog, dtype, seed):
    args = feeds(prog, dtype, seed)
    want = compiled(prog, dtype, False)(*args)
    for cfg in CONFIGS:
        fn = compiled(prog, dtype, cfg)
        got = fn(*args)
        for a, b in zip(got, want):
            close(a, b, dtype)
        again = fn(*feeds(prog, dtype, seed + 1))  # new inputs: equal to a fresh compile's
        fresh = compiled(prog, dtype, cfg)(*feeds(prog, dtype, seed + 1))
        for a, b in zip(again, fresh):
            np.testing.assert_array_equal(a, b)


def test_against_dyngraph_when_available():
    dg = pytest.importorskip("dyngraph")
    if not hasattr(dg, "tensor"):
        pytest.fail("dyngraph has no tensor()")
    prog = ([(3, 4), (4,)], [("b", "mul", 0, 1), ("u", "tanh", 2), ("u", "exp_tanh", 3), ("sum", 0, 4),
                              ("b", "div_safe", 3, 5)], [6, 4])
    args = feeds(prog, "float64", 3)
    got = compiled(prog, "float64", True)(*args)
    ts = [dg.tensor(a, requires_grad=True) for a in args]
    fetched, loss = build(ts, prog[1], prog[2])
    loss.backward()
    want = [f.detach().numpy() for f in fetched] + [loss.detach().numpy()] + [t.grad.numpy() for t in ts]
    for a, b in zip(got, want):
        close(a, b, "float64")
