"""sg.Session in the TF1 manner: cached executables, reads at start, writes at end."""

import numpy as np
import pytest

import staticgraph as sg


def _graph():
    g = sg.Graph()
    with g:
        x = sg.placeholder((None, 2), name="x")
        w = sg.variable(np.array([1.0, 2.0], np.float32), name="w")
        loss = ((x * w).sum(axis=1) ** 2).mean()
        gw = sg.gradients(loss, w)
        step = sg.assign_sub(w, gw * 0.1)
    return g, x, w, loss, gw, step


def test_variables_live_in_the_session_initialised_from_the_graph():
    g, x, w, loss, gw, step = _graph()
    s1, s2 = sg.Session(g, optimize=False), sg.Session(g, optimize=False)
    s1.run(step, {x: np.ones((3, 2), np.float32)})
    assert not np.array_equal(s1.run(w), [1.0, 2.0])
    assert np.array_equal(s2.run(w), np.array([1.0, 2.0], np.float32))


def test_reads_see_the_start_of_the_run_and_writes_land_at_its_end():
    g, x, w, loss, gw, step = _graph()
    sess = sg.Session(g, optimize=False)
    feed = {"x": np.ones((3, 2), np.float32)}
    w0 = sess.run(w)
    l0, new_w, w_read, g0 = sess.run([loss, step, w, gw], feed)
    assert np.array_equal(w_read, w0)                    # the read saw the old value
    assert np.allclose(l0, 9.0)                          # loss from the old value
    assert np.array_equal(new_w, w0 - g0 * np.float32(0.1))
    assert np.array_equal(sess.run(w), new_w)           # landed at the end


def test_a_refused_run_changes_nothing():
    g, x, w, loss, gw, step = _graph()
    sess = sg.Session(g, optimize=False)
    w0 = sess.run(w)
    with pytest.raises(sg.FeedError, match="'x'"):
        sess.run(step, {x: np.ones((3, 5), np.float32)})
    with pytest.raises(sg.FeedError, match="x"):
        sess.run(step)
    with pytest.raises(sg.FeedError, match="nope"):
        sess.run(step, {"nope": np.ones(2)})
    assert np.array_equal(sess.run(w), w0)


def test_fetch_structures_and_one_executable_per_fetch_and_feed_set():
    g, x, w, loss, gw, step = _graph()
    sess = sg.Session(g, optimize=False)
    feed = {x: np.ones((3, 2), np.float32)}
    out = sess.run({"loss": loss, "pair": gw}, feed)
    assert set(out) == {"loss", "pair"}
    assert isinstance(sess.run((loss, gw), feed), tuple)
    assert isinstance(sess.run([loss], feed), list)
    assert sess.compiled == 2  # (loss, gw) in any structure, and (loss,)
    for _ in range(3):
        sess.run([loss, gw], feed)
    sess.run(loss, feed)
    assert sess.compiled == 2
    sess.run(gw, feed)
    assert sess.compiled == 3


def test_fetching_a_node_of_another_graph_is_an_error():
    g, x, w, loss, gw, step = _graph()
    with sg.Graph():
        other = sg.constant(1.0)
    with pytest.raises(sg.GraphError, match="another graph"):
        sg.Session(g).run(other)


def test_training_loop_matches_hand_written_numpy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 3))
    Y = rng.standard_normal((8,))
    with sg.Graph() as g:
        x = sg.placeholder((None, 3), "float64", name="x")
        y = sg.placeholder((None,), "float64", name="y")
        w = sg.variable(np.zeros(3), name="w")
        err = (x @ w) - y
        loss = (err * err).mean()
        step = sg.assign_sub(w, sg.gradients(loss, w) * 0.1)
    sess = sg.Session(g, optimize=False)
    wn = np.zeros(3)
    for _ in range(20):
        sess.run(step, {x: X, y: Y})
        wn = wn - 0.1 * (2 * X.T @ (X @ wn - Y) / len(Y))
    assert np.allclose(sess.run(w), wn, rtol=1e-12)


def test_a_kernel_failing_mid_run_names_the_node_and_changes_nothing():
    with sg.Graph() as g:
        x = sg.placeholder((None, 3), name="x")
        y = sg.placeholder((None, 3), name="y")
        w = sg.variable(np.zeros(3, np.float32), name="w")
        first = sg.assign(w, x.sum(axis=0))
        bad = sg.assign(w, (x * y).sum(axis=0))  # free dims that disagree only at run time
    sess = sg.Session(g, optimize=False)
    with pytest.raises(ValueError) as info:
        sess.run([first, bad], {x: np.ones((2, 3), np.float32), y: np.ones((3, 3), np.float32)})
    note = "\n".join(getattr(info.value, "__notes__", []))
    assert "mul" in note and "test_session.py" in note and "x: (2, 3)" in note
    assert np.array_equal(sess.run(w), np.zeros(3, np.float32))  # the first assign did not land either
