"""W4 (a memory-bound elementwise chain on large vectors) and W1 (a deep chain of tiny ops) as
experiment workloads; the math is ``standard``'s."""

from __future__ import annotations

import numpy as np

from . import standard as std
from .base import Workload

F32 = np.float32


def _ew_model(ns, x, y):
    return std.elementwise(ns, x, y)


def _ew_numpy(xp, data, params, lr, train):
    x, y = params
    return lambda: std.elementwise_numpy(xp, x, y)


def elementwise(n: int = 1 << 20, seed: int = 0) -> Workload:
    x, y = std.elementwise_inputs(np.random.default_rng(seed), n)
    return Workload("elementwise", f"elementwise chain sum(tanh(x*y+x)*exp(-y*y)), n={n:,}", _ew_model,
                    [], [x, y], numpy_step=_ew_numpy, size={"n": n})


def _deep_model(depth):
    ops = std.chain_ops(depth)

    def model(ns, x):
        return std.chain(ns, x, ops).sum()

    return model


def _deep_numpy(depth):
    ops = std.chain_ops(depth)

    def make(xp, data, params, lr, train):
        (x0,) = params

        def step():
            x, g = std.chain_numpy(xp, x0, ops)
            return x.sum(), g

        return step

    return make


def deep_chain(depth: int = 200, width: int = 1, seed: int = 0) -> Workload:
    """``depth`` elementwise ops (mul, add, tanh repeated) on ``width`` elements."""
    depth = max(3, depth - depth % 3)
    x = np.random.default_rng(seed).random(width).astype(F32)
    return Workload("deep_chain", f"deep chain of {depth} tiny ops on {width} element(s)", _deep_model(depth),
                    [], [x], numpy_step=_deep_numpy(depth), size={"depth": depth, "width": width})
