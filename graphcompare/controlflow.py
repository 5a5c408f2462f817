"""Control flow spelled once for every front end: ``sg.cond``/``sg.while_loop``/``sg.scan`` when
``F`` is staticgraph, the Python ``if``/``while``/``for`` they stand for otherwise (dyngraph,
PyTorch). These are the reference loops staticgraph's gradients equal bit for bit: a loop over
``xs[t]`` whose ``ys`` are stacked after it.

The ``*_model`` functions are the control-flow steps random programs draw
(``graphcompare.recipes_control``): small bodies with captured values (closures), nested
control flow inside a scan, and an inner scan capturing a value of the outer body.
"""

from __future__ import annotations

import numpy as np


def is_static(F) -> bool:
    return getattr(F, "__name__", "") == "staticgraph"


def scan(F, fn, init, xs):
    """``(final carry, ys)`` of ``fn(carry, x) -> (carry, y)`` over the leading axis of ``xs``."""
    if is_static(F):
        return F.scan(fn, init, xs)
    carry, ys = init, []
    for t in range(xs.shape[0]):
        carry, y = fn(carry, xs[t])
        ys.append(y)
    return carry, F.stack(ys)


def cond(F, pred, true_fn, false_fn, *operands):
    if is_static(F):
        return F.cond(pred, true_fn, false_fn, *operands)
    return true_fn(*operands) if bool(pred) else false_fn(*operands)


def while_loop(F, cond_fn, body_fn, loop_vars, maximum_iterations=None):
    if is_static(F):
        return F.while_loop(cond_fn, body_fn, loop_vars, maximum_iterations=maximum_iterations)
    steps = 0
    while (maximum_iterations is None or steps < maximum_iterations) and bool(cond_fn(*loop_vars)):
        loop_vars = body_fn(*loop_vars)
        steps += 1
    return loop_vars


def _act(x, act: str):
    return getattr(x, act)()


def scan_model(F, xs, c, act: str = "tanh", inner: str = "plain"):
    """An RNN-like scan over ``xs`` capturing ``c``; ``inner`` nests a cond or a scan in its body."""
    def body(h, x):
        a = _act(h * c + x, act)
        if inner == "cond":
            a = cond(F, x.sum() > 0, lambda v: v * c, lambda v: v - c, a)
        elif inner == "cond_same":  # one branch hands ``a`` through unchanged
            a = cond(F, x.sum() > 0, lambda v: v, lambda v: v - c, a)
        elif inner == "scan" and a.ndim >= 1:
            # the inner body captures h, a value of the outer body
            _, a = scan(F, lambda g, e: (_act(g * e + h[0] * 0.5, act), g + e), a[0] * 0.5, a)
        return a * 0.5 + h * 0.5, a * c
    _, ys = scan(F, body, xs[0] * 0.5, xs)
    return ys


def cond_model(F, p, a, c, same: str = "none"):
    """``a``'s branch chosen by the sign of ``p.sum()``; both branches capture ``c``, except
    the one ``same`` names (``"true"``/``"false"``), which returns ``a`` unchanged."""
    t = (lambda v: v) if same == "true" else (lambda v: (v * c).tanh() + c)
    f = (lambda v: v) if same == "false" else (lambda v: v * v - c)
    return cond(F, p.sum() > 0, t, f, a)


def while_model(F, v, c, k: int, bound: int | None = None):
    """``k`` iterations (0 hands ``v`` through) of a body capturing ``c``, as a while loop on a
    counter; ``bound``: ``maximum_iterations`` (fewer steps when below ``k``)."""
    zero = F.constant(np.array(0, dtype=np.int64)) if is_static(F) else 0
    _, h = while_loop(F, lambda i, h: i < k, lambda i, h: (i + 1, (h * c).tanh() + h * 0.5), (zero, v),
                      maximum_iterations=bound)
    return h


__all__ = ["scan", "cond", "while_loop", "scan_model", "cond_model", "while_model", "is_static"]
