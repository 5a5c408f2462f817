"""The compiled forward (``dyngraph/_crecord.c``): the same errors as the Python path, no
reference leaked, grad mode per thread, and ``dg.tanh`` and its kin (``test_crecord.py``
compares the graphs both paths make)."""

from __future__ import annotations

import contextlib
import gc
import sys
import weakref

import numpy as np
import pytest

import dyngraph as dg
from dyngraph import apply
from test_crecord import _error, _python_calls, compiled


# --------------------------------------------------------------------------- errors

def _bad_inputs():
    x = dg.tensor(np.ones((3, 3)), requires_grad=True)
    with dg.inference_mode():
        inf = dg.tensor([1.0, 2.0, 3.0])
    return {
        "shapes": lambda: x + dg.tensor(np.ones(4)),
        "matmul": lambda: x @ dg.tensor(np.ones(4)),
        "index": lambda: x[7],
        "index_float": lambda: x[1.5],
        "string": lambda: x + "a",
        "inference_saved": lambda: x[0] * inf,
        "int_tanh_grad": lambda: dg.tensor([1, 2]).tanh().backward(),
        "changed_saved": lambda: _changed_then_backward(x),
        "freed": lambda: _twice(x),
    }


def _changed_then_backward(x):
    y = x * 1.0
    z = y * y
    with dg.no_grad():
        y.add_(1.0)
    z.sum().backward()


def _twice(x):
    z = (x * x).sum()
    z.backward()
    z.backward()


@compiled
@pytest.mark.parametrize("case", sorted(_bad_inputs()))
def test_bad_input_gives_the_same_error_on_both_paths(case):
    fast = _error(_bad_inputs()[case])
    with apply.pure():
        slow = _error(_bad_inputs()[case])
    assert fast is not None and fast == slow


# --------------------------------------------------------------------------- reference counts

@compiled
def test_the_compiled_path_leaks_nothing():
    W = dg.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    xs = dg.tensor(np.ones((8, 3), np.float32))
    h = dg.tensor(np.zeros(4, np.float32))
    bad = dg.tensor(np.ones(5, np.float32))

    def step():
        out = h
        for t in range(8):
            out = dg.tanh(W @ xs[t] + out * 0.5)
        out.sum().backward()
        W.grad = None
        try:
            W @ bad
        except Exception:  # noqa: BLE001
            pass
        with dg.no_grad():
            _ = xs[2] + 1.0

    watched = [W, xs, h, bad, W._data, xs._data, h._data, xs._ver]
    step()
    gc.collect()
    counts = [sys.getrefcount(o) for o in watched]
    objects = len(gc.get_objects())
    before = dg.stats()
    for _ in range(200):
        step()
    gc.collect()
    assert [sys.getrefcount(o) for o in watched] == counts
    assert len(gc.get_objects()) < objects + 50  # one object a step kept would be 200
    after = dg.stats()
    assert after["nodes_alive"] == before["nodes_alive"] and after["saved_bytes"] == before["saved_bytes"]
    assert after["nodes_created"] - before["nodes_created"] == 200 * (8 * 4)  # the first step's h * 0.5 records nothing; the sum does


@compiled
def test_results_and_nodes_are_freed_when_dropped():
    x = dg.tensor(np.ones(3), requires_grad=True)
    y = (x * 2.0).tanh()
    node = weakref.ref(y.grad_fn)
    first = weakref.ref(y.grad_fn.next[0])
    view = dg.tensor(np.ones((2, 3)))[1]
    ref_y, ref_view = weakref.ref(y), weakref.ref(view)
    alive = dg.stats()["nodes_alive"]
    del y, view
    assert ref_y() is None and ref_view() is None and node() is None and first() is None
    assert dg.stats()["nodes_alive"] == alive - 2


@compiled
@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "relu", "sqrt"])
def test_the_compiled_functions_give_what_the_shared_ones_give(name):
    from shared_ops.functions import FUNCTIONS

    fast, shared = getattr(dg, name), FUNCTIONS[name]
    assert fast is not shared and fast.__wrapped__ is shared and fast.__name__ == name and fast.__doc__ == shared.__doc__
    for x in (dg.tensor(np.array([0.5, 2.0], np.float32), requires_grad=True), dg.tensor(np.array([0.25, 3.0])),
              dg.tensor(np.array([1, 2])), dg.tensor(np.array([[1.0, 4.0]]), requires_grad=True).T):
        a, b = fast(x), shared(x)
        assert (a.dtype, a.shape, a.requires_grad) == (b.dtype, b.shape, b.requires_grad)
        assert a.detach().numpy().tobytes() == b.detach().numpy().tobytes()
        assert (a.grad_fn is None) == (b.grad_fn is None)
        if a.grad_fn is not None:
            assert a.grad_fn.name() == b.grad_fn.name() and a.grad_fn.next == b.grad_fn.next
    assert _error(lambda: fast([1.0])) == _error(lambda: shared([1.0]))  # no tensor: the shared error
    assert _python_calls(lambda: fast(dg.tensor([1.0, 2.0]))) == {}


def test_grad_mode_is_read_per_thread():
    """The compiled path keeps the grad-mode dict of the thread it last ran in: each thread must
    still see its own mode (PyTorch's is thread-local), before and after another thread ran."""
    import threading

    x = dg.tensor([1.0, 2.0], requires_grad=True)
    seen = {}

    def other():
        seen["on"] = (x * 2.0).requires_grad  # a new thread starts with grad mode on
        with dg.no_grad():
            seen["off"] = (x * 2.0).requires_grad
        with dg.inference_mode():
            seen["inference"] = (x * 2.0).is_inference()

    with dg.no_grad():
        assert not (x * 2.0).requires_grad
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert not (x * 2.0).requires_grad and not x[0].requires_grad
    assert (x * 2.0).requires_grad and x[0].requires_grad
    assert seen == {"on": True, "off": False, "inference": True}


@pytest.mark.parametrize("compiled_path", [True, False])
def test_a_failed_kernel_keeps_nothing_alive_past_its_error(compiled_path):
    """The error of a failing kernel holds its inputs only while it lives: no reference cycle
    (one would keep the graph until a gc pass), on either path."""
    x = dg.tensor(np.ones((3, 3)), requires_grad=True)
    y = x * 2.0
    node = weakref.ref(y.grad_fn)
    was = gc.isenabled()
    gc.disable()
    try:
        with (contextlib.nullcontext() if compiled_path else apply.pure()):
            with pytest.raises(dg.ShapeError) as info:
                y + dg.tensor(np.ones(4))
        assert isinstance(info.value.__context__, ValueError)  # NumPy's, as the handler saw it
        del info, y
        assert node() is None
    finally:
        if was:
            gc.enable()
