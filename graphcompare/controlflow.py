"""Control flow spelled once for every front end: ``sg.cond``/``sg.while_loop``/``sg.scan`` when
``F`` is staticgraph, the Python ``if``/``while``/``for`` they stand for otherwise (dyngraph,
PyTorch). These are the reference loops staticgraph's gradients equal bit for bit: a loop over
``xs[t]`` whose ``ys`` are stacked after it.

The ``*_model`` functions are the control-flow steps random programs draw
(``graphcompare.recipes_control``): small bodies with captured values (closures), nested
control flow inside a scan, an inner scan capturing a value of the outer body, and a matrix
product by a captured weight inside a loop body (``matmul_scan_model``, ``matmul_while_model``:
the loops ``staticgraph.passes.stack`` rewrites, and the ones it must leave alone).
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


def _product(a, w, side: str):
    """``a @ w`` ("right": the weight on the right) or ``w @ a`` ("left"), and that product
    summed to one column ("right") or one row ("left"), which broadcasts onto ``a``'s shape."""
    if side == "right":
        p = a @ w
        return p, p.sum(axis=-1, keepdims=True)
    p = w @ a
    return p, p.sum(axis=0, keepdims=True)


def _operand(operand: str, h, x, c):
    """The step's matrix multiplied by the weight: the carry, the row of ``xs``, a value the
    step computes (kept per step for the gradient: a residual), or ``c``, captured and the same
    at every step."""
    if operand == "carry":
        return h
    if operand == "xs":
        return x
    if operand == "step":  # a while loop's step has no row of xs
        return (h * 1.5 if x is None else h * 1.5 + x).tanh()
    return c


def matmul_scan_model(F, xs, w, c=None, side: str = "right", operand: str = "carry", rows: tuple = ()):
    """A scan over ``xs`` whose step multiplies a matrix by ``w``, a weight the body captures
    (the same at every step), on ``side`` (``_product``); ``operand`` chooses the matrix
    (``_operand``; ``c`` for ``"fixed"``). A row of ``xs`` of another rank than 2 is viewed as
    the matrix of shape ``rows``. The products are the ``ys``; summed to a column or row, each
    also moves the carry, so a step's cotangent of its product comes from every later step.

    ``w``'s gradient is one term per step, ``operand^T @ g_t`` or ``g_t @ operand^T``: with an
    operand that changes from step to step, the sum over the steps that
    ``staticgraph.passes.stack`` forms as one product after the loop; with ``"fixed"`` a term
    with a loop-invariant operand, which it leaves alone, as it leaves the carry's own terms."""
    def mat(x):
        return x if x.ndim == 2 else x.reshape(*rows)

    def body(h, x):
        x = mat(x)
        p, s = _product(_operand(operand, h, x, c), w, side)
        return (h * 0.5 + x + s * 0.1).tanh(), p

    _, ys = scan(F, body, mat(xs[0]) * 0.5, xs)
    return ys


def matmul_while_model(F, v, w, c=None, k: int = 2, side: str = "right", operand: str = "carry", rows: tuple = ()):
    """``k`` iterations of a while loop (on a counter) whose body multiplies a matrix by ``w``,
    a captured weight, as ``matmul_scan_model``'s step (without ``xs``: ``operand`` is
    ``"carry"``, ``"step"`` or ``"fixed"``); the carry starts at ``v`` (viewed as the matrix
    ``rows`` when it is not 2-D) and is the result."""
    zero = F.constant(np.array(0, dtype=np.int64)) if is_static(F) else 0

    def body(i, h):
        _, s = _product(_operand(operand, h, None, c), w, side)
        return i + 1, (h * 0.5 + s * 0.1).tanh()

    _, h = while_loop(F, lambda i, h: i < k, body, (zero, v if v.ndim == 2 else v.reshape(*rows)))
    return h


__all__ = ["scan", "cond", "while_loop", "scan_model", "cond_model", "while_model", "matmul_scan_model",
           "matmul_while_model", "is_static"]
