"""Training steps: the MLP (784-512-512-10) and a small CNN, softmax cross-entropy, SGD."""

from __future__ import annotations

import numpy as np

from . import standard as std
from .base import Workload

F32 = np.float32


def _mlp_model(ns, x, labels, *params):
    return std.mlp(ns, x, labels, params)


def _mlp_numpy(xp, data, params, lr, train):
    x, labels = data

    def step():
        loss, grads = std.mlp_numpy(xp, x, labels, params)
        if train:
            for p, g in zip(params, grads):
                p -= lr * g
        return loss

    return step


def mlp(batch: int = 128, sizes=(784, 512, 512, 10), lr: float = 0.01, seed: int = 0) -> Workload:
    r = np.random.default_rng(seed)
    x, labels = std.mlp_batch(r, batch, sizes)
    params = std.mlp_params(r, sizes)
    return Workload("mlp", f"MLP training step {'-'.join(map(str, sizes))}, batch {batch}", _mlp_model,
                    [x, labels], params, train=True, lr=lr, numpy_step=_mlp_numpy,
                    size={"batch": batch, "sizes": list(sizes)})


# -- small CNN ----------------------------------------------------------------------------------


def _cnn_model(ns, x, labels, w1, w2, W, b):
    h = ns.tanh(ns.conv2d(x, w1, stride=1, padding=1))
    h = ns.tanh(ns.conv2d(h, w2, stride=1, padding=1))
    h = h.reshape(h.shape[0], -1)
    return ns.softmax_cross_entropy(h @ W + b, labels)


def _windows(xp, x, k):
    # (N, C, H, W) -> (N, C, H-k+1, W-k+1, k, k) view
    return xp.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))


def _pad(xp, x, p):
    return xp.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x


def conv_fwd(xp, x, w, p):
    cols = _windows(xp, _pad(xp, x, p), w.shape[2])
    return xp.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2), cols


def conv_bwd(xp, g, cols, w, p, x_shape):
    k = w.shape[2]
    gw = xp.tensordot(g, cols, axes=([0, 2, 3], [0, 2, 3]))
    gcols = _windows(xp, _pad(xp, g, k - 1), k)
    gxp = xp.tensordot(gcols, w[:, :, ::-1, ::-1], axes=([1, 4, 5], [0, 2, 3])).transpose(0, 3, 1, 2)
    H, Wd = x_shape[2], x_shape[3]
    return gxp[:, :, p:p + H, p:p + Wd], gw


def _cnn_numpy(xp, data, params, lr, train):
    x, labels = data
    w1, w2, W, b = params

    def step():
        a1, c1 = conv_fwd(xp, x, w1, 1)
        h1 = xp.tanh(a1)
        a2, c2 = conv_fwd(xp, h1, w2, 1)
        h2 = xp.tanh(a2)
        flat = h2.reshape(h2.shape[0], -1)
        loss, g = std.softmax_xent_grad(xp, flat @ W + b, labels)
        gW, gb = flat.T @ g, g.sum(axis=0)
        g2 = (g @ W.T).reshape(h2.shape) * (1 - h2 * h2)
        g1, gw2 = conv_bwd(xp, g2, c2, w2, 1, h1.shape)
        g1 = g1 * (1 - h1 * h1)
        _, gw1 = conv_bwd(xp, g1, c1, w1, 1, x.shape)
        if train:
            for p, gp in ((w1, gw1), (w2, gw2), (W, gW), (b, gb)):
                p -= lr * gp
        return loss

    return step


def cnn(batch: int = 16, image: int = 28, channels=(1, 8, 8), classes: int = 10, lr: float = 0.01,
        seed: int = 0) -> Workload:
    r = np.random.default_rng(seed)
    c0, c1, c2 = channels
    x = r.standard_normal((batch, c0, image, image)).astype(F32)
    labels = r.integers(0, classes, batch).astype(np.int64)
    w1 = (r.standard_normal((c1, c0, 3, 3)) / np.sqrt(9 * c0)).astype(F32)
    w2 = (r.standard_normal((c2, c1, 3, 3)) / np.sqrt(9 * c1)).astype(F32)
    W = (r.standard_normal((c2 * image * image, classes)) / np.sqrt(c2 * image * image)).astype(F32)
    b = np.zeros(classes, F32)
    return Workload("cnn", f"CNN training step: 2x conv3x3 ({c0}->{c1}->{c2}) + dense, batch {batch}, "
                    f"{image}x{image}", _cnn_model, [x, labels], [w1, w2, W, b], train=True, lr=lr,
                    numpy_step=_cnn_numpy, size={"batch": batch, "image": image, "channels": list(channels)})
