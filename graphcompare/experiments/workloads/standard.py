"""W1-W4, the workloads the benchmarks and the experiments name, each defined once here.

W1  a chain of tiny elementwise ops (``x * 1.0001``, ``+ 0.001``, ``tanh``, repeated; 200 of
    them) on a one-element tensor, loss ``sum``: what each op costs beside its kernel.
W2  the RNN cell ``h = tanh(W_x @ x_t + W_h @ h)`` (W_x 20x10, W_h 20x20) unrolled 32 steps,
    loss ``sum(h_32)``, gradients for both weights: many small matrix products.
W3  an MLP step: batch 128, 784-512-512-10, tanh, mean softmax cross-entropy, gradients of all
    six parameters: large matrix products, where the execution model should not matter.
W4  ``sum(tanh(x*y + x) * exp(-y*y))``, gradients for x and y, on long float32 vectors:
    memory-bound elementwise work, where fusion matters.

Each model is written once against a namespace ``ns`` that has ``tanh`` and ``exp``
(``dyngraph``, ``staticgraph``, NumPy, PyTorch, ``autograd.numpy`` and MyGrad all qualify; W3's
loss needs ``softmax_cross_entropy`` too), beside its forward and backward written by hand with
an array namespace ``xp`` (NumPy or CuPy) and its inputs. Dtypes and layouts are parameters:
the benchmarks differ in those, never in the math.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- W1: a deep chain

MUL, ADD = 1.0001, 0.001


def chain_ops(depth: int) -> tuple:
    """The first ``depth`` ops of the cycle mul, add, tanh."""
    return (("mul", "add", "tanh") * (depth // 3 + 1))[:depth]


W1_OPS = chain_ops(200)


def chain(ns, x, ops=W1_OPS):
    """W1's forward: the ops applied in turn (the caller takes the ``sum``)."""
    for op in ops:
        if op == "mul":
            x = x * MUL
        elif op == "add":
            x = x + ADD
        else:
            x = ns.tanh(x)
    return x


def chain_numpy(xp, x, ops=W1_OPS) -> tuple:
    """W1 by hand: ``(chain output, d sum(output) / d x)``. The constants are scalars of ``x``'s
    dtype, made once: NumPy converts a Python float on every call, which on one element costs
    as much as the op."""
    mul, add, one = (x.dtype.type(c) for c in (MUL, ADD, 1.0))
    outs = []
    h = x
    for op in ops:
        if op == "mul":
            h = xp.multiply(h, mul)
        elif op == "add":
            h = xp.add(h, add)
        else:
            h = xp.tanh(h)
        outs.append(h)
    g = xp.ones_like(h)
    for op, out in zip(reversed(ops), reversed(outs)):
        if op == "mul":
            g = xp.multiply(g, mul)
        elif op == "tanh":
            g = xp.multiply(g, xp.subtract(one, xp.multiply(out, out)))
    return h, g


# --------------------------------------------------------------------------- W2: an RNN

T, H, X = 32, 20, 10


def rnn(ns, Wx, Wh, xs, h0):
    """W2's loss: ``sum(h_T)`` after ``h = tanh(Wx @ xs[t] + Wh @ h)`` for each ``t``."""
    h = h0
    for t in range(len(xs)):
        h = ns.tanh(Wx @ xs[t] + Wh @ h)
    return h.sum()


def rnn_numpy(xp, Wx, Wh, xs, h0) -> tuple:
    """W2 by hand: ``(loss, dWx, dWh)``; ``xs[t]`` and ``h0`` are vectors or column vectors."""
    hs = [h0]
    for t in range(len(xs)):
        hs.append(xp.tanh(Wx @ xs[t] + Wh @ hs[-1]))
    gh = xp.ones_like(h0)
    gWx, gWh = xp.zeros_like(Wx), xp.zeros_like(Wh)
    columns = h0.ndim == 2
    for t in range(len(xs) - 1, -1, -1):
        ga = gh * (1 - hs[t + 1] * hs[t + 1])
        gWx += ga @ xs[t].T if columns else xp.outer(ga, xs[t])
        gWh += ga @ hs[t].T if columns else xp.outer(ga, hs[t])
        gh = Wh.T @ ga
    return hs[-1].sum(), gWx, gWh


def rnn_inputs(rng, dtype="float64", columns: bool = True) -> list:
    """``[Wx, Wh, xs, h0]``; ``columns``: ``xs[t]`` and ``h0`` as (n, 1) matrices, else vectors."""
    tail = (1,) if columns else ()
    return [(rng.standard_normal((H, X)) * 0.3).astype(dtype), (rng.standard_normal((H, H)) * 0.3).astype(dtype),
            rng.standard_normal((T, X) + tail).astype(dtype), np.zeros((H,) + tail, dtype)]


# --------------------------------------------------------------------------- W3: an MLP

BATCH, SIZES = 128, (784, 512, 512, 10)


def mlp_logits(ns, x, params):
    """W3's forward up to the logits: ``h @ W + b`` per layer, ``tanh`` between layers."""
    h = x
    n = len(params) // 2
    for i in range(n):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n - 1:
            h = ns.tanh(h)
    return h


def mlp(ns, x, labels, params):
    """W3's loss: mean softmax cross-entropy of the logits."""
    return ns.softmax_cross_entropy(mlp_logits(ns, x, params), labels)


def softmax_xent_grad(xp, logits, labels) -> tuple:
    """Mean cross-entropy and its gradient with respect to the logits."""
    m = logits.max(axis=1, keepdims=True)
    e = xp.exp(logits - m)
    s = e.sum(axis=1, keepdims=True)
    n = logits.shape[0]
    rows = xp.arange(n)
    loss = (xp.log(s[:, 0]) + m[:, 0] - logits[rows, labels]).mean()
    g = e / s
    g[rows, labels] -= 1
    return loss, g / n


def mlp_numpy(xp, x, labels, params) -> tuple:
    """W3 by hand: ``(loss, [dW0, db0, dW1, ...])``."""
    acts = [x]
    h = x
    n = len(params) // 2
    for i in range(n):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n - 1:
            h = xp.tanh(h)
        acts.append(h)
    loss, g = softmax_xent_grad(xp, h, labels)
    grads = [None] * len(params)
    for i in range(n - 1, -1, -1):
        if i < n - 1:
            g = g * (1 - acts[i + 1] * acts[i + 1])
        grads[2 * i], grads[2 * i + 1] = acts[i].T @ g, g.sum(axis=0)
        if i > 0:
            g = g @ params[2 * i].T
    return loss, grads


def mlp_params(rng, sizes=SIZES, dtype="float32") -> list:
    """``[W0, b0, W1, b1, ...]``: weights scaled by ``1/sqrt(fan_in)``, zero biases."""
    out = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        out += [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype), np.zeros(b, dtype)]
    return out


def mlp_batch(rng, batch=BATCH, sizes=SIZES, dtype="float32") -> list:
    """``[x, labels]``: a batch of standard normal inputs and int64 class labels."""
    return [rng.standard_normal((batch, sizes[0])).astype(dtype), rng.integers(0, sizes[-1], batch).astype(np.int64)]


# --------------------------------------------------------------------------- W4: elementwise

N4 = 4_000_000


def elementwise(ns, x, y):
    """W4's loss: ``sum(tanh(x*y + x) * exp(-y*y))``."""
    return (ns.tanh(x * y + x) * ns.exp(-(y * y))).sum()


def elementwise_numpy(xp, x, y) -> tuple:
    """W4 by hand: ``(loss, dx, dy)``."""
    a = xp.tanh(x * y + x)
    e = xp.exp(-y * y)
    da = e * (1 - a * a)
    return (a * e).sum(), da * (y + 1), da * x - 2 * y * e * a


def elementwise_inputs(rng, n=N4, dtype="float32") -> list:
    return [rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)]
