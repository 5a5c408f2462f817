"""A memory-bound elementwise chain on large vectors, and a deep chain of tiny ops."""

from __future__ import annotations

import numpy as np

from .base import Workload

F32 = np.float32


# -- sum(tanh(x*y + x) * exp(-y*y)), gradients for x and y --------------------------------------


def _ew_model(ns, x, y):
    return (ns.tanh(x * y + x) * ns.exp(-(y * y))).sum()


def _ew_numpy(xp, data, params, lr, train):
    x, y = params

    def step():
        t = xp.tanh(x * y + x)
        e = xp.exp(-(y * y))
        loss = (t * e).sum()
        ga = e * (1 - t * t)
        return loss, ga * (y + 1), ga * x - 2 * (t * e) * y

    return step


def elementwise(n: int = 1 << 20, seed: int = 0) -> Workload:
    r = np.random.default_rng(seed)
    x, y = r.standard_normal(n).astype(F32), r.standard_normal(n).astype(F32)
    return Workload("elementwise", f"elementwise chain sum(tanh(x*y+x)*exp(-y*y)), n={n:,}", _ew_model,
                    [], [x, y], numpy_step=_ew_numpy, size={"n": n})


# -- a deep chain of tiny ops: x*1.0001 + 0.001, then tanh, repeated ------------------------------


def _deep_model(depth):
    def model(ns, x):
        for _ in range(depth // 3):
            x = ns.tanh(x * 1.0001 + 0.001)
        return x.sum()

    return model


def _deep_numpy(depth):
    def make(xp, data, params, lr, train):
        (x0,) = params
        a, c = F32(1.0001), F32(0.001)

        def step():
            ys = []
            x = x0
            for _ in range(depth // 3):
                x = xp.tanh(x * a + c)
                ys.append(x)
            g = xp.ones_like(x)
            for y in reversed(ys):
                g = g * (1 - y * y) * a
            return x.sum(), g

        return step

    return make


def deep_chain(depth: int = 200, width: int = 1, seed: int = 0) -> Workload:
    """``depth`` elementwise ops (mul, add, tanh repeated) on ``width`` elements."""
    depth = max(3, depth - depth % 3)
    x = np.random.default_rng(seed).random(width).astype(F32)
    return Workload("deep_chain", f"deep chain of {depth} tiny ops on {width} element(s)", _deep_model(depth),
                    [], [x], numpy_step=_deep_numpy(depth), size={"depth": depth, "width": width})
