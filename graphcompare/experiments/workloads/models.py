"""Model steps: an LSTM language-model step and a transformer block (attention, layer norm,
GELU MLP), each one model function for dyngraph, staticgraph, PyTorch and JAX.

The functions a model needs beyond ``@``, slicing and ``reshape`` (``sigmoid``, ``gelu``,
``layer_norm``, ``softmax``, axis swaps) come from ``_helpers(ns)``, which maps the workload
namespace (``SharedNS`` for both front ends, ``TorchNS``, ``JaxNS``) to each library's spelling
of the same math. The hand-written NumPy versions (forward and backward) are in ``models_numpy``.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Workload
from .models_numpy import lstm_numpy, sgd_step, transformer_numpy

F32 = np.float32


def _helpers(ns):
    kind = type(ns).__name__
    if kind == "TorchNS":
        import torch
        import torch.nn.functional as tf

        return dict(sigmoid=torch.sigmoid, gelu=tf.gelu, softmax=lambda x: torch.softmax(x, -1),
                    layer_norm=lambda x, w, b: tf.layer_norm(x, (x.shape[-1],), w, b),
                    heads=lambda x: x.permute(0, 2, 1, 3), mT=lambda x: x.transpose(-2, -1))
    if kind == "JaxNS":
        import jax
        import jax.numpy as jnp

        def layer_norm(x, w, b):
            mu = x.mean(-1, keepdims=True)
            var = ((x - mu) ** 2).mean(-1, keepdims=True)
            return (x - mu) / jnp.sqrt(var + 1e-5) * w + b

        return dict(sigmoid=jax.nn.sigmoid, gelu=lambda x: jax.nn.gelu(x, approximate=False),
                    softmax=lambda x: jax.nn.softmax(x, -1), layer_norm=layer_norm,
                    heads=lambda x: jnp.transpose(x, (0, 2, 1, 3)), mT=lambda x: jnp.swapaxes(x, -1, -2))
    F = ns
    return dict(sigmoid=lambda x: x.sigmoid(), gelu=F.gelu, softmax=lambda x: x.softmax(-1),
                layer_norm=lambda x, w, b: F.layer_norm(x, (x.shape[-1],), w, b),
                heads=lambda x: x.permute(0, 2, 1, 3), mT=lambda x: x.transpose(-2, -1))


# -- LSTM language-model step -------------------------------------------------------------------


def _lstm_model(ns, tokens, targets, h, c, emb, w_ih, w_hh, b, w_out, b_out):
    """Embed, run the LSTM cell over T steps (gates i, f, g, o), predict the next token each step."""
    fn = _helpers(ns)
    hidden = h.shape[1]
    loss = None
    for t in range(tokens.shape[1]):
        gates = emb[tokens[:, t]] @ w_ih + h @ w_hh + b
        i, f = fn["sigmoid"](gates[:, :hidden]), fn["sigmoid"](gates[:, hidden:2 * hidden])
        g, o = ns.tanh(gates[:, 2 * hidden:3 * hidden]), fn["sigmoid"](gates[:, 3 * hidden:])
        c = f * c + i * g
        h = o * ns.tanh(c)
        step = ns.softmax_cross_entropy(h @ w_out + b_out, targets[:, t])
        loss = step if loss is None else loss + step
    return loss * (1.0 / tokens.shape[1])


def lstm_lm(batch: int = 16, T: int = 12, vocab: int = 64, embed: int = 32, hidden: int = 64, lr: float = 0.1,
            seed: int = 0) -> Workload:
    r = np.random.default_rng(seed)
    seq = r.integers(0, vocab, (batch, T + 1)).astype(np.int64)
    tokens, targets = seq[:, :-1].copy(), seq[:, 1:].copy()
    zeros = np.zeros((batch, hidden), F32)
    k = 1 / math.sqrt(hidden)
    params = [
        r.standard_normal((vocab, embed)).astype(F32),
        r.uniform(-k, k, (embed, 4 * hidden)).astype(F32), r.uniform(-k, k, (hidden, 4 * hidden)).astype(F32),
        np.zeros(4 * hidden, F32),
        r.uniform(-k, k, (hidden, vocab)).astype(F32), np.zeros(vocab, F32),
    ]
    return Workload("lstm_lm", f"LSTM language-model step: vocab {vocab}, embed {embed}, hidden {hidden}, "
                    f"T={T}, batch {batch}", _lstm_model, [tokens, targets, zeros, zeros.copy()], params,
                    train=True, lr=lr, numpy_step=sgd_step(lstm_numpy),
                    size={"batch": batch, "T": T, "vocab": vocab, "embed": embed, "hidden": hidden})


# -- transformer block --------------------------------------------------------------------------


def _transformer_model(ns, x, y, ln1_w, ln1_b, w_qkv, b_qkv, w_o, b_o, ln2_w, ln2_b, w_1, b_1, w_2, b_2, *, heads=4):
    """Pre-norm block: x + attention(layer_norm(x)), then + GELU MLP(layer_norm(.)); squared error to y."""
    fn = _helpers(ns)
    n, t, d = x.shape
    dh = d // heads
    qkv = fn["layer_norm"](x, ln1_w, ln1_b) @ w_qkv + b_qkv
    q, k, v = (fn["heads"](qkv[:, :, j * d:(j + 1) * d].reshape(n, t, heads, dh)) for j in range(3))
    att = fn["softmax"]((q * (1.0 / math.sqrt(dh))) @ fn["mT"](k))
    a = fn["heads"](att @ v).reshape(n, t, d)
    x = x + a @ w_o + b_o
    x = x + fn["gelu"](fn["layer_norm"](x, ln2_w, ln2_b) @ w_1 + b_1) @ w_2 + b_2
    diff = x - y
    return (diff * diff).mean()


def transformer(batch: int = 8, T: int = 16, d: int = 64, heads: int = 4, lr: float = 0.01, seed: int = 0) -> Workload:
    r = np.random.default_rng(seed)
    x = r.standard_normal((batch, T, d)).astype(F32)
    y = r.standard_normal((batch, T, d)).astype(F32)

    def dense(i, o):
        return (r.uniform(-1, 1, (i, o)) / math.sqrt(i)).astype(F32)

    params = [np.ones(d, F32), np.zeros(d, F32), dense(d, 3 * d), np.zeros(3 * d, F32), dense(d, d), np.zeros(d, F32),
              np.ones(d, F32), np.zeros(d, F32), dense(d, 4 * d), np.zeros(4 * d, F32), dense(4 * d, d), np.zeros(d, F32)]

    def model(ns, *args):
        return _transformer_model(ns, *args, heads=heads)

    return Workload("transformer", f"transformer block: d={d}, {heads} heads, MLP {4 * d}, T={T}, batch {batch}", model,
                    [x, y], params, train=True, lr=lr, numpy_step=sgd_step(transformer_numpy, heads=heads),
                    size={"batch": batch, "T": T, "d": d, "heads": heads})
