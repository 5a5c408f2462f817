"""Models where one value reaches the loss along several paths through a loop: as a scan's
``xs`` and as a closure of its body (once, twice, in a ``while_loop`` or a ``cond`` or an inner
``scan`` inside it), before and after the loop, through a slice, as the initial carry, as a
``y`` or a carry the body returns unchanged. Each is written once on the shared surface with
``graphcompare.controlflow`` (``CF``): staticgraph runs it with ``sg.scan``/``sg.while_loop``,
dyngraph and PyTorch with the Python loop it stands for, which sums the value's gradient terms
in its consumers' creation order (before the loop; step ``t``: ``xs[t]``, then the body's
consumers; the ``stack`` of the ``ys``; the final carry's consumers).

Every model is ``model(F, xs, h0, w) -> loss``: ``xs`` is ``(T, N)`` (``(T, 4, N)`` where
``XS_SHAPE`` says), ``h0`` and ``w`` are ``(N,)``; ``N`` elements give a different order of
summation as many chances to show in the last bits.
"""

from __future__ import annotations

import numpy as np

from graphcompare import controlflow as CF

MODELS: dict = {}
N = 24
XS_SHAPE = {"nested_row": (4, N)}  # the shape of a row of xs, where not (N,)


def model(f):
    MODELS[f.__name__] = f
    return f


def _zero(F):
    return F.constant(np.array(0, dtype=np.int64)) if CF.is_static(F) else 0


def _scan_pair(F, fn, init, xs: tuple):
    """``CF.scan`` over a pair of xs: the Python loop takes both rows, in order, before the body."""
    if CF.is_static(F):
        return F.scan(fn, init, xs)
    carry, ys = init, []
    for t in range(xs[0].shape[0]):
        carry, y = fn(carry, tuple(x[t] for x in xs))
        ys.append(y)
    return carry, F.stack(ys)


def _loss(h, ys):
    return (h * h).sum() + (ys * ys).sum()


# --------------------------------------------------------------------------- xs captured by the body


@model
def captured_once(F, xs, h0, w):
    h, ys = CF.scan(F, lambda h, x: (h * 0.5 + (xs * x).sum(), x * 2.0), h0, xs)
    return _loss(h, ys)


@model
def captured_twice(F, xs, h0, w):
    def body(h, x):
        return (h * 0.5 + (xs * x).sum(axis=0)).tanh() + (xs.tanh() * h).sum(axis=0), x * h
    h, ys = CF.scan(F, body, h0, xs)
    return _loss(h, ys)


@model
def captured_row_unused(F, xs, h0, w):  # the body reads xs only as a closure: no row terms
    h, ys = CF.scan(F, lambda h, x: (h * 0.5 + (xs * h).sum(axis=0), h * 2.0), h0, xs)
    return _loss(h, ys)


@model
def captured_used_before_and_after(F, xs, h0, w):
    a = (xs * 1.5).sum()
    h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + (xs * x).sum(axis=0)).sin(), x * h), h0, xs)
    return _loss(h, ys) + a + (xs * xs).sum()


@model
def used_after(F, xs, h0, w):  # not captured: the rows' terms, then the later consumer's
    h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + x * w).sin(), x * h), h0, xs)
    return _loss(h, ys) + (xs * xs).sum()


@model
def scan_over_columns_of_captured(F, xs, h0, w):  # xs[:, 1:], a view: the slice's terms first
    def body(h, x):
        return (h[1:] * 0.5 + x * (xs * xs).sum(axis=0)[1:]).sin().sum() + h, x * h[1:]
    h, ys = CF.scan(F, body, h0, xs[:, 1:])
    return _loss(h, ys)


@model
def scan_over_rows_of_captured(F, xs, h0, w):
    h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + x * (xs * xs).sum(axis=0)).sin(), x * h), h0, xs[::2])
    return _loss(h, ys)


@model
def captures_a_slice(F, xs, h0, w):
    v = xs[:1] * 2.0
    h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + x * v.sum(axis=0)).sin(), x * h + xs[0]), h0, xs)
    return _loss(h, ys)


@model
def two_scans(F, xs, h0, w):
    h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + x * xs.sum(axis=0)).sin(), x * h), h0, xs)
    h2, ys2 = CF.scan(F, lambda h, x: ((h * 0.3 + x * xs[0]).cos(), x + h), h, xs)
    return _loss(h2, ys) + (ys2 * ys2).sum()


@model
def xs_twice(F, xs, h0, w):
    h, ys = _scan_pair(F, lambda h, x: ((h * 0.5 + x[0] * x[1]).sin(), x[0] * h), h0, (xs, xs))
    return _loss(h, ys)


@model
def xs_twice_and_captured(F, xs, h0, w):
    h, ys = _scan_pair(F, lambda h, x: ((h * 0.5 + x[0] * x[1] + xs.sum(axis=0)).sin(), x[0] * h), h0, (xs, xs))
    return _loss(h, ys)


@model
def xs_may_be_the_closure(F, xs, h0, w):  # the scanned value is xs itself when the branch hands it through
    v = CF.cond(F, h0.sum() > 0, lambda a: a, lambda a: a * 1.5, xs)
    h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + (xs * x).sum(axis=0)).sin(), x * h), h0, v)
    return _loss(h, ys) + (xs * 0.5).sum()


@model
def closure_may_be_xs(F, xs, h0, w):
    v = CF.cond(F, h0.sum() > 0, lambda a: a, lambda a: a * 1.5, xs)
    h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + (v * x).sum(axis=0)).sin(), x * h), h0, xs)
    return _loss(h, ys) + (xs * 0.5).sum()


# --------------------------------------------------------------------------- control flow in the body


@model
def while_in_body_captures(F, xs, h0, w):
    def body(h, x):
        step = (lambda i, v: (i + 1, (v * 0.7 + (xs * x).sum(axis=0)).tanh()))
        _, v = CF.while_loop(F, lambda i, v: i < 2, step, (_zero(F), h))
        return v + x * 0.5, v * x
    h, ys = CF.scan(F, body, h0, xs)
    return _loss(h, ys)


@model
def while_captures_its_init_then_scan(F, xs, h0, w):
    step = (lambda i, v: (i + 1, (v * 0.7 + xs * 0.3).tanh() * xs))
    _, v = CF.while_loop(F, lambda i, v: i < 2, step, (_zero(F), xs))
    h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + x + xs[-1]).sin(), x * h), h0, xs)
    return _loss(h, ys) + (v * v).sum()


@model
def cond_in_body_captures(F, xs, h0, w):
    def body(h, x):
        a = CF.cond(F, x.sum() > 0, lambda v: v * xs.sum(axis=0), lambda v: v - xs[0], h)
        return (a * 0.5 + x).tanh(), a * x
    h, ys = CF.scan(F, body, h0, xs)
    return _loss(h, ys)


@model
def nested_scan_over_captured(F, xs, h0, w):  # the inner scan's xs is the outer closure
    def body(h, x):
        c, zs = CF.scan(F, lambda c, r: ((c * 0.9 + r * x).tanh(), c * r), h, xs)
        return c * 0.5 + x, zs.sum(axis=0)
    h, ys = CF.scan(F, body, h0, xs)
    return _loss(h, ys)


@model
def nested_scan_captures_it_too(F, xs, h0, w):
    def body(h, x):
        c, zs = CF.scan(F, lambda c, r: ((c * 0.9 + r * xs.sum(axis=0)).tanh(), c * r), h, xs)
        return c * 0.5 + x, zs.sum(axis=0)
    h, ys = CF.scan(F, body, h0, xs)
    return _loss(h, ys)


@model
def nested_row(F, xs, h0, w):  # xs (T, 4, N): the inner scan runs over the outer row, captures it
    def body(h, x):
        inner = (lambda c, r: ((c * 0.9 + r * x.sum(axis=0) + xs[0, 0]).tanh(), c * r))
        c, zs = CF.scan(F, inner, h, x)
        return c * 0.5 + x[0], zs.sum(axis=0)
    h, ys = CF.scan(F, body, h0, xs)
    return _loss(h, ys)


@model
def scan_in_a_branch(F, xs, h0, w):
    def inner(v):
        c, zs = CF.scan(F, lambda c, r: ((c * 0.9 + r * xs.sum(axis=0)).tanh(), c * r), v, xs)
        return c + zs.sum(axis=0)
    a = CF.cond(F, h0.sum() > 0, inner, lambda v: v * xs[0], h0)
    return (a * a).sum() + (xs * 0.5).sum()


@model
def while_carry_and_closure_into_a_scan(F, xs, h0, w):  # in the first step the carry v is xs
    def step(i, v):
        h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + x * v.sum()).sin(), x * h + xs[0]), v[0], xs)
        return i + 1, v * 0.5 + h * ys.sum() * 0.1 + xs * 0.2
    _, v = CF.while_loop(F, lambda i, v: i < 2, step, (_zero(F), xs))
    return (v * v).sum()


@model
def while_carry_and_closure_into_a_cond(F, xs, h0, w):
    def step(i, v):
        a = CF.cond(F, v.sum() > 0, lambda a: a * xs + (xs * a).sin(), lambda a: a - xs * 0.5, v)
        return i + 1, a.tanh()
    _, v = CF.while_loop(F, lambda i, v: i < 2, step, (_zero(F), xs))
    return (v * v).sum() + (xs * 0.5).sum()


# --------------------------------------------------------------------------- carries and ys


@model
def init_is_xs(F, xs, h0, w):
    h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + x).sin(), (h * x).sum(axis=0)), xs, xs)
    return _loss(h, ys)


@model
def y_is_captured(F, xs, h0, w):  # ys stacks xs itself: its terms come from the stack after the loop
    h, ys = CF.scan(F, lambda h, x: ((h * 0.5 + x).sin(), xs), h0, xs)
    return _loss(h, ys)


@model
def y_is_a_closure_the_body_uses(F, xs, h0, w):  # w's terms: every step's product, then the stack's
    h, ys = CF.scan(F, lambda h, x: ((h * w + x).sin(), w), h0, xs)
    return _loss(h, ys) + (w * 0.5).sum()


@model
def carry_becomes_captured(F, xs, h0, w):  # the next step's carry terms are xs's
    h, ys = CF.scan(F, lambda h, x: (xs, (h * x).sum(axis=0)), xs * 0.5, xs)
    return _loss(h, ys) + (xs * 0.25).sum()


@model
def init_captured_and_y(F, xs, h0, w):
    h, ys = CF.scan(F, lambda h, x: ((h * x + w).sin(), w), w, xs)
    return _loss(h, ys) + (w * 0.5).sum()


@model
def carries_swap(F, xs, h0, w):
    (a, b), ys = CF.scan(F, lambda c, x: ((c[1], (c[0] * x + w).sin()), c[0] * w), (h0, w), xs)
    return _loss(a, ys) + (b * w).sum() + (h0 * 2.0).sum()


@model
def while_carry_becomes_captured(F, xs, h0, w):
    _, v = CF.while_loop(F, lambda i, v: i < 2, lambda i, v: (i + 1, w), (_zero(F), h0 * w))
    return (v * h0).sum() + (w * 0.5).sum() + (v * w).sum()


def arrays(name: str, T: int, dtype: str, seed: int) -> list:
    """The inputs of ``MODELS[name]`` for ``T`` steps."""
    rng = np.random.default_rng(seed)
    row = XS_SHAPE.get(name, (N,))
    return [rng.uniform(-1.5, 1.5, (T,) + row).astype(dtype), rng.uniform(-1.0, 1.0, (N,)).astype(dtype),
            rng.uniform(-1.0, 1.0, (N,)).astype(dtype)]
