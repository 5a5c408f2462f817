"""``nn.functional``: PyTorch's functional forms on the shared surface (``dg.nn.functional`` and
``sg.nn.functional`` are this module).

Losses take PyTorch's arguments: ``cross_entropy(input, target, reduction="mean",
ignore_index=-100, label_smoothing=0.0)`` with integer class targets (N,) for input (N, C)
(or (N, C, d...) with targets (N, d...)), ``mse_loss``, ``l1_loss``, ``nll_loss``,
``binary_cross_entropy_with_logits``.
"""

from __future__ import annotations

import math

import numpy as np

from ..functions import FUNCTIONS as _F
from ..errors import OpAttributeError

conv2d, max_pool2d, avg_pool2d, pad, layer_norm = _F["conv2d"], _F["max_pool2d"], _F["avg_pool2d"], _F["pad"], _F["layer_norm"]
gelu, silu, softplus, one_hot, einsum = _F["gelu"], _F["silu"], _F["softplus"], _F["one_hot"], _F["einsum"]
_dropout = _F["dropout"]


def dropout(input, p=0.5, training=True, inplace=False, seed=None):  # noqa: A002
    if inplace:
        raise OpAttributeError("dropout: inplace=True is not supported")
    return _dropout(input, p, training, seed=seed)


def relu(input, inplace=False):  # noqa: A002
    return input.relu()


def tanh(input):  # noqa: A002
    return input.tanh()


def sigmoid(input):  # noqa: A002
    return input.sigmoid()


def softmax(input, dim=-1):  # noqa: A002
    return input.softmax(dim=dim)


def log_softmax(input, dim=-1):  # noqa: A002
    return input.log_softmax(dim=dim)


def linear(input, weight, bias=None):  # noqa: A002
    """``input @ weight.T + bias`` (weight is (out_features, in_features), PyTorch's layout)."""
    y = input @ weight.t()
    return y if bias is None else y + bias


def embedding(input, weight):  # noqa: A002
    """Rows of ``weight`` picked by the integer ``input`` (any shape)."""
    return weight[input]


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise OpAttributeError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _classes_last(input, target):  # noqa: A002
    """(M, C) scores and (M,) targets from PyTorch's (N, C, d...) / (N, d...) layout."""
    if input.ndim == 1:
        return input.reshape(1, -1), target.reshape(1)
    if input.ndim > 2:
        c = input.shape[1]
        perm = (0,) + tuple(range(2, input.ndim)) + (1,)
        return input.permute(*perm).reshape(-1, c), target.reshape(-1)
    return input, target


def nll_loss(input, target, reduction="mean", ignore_index=-100):  # noqa: A002
    """``-input[i, target[i]]`` averaged over the targets that are not ``ignore_index``."""
    target = input._as_operand(target)
    shape = tuple(target.shape)
    scores, t = _classes_last(input, target)
    keep = t != ignore_index
    safe = t.masked_fill(~keep, 0)  # an ignored target may be out of range: gather row 0 instead
    picked = -(scores.gather(1, safe.reshape(-1, 1)).reshape(-1))
    picked = picked.masked_fill(~keep, 0.0)
    if reduction == "mean":
        return picked.sum() / keep.astype(picked._dtype_name).sum()
    return _reduce(picked.reshape(shape) if reduction == "none" else picked, reduction)


def cross_entropy(input, target, weight=None, reduction="mean", ignore_index=-100, label_smoothing=0.0):  # noqa: A002
    """``nll_loss(log_softmax(input, 1), target)``, with PyTorch's label smoothing."""
    if weight is not None:
        raise OpAttributeError("cross_entropy: class weights are not supported")
    target = input._as_operand(target)
    if target._dtype_name.startswith("float"):
        raise OpAttributeError("cross_entropy: targets are integer class indices here (probabilities are not supported)")
    lsm = input.log_softmax(dim=1 if input.ndim > 1 else 0)
    loss = nll_loss(lsm, target, reduction=reduction, ignore_index=ignore_index)
    if label_smoothing:
        scores, t = _classes_last(lsm, target)
        keep = (t != ignore_index).astype(scores._dtype_name)
        smooth = -(scores.mean(axis=1)) * keep
        smooth = smooth.sum() / keep.sum() if reduction == "mean" else _reduce(
            smooth.reshape(tuple(target.shape)) if reduction == "none" else smooth, reduction)
        loss = loss * (1.0 - label_smoothing) + smooth * label_smoothing
    return loss


def mse_loss(input, target, reduction="mean"):  # noqa: A002
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input, target, reduction="mean"):  # noqa: A002
    return _reduce(abs(input - target), reduction)


def binary_cross_entropy_with_logits(input, target, reduction="mean"):  # noqa: A002
    """``max(x, 0) - x * t + log1p(exp(-|x|))``: stable for logits of any size."""
    x = input
    loss = x.relu() - x * target + (-abs(x)).exp().log1p()
    return _reduce(loss, reduction)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 training=True):
    """``softmax(q k^T * scale + mask) v`` over the last two dimensions (a bool mask: True keeps)."""
    e = query.shape[-1]
    scale = 1.0 / math.sqrt(e) if scale is None else scale
    scores = (query * scale) @ key.transpose(-2, -1)
    if is_causal:
        n, m = scores.shape[-2], scores.shape[-1]
        causal = scores._as_operand(np.tril(np.ones((n, m), dtype=bool)))
        scores = scores.masked_fill(~causal, -math.inf)
    if attn_mask is not None:
        mask = scores._as_operand(attn_mask)
        scores = scores.masked_fill(~mask, -math.inf) if mask._dtype_name == "bool" else scores + mask
    weights = scores.softmax(dim=-1)
    if dropout_p:
        weights = dropout(weights, dropout_p, training)
    return weights @ value

