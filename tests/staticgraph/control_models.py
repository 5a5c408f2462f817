"""Models with control flow written twice: with sg.cond/while_loop/scan, and as the Python loop
dyngraph (and PyTorch) run. The Python loop is the reference whose gradients staticgraph
reproduces bit for bit with ``optimize=False``: a loop over ``xs[t]``, ``ys`` stacked after it.
"""

import numpy as np

import staticgraph as sg


def rnn_step(W, U, b):
    """The carry is used twice a step and W twice: the contributions' order matters."""
    def step(h, x):
        a = (h @ W + x @ U + b).tanh()
        h2 = a * 0.5 + h * (W.sum() * 0.1)
        return h2, (h2 * a).sum()
    return step


def scan_static(xs, h0, W, U, b):
    hT, ys = sg.scan(rnn_step(W, U, b), h0, xs)
    return hT.sum() + (ys * ys).sum() + (W * W).sum()


def scan_python(xs, h0, W, U, b, stack):
    step = rnn_step(W, U, b)
    h, ys = h0, []
    for t in range(xs.shape[0]):
        h, y = step(h, xs[t])
        ys.append(y)
    Y = stack(ys)
    return h.sum() + (Y * Y).sum() + (W * W).sum()


def while_static(x0, n, W):
    def body(i, x):
        return i + 1, (x @ W).tanh() + x * W.sum() * 0.1
    _, xT = sg.while_loop(lambda i, x: i < n, body, (sg.constant(np.int64(0)), x0))
    return (xT * xT).sum() + (W * 0.5).sum()


def while_python(x0, W, n):
    i, x = 0, x0
    while i < n:
        i, x = i + 1, (x @ W).tanh() + x * W.sum() * 0.1
    return (x * x).sum() + (W * 0.5).sum()


def cond_static(x, W):
    z = sg.cond((x.sum() > 0), lambda a: (a @ W).tanh() * W[0], lambda a: a * a.sum() - W[1], x)
    return (z * x).sum() + W.sum()


def cond_python(x, W):
    z = (x @ W).tanh() * W[0] if x.sum().item() > 0 else x * x.sum() - W[1]
    return (z * x).sum() + W.sum()
