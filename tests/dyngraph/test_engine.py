"""The engine: summation order, pruning in grad(), hooks, retain_graph, grad modes, counters."""

import threading

import numpy as np
import pytest

import dyngraph as dg
from shared_ops import instrument


def test_contributions_summed_in_consumer_creation_order():
    # float32: (1 + 1e8) - 1e8 == 0 but (-1e8 + 1e8) + 1 == 1, so the order is visible
    x = dg.tensor([1.0], requires_grad=True)
    y1 = x * 1.0
    y2 = x * 1e8
    y3 = x * -1e8
    (y3 + y2 + y1).sum().backward()  # consumed in reverse: the order is still y1, y2, y3
    assert x.grad.numpy().tobytes() == np.float32(0.0).tobytes()
    x.grad = None
    z1 = x * -1e8
    z2 = x * 1e8
    z3 = x * 1.0
    (z3 + z1 + z2).sum().backward()
    assert x.grad.numpy().tobytes() == np.float32(1.0).tobytes()


def test_accumulation_uses_add_n_seeded_with_first_term():
    x = dg.tensor([-0.0, 2.0], requires_grad=True)
    with instrument() as stats:
        (x * x * 0.0 + x * 0.0).sum().backward()
    assert stats.per_op["add_n"].calls >= 1
    # -0.0 stays -0.0 where every contribution is -0.0 (a zeros seed would give +0.0)
    y = dg.tensor([1.0], requires_grad=True)
    (y * -0.0 + y * -0.0).sum().backward()
    assert np.signbit(y.grad.numpy()[0])


def test_ties_in_one_consumer_follow_input_position():
    x = dg.tensor([3.0], requires_grad=True)
    (x * x).backward(dg.tensor([1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [6.0])


def test_grad_leaves_dot_grad_alone_and_runs_only_needed_nodes():
    a = dg.tensor([1.0, 2.0], requires_grad=True)
    b = dg.tensor([3.0, 4.0], requires_grad=True)
    e = a.exp()
    y = (e * b).sum()
    (gb,) = dg.grad(y, b)
    np.testing.assert_allclose(gb.numpy(), np.exp([1.0, 2.0]), rtol=1e-6)
    assert a.grad is None and b.grad is None
    assert not e.grad_fn.released  # exp's rule was not needed for d/db


def test_grad_of_non_leaf_and_duplicates():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    gh, gx, gh2 = dg.grad(y, [h, x, h])
    np.testing.assert_array_equal(gh.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(gh2.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(gx.numpy(), [18.0, 36.0])


def test_backward_inputs_accumulates_only_there():
    x = dg.tensor([1.0], requires_grad=True)
    w = dg.tensor([2.0], requires_grad=True)
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_array_equal(w.grad.numpy(), [1.0])


def test_retain_graph_then_accumulate():
    x = dg.tensor([1.0, -1.0], requires_grad=True)
    y = x.tanh().sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first + first)
    with pytest.raises(dg.FreedGraphError, match="retain_graph=True"):
        y.backward()


def test_nodes_that_saved_nothing_may_run_again():
    x = dg.tensor([1.0], requires_grad=True)
    y = (x + 1.0).sum()
    y.backward()
    y.backward()  # add and sum save nothing: PyTorch allows this too
    np.testing.assert_array_equal(x.grad.numpy(), [2.0])


def test_hook_replaces_gradient_downstream():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 0 + 1)  # gradient of y becomes ones
    (y * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_leaf_gradients_never_share_memory():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = dg.tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()
    x.grad.zero_()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])


def test_backward_on_a_leaf_and_gradient_shape_check():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    x.backward(dg.tensor([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(dg.ones(3))


def test_integer_results_do_not_require_grad():
    x = dg.tensor([1.5, 2.5], requires_grad=True)
    assert not (x > 2).requires_grad
    assert not x.astype("int64").requires_grad
    assert x.astype("float64").requires_grad


def test_no_grad_context_decorator_and_enable_grad():
    x = dg.tensor([1.0], requires_grad=True)
    with dg.no_grad():
        assert not (x * 2).requires_grad
        with dg.enable_grad():
            assert (x * 2).requires_grad
        assert not dg.is_grad_enabled()
    assert dg.is_grad_enabled()

    @dg.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad and dg.is_grad_enabled()
    with dg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_no_grad_is_thread_local():
    x = dg.tensor([1.0], requires_grad=True)
    results = {}
    inside = threading.Event()
    done = threading.Event()

    def other():
        inside.wait()
        results["other"] = (x * 2).requires_grad  # the main thread is inside no_grad now
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with dg.no_grad():
        inside.set()
        done.wait()
        results["main"] = (x * 2).requires_grad
    t.join()
    assert results == {"other": True, "main": False}


def test_stats_count_nodes_and_saved_bytes():
    dg.reset_stats()
    base = dg.stats()
    x = dg.ones(1000, requires_grad=True, dtype=dg.float64)
    y = (x * x).sum()
    s = dg.stats()
    assert s["nodes_created"] - base["nodes_created"] == 2
    assert s["saved_bytes"] - base["saved_bytes"] == 2 * 8000  # mul saved both inputs
    y.backward()
    assert dg.stats()["saved_bytes"] == base["saved_bytes"]
    del y
    s = dg.stats()
    assert s["nodes_freed"] - base["nodes_freed"] == 2
    assert s["peak_saved_bytes"] >= 16000


def test_grad_fn_metadata_and_saved_shapes():
    x = dg.ones(2, 3, requires_grad=True)
    y = x.exp()
    assert y.grad_fn.saved_shapes() == [(2, 3)]
    assert y.grad_fn.metadata["op"] == "exp"
    y.sum().backward()
    assert y.grad_fn.saved_shapes() == []
