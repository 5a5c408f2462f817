"""The LSTM language-model step and the transformer block written by hand: forward and backward
with an array namespace ``xp`` (NumPy or CuPy), the NumPy floor of ``graphcompare run``.

The arithmetic is the model's (``models._lstm_model``, ``models._transformer_model``): the same
gates, layer norm (biased variance, eps 1e-5), exact (erf) GELU, softmax and mean losses. The
backward passes are the textbook ones (backpropagation through time; the layer-norm and softmax
Jacobians in closed form); ``tests/graphcompare/test_model_workloads.py`` checks both against
dyngraph's gradients in float64. NumPy has no ``erf``: the GELU takes SciPy's (CuPy's on the GPU),
as a NumPy user would.
"""

from __future__ import annotations

import math

from ..frontends import Unavailable
from .standard import softmax_xent_grad

EPS = 1e-5


def _sigmoid(xp, x):
    return 1.0 / (1.0 + xp.exp(-x))


def lstm_numpy(xp, tokens, targets, h0, c0, emb, w_ih, w_hh, b, w_out, b_out) -> tuple:
    """The LSTM language-model step by hand: ``(loss, [d emb, d w_ih, d w_hh, d b, d w_out, d b_out])``."""
    T, hidden = tokens.shape[1], h0.shape[1]
    h, c = h0, c0
    tape = []
    loss = 0.0
    for t in range(T):
        x = emb[tokens[:, t]]
        gates = x @ w_ih + h @ w_hh + b
        i, f = _sigmoid(xp, gates[:, :hidden]), _sigmoid(xp, gates[:, hidden:2 * hidden])
        g, o = xp.tanh(gates[:, 2 * hidden:3 * hidden]), _sigmoid(xp, gates[:, 3 * hidden:])
        c_next = f * c + i * g
        tc = xp.tanh(c_next)
        h_next = o * tc
        step, gl = softmax_xent_grad(xp, h_next @ w_out + b_out, targets[:, t])
        loss = loss + step
        tape.append((x, h, c, i, f, g, o, tc, h_next, gl))
        h, c = h_next, c_next
    grads = [xp.zeros_like(p) for p in (emb, w_ih, w_hh, b, w_out, b_out)]
    g_emb, g_ih, g_hh, g_b, g_out, g_bout = grads
    dh, dc = xp.zeros_like(h0), xp.zeros_like(c0)
    scale = 1.0 / T
    for t in range(T - 1, -1, -1):
        x, h_prev, c_prev, i, f, g, o, tc, h_next, gl = tape[t]
        gl = gl * scale
        g_out += h_next.T @ gl
        g_bout += gl.sum(axis=0)
        dh = dh + gl @ w_out.T
        dc = dc + dh * o * (1 - tc * tc)
        dgates = xp.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                                 dh * tc * o * (1 - o)], axis=1)
        g_ih += x.T @ dgates
        g_hh += h_prev.T @ dgates
        g_b += dgates.sum(axis=0)
        xp.add.at(g_emb, tokens[:, t], dgates @ w_ih.T)
        dh, dc = dgates @ w_hh.T, dc * f
    return loss * scale, grads


# --------------------------------------------------------------------------- transformer block


def _erf(xp):
    try:
        if xp.__name__ == "cupy":
            from cupyx.scipy.special import erf
        else:
            from scipy.special import erf
    except ImportError:
        raise Unavailable("the hand-written transformer's GELU needs erf from SciPy (not installed)") from None
    return erf


def _layer_norm(xp, x, w, b):
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    rstd = 1.0 / xp.sqrt((xc * xc).mean(axis=-1, keepdims=True) + EPS)
    xhat = xc * rstd
    return xhat * w + b, (xhat, rstd)


def _layer_norm_grad(dz, w, saved):
    """``(dx, dw, db)`` of ``xhat * w + b`` with ``xhat`` normalised over the last axis."""
    xhat, rstd = saved
    lead = tuple(range(dz.ndim - 1))
    dxhat = dz * w
    dx = rstd * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    return dx, (dz * xhat).sum(axis=lead), dz.sum(axis=lead)


def _rows(a):
    return a.reshape(-1, a.shape[-1])


def transformer_numpy(xp, x, y, ln1_w, ln1_b, w_qkv, b_qkv, w_o, b_o, ln2_w, ln2_b, w_1, b_1, w_2, b_2, *,
                      heads=4) -> tuple:
    """The pre-norm transformer block by hand: ``(loss, grads of the twelve parameters in order)``."""
    erf = _erf(xp)
    n, t, d = x.shape
    dh = d // heads
    scale = 1.0 / math.sqrt(dh)
    # forward
    z1, ln1 = _layer_norm(xp, x, ln1_w, ln1_b)
    qkv = z1 @ w_qkv + b_qkv
    q, k, v = (qkv[:, :, j * d:(j + 1) * d].reshape(n, t, heads, dh).transpose(0, 2, 1, 3) for j in range(3))
    qs = q * scale
    s = qs @ k.transpose(0, 1, 3, 2)
    e = xp.exp(s - s.max(axis=-1, keepdims=True))
    att = e / e.sum(axis=-1, keepdims=True)
    a = (att @ v).transpose(0, 2, 1, 3).reshape(n, t, d)
    x1 = x + a @ w_o + b_o
    z2, ln2 = _layer_norm(xp, x1, ln2_w, ln2_b)
    u = z2 @ w_1 + b_1
    cdf = 0.5 * (1.0 + erf(u * (1.0 / math.sqrt(2.0))))
    gl = u * cdf
    diff = x1 + gl @ w_2 + b_2 - y
    loss = (diff * diff).mean()
    # backward
    dx2 = diff * (2.0 / diff.size)
    g_w2, g_b2 = _rows(gl).T @ _rows(dx2), _rows(dx2).sum(axis=0)
    du = (dx2 @ w_2.T) * (cdf + u * xp.exp(-0.5 * u * u) * (1.0 / math.sqrt(2.0 * math.pi)))
    g_w1, g_b1 = _rows(z2).T @ _rows(du), _rows(du).sum(axis=0)
    dx1_ln, g_ln2w, g_ln2b = _layer_norm_grad(du @ w_1.T, ln2_w, ln2)
    dx1 = dx2 + dx1_ln
    g_wo, g_bo = _rows(a).T @ _rows(dx1), _rows(dx1).sum(axis=0)
    da = (dx1 @ w_o.T).reshape(n, t, heads, dh).transpose(0, 2, 1, 3)
    datt = da @ v.transpose(0, 1, 3, 2)
    dv = att.transpose(0, 1, 3, 2) @ da
    ds = att * (datt - (datt * att).sum(axis=-1, keepdims=True))
    dq = (ds @ k) * scale
    dk = ds.transpose(0, 1, 3, 2) @ qs
    dqkv = xp.concatenate([g.transpose(0, 2, 1, 3).reshape(n, t, d) for g in (dq, dk, dv)], axis=-1)
    g_wqkv, g_bqkv = _rows(z1).T @ _rows(dqkv), _rows(dqkv).sum(axis=0)
    _, g_ln1w, g_ln1b = _layer_norm_grad(dqkv @ w_qkv.T, ln1_w, ln1)
    return loss, [g_ln1w, g_ln1b, g_wqkv, g_bqkv, g_wo, g_bo, g_ln2w, g_ln2b, g_w1, g_b1, g_w2, g_b2]


# --------------------------------------------------------------------------- steps for Workload.numpy_step


def sgd_step(by_hand, **kw):
    """``numpy_step`` of a workload whose hand-written version is ``by_hand(xp, *data, *params, **kw)``."""

    def numpy_step(xp, data, params, lr, train):
        def step():
            loss, grads = by_hand(xp, *data, *params, **kw)
            if train:
                for p, g in zip(params, grads):
                    p -= lr * g
            return loss

        return step

    return numpy_step
