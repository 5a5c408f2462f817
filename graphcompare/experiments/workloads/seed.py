"""The seed tutorials' examples, and the seed RNN cell unrolled over T steps."""

from __future__ import annotations

import numpy as np

from . import standard as std
from .base import Workload

F32 = np.float32


# -- var_1 * var_2 (gradients 4 and 3) --------------------------------------------------------


def _mul_model(ns, a, b):
    return a * b


def _mul_numpy(xp, data, params, lr, train):
    a, b = params

    def step():
        loss = a * b
        return loss, b * 1.0, a * 1.0  # d(ab)/da = b, d(ab)/db = a

    return step


def seed_mul() -> Workload:
    return Workload("seed_mul", "seed: var_1 * var_2", _mul_model, [],
                    [np.array(3.0, F32), np.array(4.0, F32)], numpy_step=_mul_numpy, size={})


# -- the 5x5 (10 - d).sum() --------------------------------------------------------------------


def _sub_model(ns, d):
    return (10 - d).sum()


def _sub_numpy(xp, data, params, lr, train):
    (d,) = params

    def step():
        loss = (10 - d).sum()
        return loss, -xp.ones_like(d)

    return step


def seed_5x5(seed: int = 0) -> Workload:
    d = np.random.default_rng(seed).random((5, 5)).astype(F32)
    return Workload("seed_5x5", "seed: (10 - d).sum(), d 5x5", _sub_model, [], [d],
                    numpy_step=_sub_numpy, size={"shape": [5, 5]})


# -- the RNN cell tanh(W_h h^T + W_x x^T), and unrolled over T steps ----------------------------


def _cell_model(ns, x, h, W_h, W_x):
    return ns.tanh(W_h @ h.T + W_x @ x.T).sum()


def _cell_numpy(xp, data, params, lr, train):
    x, h = data
    W_h, W_x = params

    def step():
        y = xp.tanh(W_h @ h.T + W_x @ x.T)
        g = 1 - y * y
        return y.sum(), g @ h, g @ x

    return step


def seed_rnn_cell(seed: int = 0) -> Workload:
    r = np.random.default_rng(seed)
    x, h = r.standard_normal((1, 10)).astype(F32), r.standard_normal((1, 20)).astype(F32)
    W_h, W_x = r.standard_normal((20, 20)).astype(F32), r.standard_normal((20, 10)).astype(F32)
    return Workload("seed_rnn_cell", "seed: RNN cell tanh(W_h h^T + W_x x^T).sum()", _cell_model,
                    [x, h], [W_h, W_x], numpy_step=_cell_numpy, size={"hidden": 20, "input": 10})


def _rnn_model(ns, h0, *rest):
    *xs, W_h, W_x = rest
    return std.rnn(ns, W_x, W_h, xs, h0)


def _rnn_numpy(xp, data, params, lr, train):
    h0, *xs = data
    W_h, W_x = params

    def step():
        loss, gW_x, gW_h = std.rnn_numpy(xp, W_x, W_h, xs, h0)
        return loss, gW_h, gW_x

    return step


def rnn_unrolled(T: int = 32, hidden: int = 20, inputs: int = 10, seed: int = 0) -> Workload:
    """h_{t+1} = tanh(W_x x_t + W_h h_t) over T steps (column vectors), loss = sum(h_T)."""
    r = np.random.default_rng(seed)
    h0 = r.standard_normal((hidden, 1)).astype(F32)
    xs = [r.standard_normal((inputs, 1)).astype(F32) for _ in range(T)]
    W_h = (r.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(F32)
    W_x = (r.standard_normal((hidden, inputs)) / np.sqrt(inputs)).astype(F32)
    return Workload("rnn", f"RNN cell unrolled, T={T}", lambda ns, *a: _rnn_model(ns, a[0], *a[1:]),
                    [h0, *xs], [W_h, W_x], numpy_step=_rnn_numpy,
                    size={"T": T, "hidden": hidden, "input": inputs})
