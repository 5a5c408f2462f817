"""``fn(...)``'s generated entry (``staticgraph.entry``): the common call in one frame, and
everything else on the full path with the same results and the same errors; it follows
instrumentation and tier switches; outputs come back in the caller's structure; variables
are read and assigned as before.

The suite runs with ``GRAPHCOMPARE_JIT=off``: numba builds only where a test asks.
"""

import numpy as np
import pytest

import staticgraph as sg
from shared_ops import instrument
from staticgraph import FeedError


def _chain(optimize=True):
    with sg.Graph():
        x = sg.placeholder((2, 3), name="x")
        y = x
        for _ in range(4):
            y = sg.tanh(y * 1.5 + 0.25)
        total = y.sum()
        (g,) = sg.gradients(total, [x])
        fn = sg.compile([total, g], inputs=[x], optimize=optimize)
    return fn


X = np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)


def _bytes(values) -> list:
    return [np.asarray(v).tobytes() for v in values]


@pytest.mark.parametrize("optimize", [False, True])
def test_bad_feeds_raise_the_same_errors_after_fast_calls(optimize):
    fn = _chain(optimize)
    want = _bytes(fn(X))
    assert _bytes(fn(X)) == want  # the entry's fast path
    with pytest.raises(FeedError, match=r"placeholder 'x' has shape \(2, 3\) but was fed shape \(3, 2\)"):
        fn(X.T.copy())
    with pytest.raises(FeedError, match="placeholder 'x' is float32 but was fed int64"):
        fn(np.ones((2, 3), np.int64))
    with pytest.raises(FeedError, match="expected an array of shape"):
        fn(X.tolist())
    with pytest.raises(FeedError, match=r"takes 1 input\(s\) \(x\), got 2"):
        fn(X, X)
    with pytest.raises(FeedError, match="not an input of this function"):
        fn(y=X)
    with pytest.raises(FeedError, match="placeholder 'x' was not fed"):
        fn({})
    # the full path's forms give the same bytes: by name, a feed dict, a cast
    assert _bytes(fn(x=X)) == want
    assert _bytes(fn({"x": X})) == want
    assert _bytes(fn(X.astype(np.float64))) == want
    # another layout: the same values (NumPy's own sums may add in another order on it)
    for got, w in zip(fn(np.asfortranarray(X)), fn(X)):
        np.testing.assert_allclose(got, w, rtol=1e-6)
    assert _bytes(fn(X)) == want


def test_a_failing_kernel_is_still_named_after_fast_calls():
    with sg.Graph():
        a = sg.placeholder((2, None), name="a")
        b = sg.placeholder((None, 2), name="b")
        fn = sg.compile(a @ b, inputs=[a, b], optimize=False)
    fn(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32))
    with pytest.raises(ValueError) as info:
        fn(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))
    assert any("staticgraph: raised while running" in note and "matmul" in note for note in info.value.__notes__)


def test_instrumentation_counts_every_call_then_the_compiled_step_returns():
    fn = _chain()
    fn.use_tier("numba")
    want = _bytes(fn(X))
    assert "_S(" in fn._entry.source
    with instrument() as stats:
        for _ in range(3):
            assert _bytes(fn(X)) == want
    assert stats.per_op["fused"].calls >= 3  # every call counted, not only the first
    assert "_S(" not in fn._entry.source  # inside the block the entry ran the kernels one by one
    assert _bytes(fn(X)) == want
    assert "_S(" in fn._entry.source and fn._entry.run is fn.executable().run


def test_a_tier_switch_reaches_the_entry():
    fn = _chain()
    fn.use_tier("numpy")
    want = _bytes(fn(X))
    fn(X)
    assert "_S(" not in fn._entry.source
    fn.use_tier("numba")
    assert _bytes(fn(X)) == want
    assert "_S(" in fn._entry.source
    fn.use_tier("numpy")
    assert _bytes(fn(X)) == want and "_S(" not in fn._entry.source


@pytest.mark.parametrize("optimize", [False, True])
def test_outputs_keep_the_callers_structure(optimize):
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        s, d = x.sum(), x * 2.0
        fns = {"node": sg.compile(d, [x], optimize), "list": sg.compile([s, d], [x], optimize),
               "tuple": sg.compile((s, d), [x], optimize), "dict": sg.compile({"s": s, "d": [d, s]}, [x], optimize),
               "empty": sg.compile([], [x], optimize)}
    a = np.array([1.0, 2.0, 3.0], np.float32)
    for _ in range(2):  # the first call and the entry's fast path
        assert fns["node"](a).tolist() == [2.0, 4.0, 6.0]
        got = fns["list"](a)
        assert type(got) is list and got[0] == 6.0 and type(got[0]) is np.float32
        assert type(fns["tuple"](a)) is tuple and fns["tuple"](a)[1].tolist() == [2.0, 4.0, 6.0]
        got = fns["dict"](a)
        assert set(got) == {"s", "d"} and got["s"] == 6.0 and got["d"][1] == 6.0
        assert fns["empty"](a) == []


@pytest.mark.parametrize("optimize", [False, True])
def test_variables_are_read_and_assigned_through_the_entry(optimize):
    with sg.Graph():
        x = sg.placeholder((2,), name="x")
        w = sg.variable(np.array([1.0, 2.0], np.float32), name="w")
        step = sg.assign(w, w * x)
        fn = sg.compile([step, (w * x).sum()], [x], optimize)
    a = np.array([2.0, 3.0], np.float32)
    got = [fn(a) for _ in range(3)]
    assert [g[0].tolist() for g in got] == [[2.0, 6.0], [4.0, 18.0], [8.0, 54.0]]
    assert [float(g[1]) for g in got] == [8.0, 22.0, 62.0]  # each run reads the variable as it was
    assert fn.variables["w"].tolist() == [8.0, 54.0] and fn.calls == 3


def test_a_function_with_no_inputs_runs_through_the_entry():
    with sg.Graph():
        c = sg.constant(np.arange(3, dtype=np.float32))
        fn = sg.compile([(c * 2.0).sum()], [])
    assert fn() == [6.0] and fn() == [6.0]
    with pytest.raises(FeedError, match="takes 0 input"):
        fn(np.ones(1, np.float32))


def test_sg_function_reuses_its_traces_through_the_fast_path():
    f = sg.function(lambda v, k: (v * k).sum())
    a = np.arange(3, dtype=np.float32)
    assert [float(f(a, 2.0)) for _ in range(3)] == [6.0] * 3 and f.trace_count == 1
    assert float(f(a, 3.0)) == 9.0 and f.trace_count == 2          # a new Python number: a new trace
    assert float(f(a.astype(np.float64), 2.0)) == 6.0 and f.trace_count == 3  # a new dtype
    g = sg.function(lambda v: v.sum() * 2.0)
    assert [float(g(a)), float(g(a)), float(g(a[:2])), float(g(a[:2]))] == [6.0, 6.0, 2.0, 2.0]
    assert g.trace_count == 2
    assert float(g([1.0, 2.0])) == 6.0  # a list: the full path converts it
    with pytest.raises(FeedError, match="argument 0 is a str"):
        g("no")
    h = sg.function(lambda v: v.sum(), input_signature=[((None,), "float32")])
    for n in range(1, 300):  # more shapes than the fast path remembers: it starts over
        assert float(h(np.ones(n, np.float32))) == n
    assert h.trace_count == 1 and float(h(np.ones(5, np.float32))) == 5.0
    with pytest.raises(FeedError, match="input_signature has 1 entries, the call passed 2 arrays"):
        h(a, a)


def test_the_full_paths_feed_test_is_the_entrys():
    from staticgraph.entry import plain_checker

    with sg.Graph():
        x = sg.placeholder((2, None), name="x")
        n = sg.placeholder((), "int64", name="n")
        fn = sg.compile([x.sum(), n], inputs=[x, n])
    check = plain_checker(fn._fast)
    ok = [np.ones((2, 5), np.float32), np.array(3)]
    assert check(*ok)
    sub = type("Sub", (np.ndarray,), {})
    for k, bad in [(0, np.ones((3, 5), np.float32)), (0, np.ones((2,), np.float32)), (0, np.ones((2, 5))),
                   (0, np.ones((2, 5), ">f4")), (0, np.ones((2, 5), np.float32).view(sub)), (1, 3), (1, np.ones(1, int))]:
        feeds = list(ok)
        feeds[k] = bad
        assert not check(*feeds)
        # the entry takes the full path for the same feeds: the cast or the error is the same
        try:
            want = fn._call(tuple(feeds), {})
        except FeedError as exc:
            with pytest.raises(FeedError) as info:
                fn(*feeds)
            assert str(info.value) == str(exc)
        else:
            assert _bytes(fn(*feeds)) == _bytes(want)
