"""Memory: saved intermediates freed by backward, graphs freed by reference counting alone,
no growth over many training steps, no recursion on a chain 100,000 ops deep."""

import gc
import sys
import tracemalloc

import numpy as np

import dyngraph as dg

MB = 1 << 20


def test_backward_frees_saved_intermediates_while_the_loss_is_held():
    x = dg.ones(1 << 18, requires_grad=True, dtype=dg.float64)  # 2 MiB per intermediate
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        h = x
        for _ in range(8):
            h = (h * 0.5).tanh()  # tanh saves its output: 8 x 2 MiB held by the graph
        loss = h.sum()
        del h
        before = tracemalloc.get_traced_memory()[0] - base
        loss.backward()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert before > 15 * MB
    assert after < 3 * MB, (before, after)  # only x.grad (2 MiB) is left
    assert loss.requires_grad and loss.grad_fn is not None  # the user still holds the loss


def _step(w1, w2, x, labels):
    h = (x @ w1).tanh()
    loss = dg.softmax_cross_entropy(h @ w2, labels)
    loss.backward()
    with dg.no_grad():
        w1 -= 0.01 * w1.grad
        w2 -= 0.01 * w2.grad
    w1.grad = None
    w2.grad = None
    return loss.item()


def _model():
    dg.manual_seed(0)
    w1 = (dg.randn(20, 16) * 0.1).requires_grad_()
    w2 = (dg.randn(16, 5) * 0.1).requires_grad_()
    x = dg.randn(32, 20)
    labels = dg.tensor(np.arange(32) % 5)
    return w1, w2, x, labels


def test_a_freed_graph_leaves_nothing_for_the_cycle_collector():
    w1, w2, x, labels = _model()
    _step(w1, w2, x, labels)
    gc.collect()
    gc.disable()
    try:
        alive = dg.stats()["nodes_alive"]
        for _ in range(5):
            _step(w1, w2, x, labels)
        y = (x @ w1).exp().sum()  # a graph dropped without backward
        del y
        assert dg.stats()["nodes_alive"] == alive
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_two_thousand_training_steps_do_not_grow_memory():
    w1, w2, x, labels = _model()
    first_loss = _step(w1, w2, x, labels)
    tracemalloc.start()
    try:
        for _ in range(100):  # warm up: caches, free lists
            _step(w1, w2, x, labels)
        gc.collect()
        first = tracemalloc.get_traced_memory()[0]
        alive = dg.stats()["nodes_alive"]
        for _ in range(2000):
            last_loss = _step(w1, w2, x, labels)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - first
    finally:
        tracemalloc.stop()
    # one leaked object per step would be >= 100 KiB; allow bounded caches (NumPy's dtype names) to churn
    assert growth < 48 * 1024, growth
    assert dg.stats()["nodes_alive"] == alive
    assert last_loss < first_loss  # it did train


def test_chain_100000_deep_forward_backward_teardown_without_recursion():
    limit = sys.getrecursionlimit()
    x = dg.tensor([0.5], requires_grad=True)
    sys.setrecursionlimit(150)  # nothing may recurse per node
    try:
        freed = dg.stats()["nodes_freed"]
        h = x
        for _ in range(100_000):
            h = h * 1.0
        h.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [1.0])
        h2 = x
        for _ in range(100_000):
            h2 = h2 + 0.0
        del h, h2  # teardown of two 100,000-deep chains
        assert dg.stats()["nodes_freed"] - freed == 200_001
        s = dg.tensor([1.0], requires_grad=True)
        for _ in range(100_000):
            s = s * 1.0
        assert len(dg.export._walk(s)) == 100_001  # the export walks iteratively too
        del s
    finally:
        sys.setrecursionlimit(limit)
