"""sg.compile: the executable, feeds, repeated runs, report and text."""

import numpy as np
import pytest

import staticgraph as sg
from shared_ops import instrument


def _model():
    g = sg.Graph()
    with g:
        x = sg.placeholder((None, 3), name="x")
        w = sg.variable(np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]], np.float32), name="w")
        y = (x @ w).tanh().sum()
        gw = sg.gradients(y, w)
    return g, x, w, y, gw


def test_called_three_times_on_old_and_new_inputs_gives_the_same_results():
    g, x, w, y, gw = _model()
    fn = sg.compile([y, gw], inputs=[x], optimize=False)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((7, 3)).astype(np.float32)
    first_a = fn(a)
    first_b = fn(b)
    for _ in range(3):
        for arr, ref in ((a, first_a), (b, first_b)):
            out = fn(arr.copy())
            assert all(o.tobytes() == r.tobytes() for o, r in zip(out, ref))
    assert first_a[1].shape == (3, 2) and first_b[1].shape == (3, 2)


def test_positional_and_feed_dict_calls_agree():
    g, x, w, y, gw = _model()
    fn = sg.compile(y, optimize=False)
    a = np.ones((2, 3), np.float32)
    assert fn(a) == fn({x: a}) == fn({"x": a}) == fn(x=a)


@pytest.mark.parametrize(
    "feed, words",
    [
        ({}, ["'x'", "not fed"]),
        ({"x": np.ones((2, 3), np.float32), "y": np.ones(2)}, ["'y'", "not an input"]),
        ({"x": np.ones((2, 4), np.float32)}, ["'x'", "(?, 3)", "(2, 4)"]),
        ({"x": np.ones((2, 3, 1), np.float32)}, ["'x'", "(2, 3, 1)"]),
        ({"x": np.ones((2, 3), np.int64)}, ["'x'", "float32", "int64"]),
        ({"x": [[1.0, 2.0, 3.0]]}, ["'x'", "list", "numpy.asarray"]),
        ({"x": "abc"}, ["'x'", "str"]),
    ],
)
def test_bad_feeds_raise_feed_error_naming_the_placeholder_and_change_nothing(feed, words):
    g, x, w, y, gw = _model()
    step = sg.assign_sub(w, gw * 0.1)
    fn = sg.compile([y, step], inputs=[x], optimize=False)
    before = fn.variables["w"].copy()
    with pytest.raises(sg.FeedError) as info:
        fn(feed)
    for word in words:
        assert word in str(info.value)
    assert np.array_equal(fn.variables["w"], before)
    fn({"x": np.ones((2, 3), np.float32)})
    assert not np.array_equal(fn.variables["w"], before)


def test_wrong_number_of_positional_inputs():
    g, x, w, y, gw = _model()
    fn = sg.compile(y, optimize=False)
    with pytest.raises(sg.FeedError, match="takes 1 input"):
        fn()


def test_float64_feed_is_cast_to_a_float32_placeholder():
    g, x, w, y, gw = _model()
    fn = sg.compile(y, optimize=False)
    a = np.ones((2, 3))
    assert fn(a) == fn(a.astype(np.float32))


def test_a_needed_placeholder_missing_from_inputs_is_an_error_at_compile():
    g, x, w, y, gw = _model()
    with pytest.raises(sg.GraphError, match="placeholder x .* must be fed"):
        sg.compile(y, inputs=[])


def test_pruning_keeps_only_what_the_outputs_need():
    g, x, w, y, gw = _model()
    fn = sg.compile(y, optimize=False)
    assert len(fn.program) < len(g)
    assert all(n.op != "transpose" for n in fn.program)  # no gradient work
    rep = fn.report()
    assert f"prune: graph {len(g)} nodes -> {len(fn.program)} nodes" in rep
    assert "= tanh %" in rep and "return %" in rep


def test_program_text_is_one_equation_per_line():
    with sg.Graph():
        x = sg.placeholder((None, 4), name="x")
        y = (x * 2.0).sum(axis=0)
    text = sg.compile(y, optimize=False).text()
    assert text.splitlines() == [
        "%0 = placeholder x : f32[?,4]",
        "%1 = constant 2. : f32[]",
        "%2 = mul %0 %1 : f32[?,4]",
        "%3 = sum %2 {axis=(0,), keepdims=False} : f32[4]",
        "return %3",
    ]


def test_executable_is_a_flat_instruction_list_with_frees_and_straight_line_code():
    g, x, w, y, gw = _model()
    fn = sg.compile([y, gw], optimize=False)
    exe = fn.executable()
    assert len(exe.instructions) == sum(1 for n in fn.program if not n.is_source)
    ins = exe.instructions[0]
    assert callable(ins.kernel) and isinstance(ins.output, int) and isinstance(ins.inputs, tuple)
    assert any(i.free for i in exe.instructions)
    assert "for " not in exe.source and "del " in exe.source
    assert exe.source.count("(xp,") == len(exe.instructions)


def test_instrumentation_swaps_are_picked_up_by_cached_executables():
    g, x, w, y, gw = _model()
    fn = sg.compile([y, gw], optimize=False)
    a = np.ones((2, 3), np.float32)
    fn(a)
    with instrument() as stats:
        fn(a)
    assert stats.calls == len(fn.executable())
    with instrument() as stats:
        fn(a)
        fn(a)
    assert stats.calls == 2 * len(fn.executable())


def test_outputs_never_alias_state_or_constants():
    with sg.Graph():
        w = sg.variable(np.ones(3, np.float32), name="w")
        c = sg.constant(np.ones(3, np.float32))
    fn = sg.compile([w, c], optimize=False)
    ow, oc = fn()
    ow[:] = 5.0
    oc[:] = 5.0
    ow2, oc2 = fn()
    assert np.array_equal(ow2, np.ones(3)) and np.array_equal(oc2, np.ones(3))


def test_compiled_functions_of_one_graph_share_its_variables():
    g, x, w, y, gw = _model()
    with g:
        step = sg.assign_sub(w, gw * 0.5)
    train = sg.compile(step, inputs=[x], optimize=False)
    read = sg.compile(w)
    new = train(np.ones((2, 3), np.float32))
    assert np.array_equal(read(), new)


def test_variables_are_read_at_start_and_assigned_at_end():
    with sg.Graph():
        v = sg.variable(np.float32(1.0), name="v")
        inc = sg.assign(v, v + 1.0)
        after = v * 10.0
    fn = sg.compile([after, inc, v], optimize=False)
    a, i, r = fn()
    assert (a, i, r) == (10.0, 2.0, 1.0)
    a, i, r = fn()
    assert (a, i, r) == (20.0, 3.0, 2.0)


def test_runs_on_another_backend_through_shared_ops_only():
    """array-api-strict stands in for CuPy (no GPU here): constants, variables and feeds all
    live on the feeds' backend, and the results equal NumPy's."""
    xp = pytest.importorskip("array_api_strict")
    g, x, w, y, gw = _model()
    with g:
        step = sg.assign_sub(w, gw * 0.1)
    a = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    ref = sg.Session(g, optimize=False).run([y, gw, step], {x: a})
    fn = sg.compile([y, gw, step], inputs=[x], optimize=False)
    out = fn(xp.asarray(a))
    assert all(type(o).__module__.startswith("array_api_strict") for o in out)
    for p, q in zip(out, ref):
        assert np.array_equal(np.asarray(p), q)
    assert type(fn.state[w.id]).__module__.startswith("array_api_strict")


def test_assigned_state_never_aliases_a_feed():
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        w = sg.variable(np.zeros(3, np.float32), name="w")
        step = sg.assign(w, x.reshape(3))   # a kernel that may hand back its input
    fn = sg.compile(step, optimize=False)
    a = np.ones(3, np.float32)
    fn(a)
    a[:] = 7.0
    assert np.array_equal(fn.variables["w"], np.ones(3))


def test_feeds_on_two_backends_are_a_feed_error():
    xp = pytest.importorskip("array_api_strict")
    with sg.Graph():
        a = sg.placeholder((2,), name="a")
        b = sg.placeholder((2,), name="b")
        y = a + b
    fn = sg.compile(y, optimize=False)
    with pytest.raises(sg.FeedError, match="different backends"):
        fn(np.ones(2, np.float32), xp.asarray(np.ones(2, np.float32)))
