"""NumPy reference of every op's forward, written independently of the kernels (loops and
plain NumPy calls, not the array-API code paths). One table; an op missing here fails the suite."""

from __future__ import annotations

import numpy as np


def _key(spec, arrays):
    it = iter(arrays)
    conv = {"s": lambda e: slice(*e[1:]), "i": lambda e: e[1], "n": lambda e: None, "e": lambda e: Ellipsis, "a": lambda e: next(it)}
    return tuple(conv[e[0]](e) for e in spec)


def _reduce(fn):
    def ref(x, axis=None, keepdims=False):
        return fn(x, axis=axis, keepdims=keepdims)

    return ref


def _logsumexp(x, axis=None, keepdims=False):
    x64 = x.astype(np.float64)
    m = np.max(x64, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x64 - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out.astype(x.dtype)


def _softmax(x, axis=-1):
    e = np.exp(x.astype(np.float64) - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype)


def _index_scatter(g, *rest, index, shape):
    n = sum(e[0] == "a" for e in index)
    out = np.zeros(shape, g.dtype)
    np.add.at(out, _key(index, rest[:n]), g)
    return out


def _conv2d(x, w, stride=(1, 1), padding=(0, 0)):
    """Direct (loop) cross-correlation."""
    (sh, sw), (ph, pw) = stride, padding
    xp_ = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, wd = xp_.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    out = np.zeros((n, o, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = xp_[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out


def _conv2d_grad_input(g, w, shape, stride=(1, 1), padding=(0, 0)):
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, wd = shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), g.dtype)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            out[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.einsum("no,ockl->nckl", g[:, :, i, j], w)
    return out[:, :, ph:ph + h, pw:pw + wd]


def _conv2d_grad_weight(x, g, shape, stride=(1, 1), padding=(0, 0)):
    (sh, sw), (ph, pw) = stride, padding
    xp_ = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    o, c, kh, kw = shape
    out = np.zeros(shape, x.dtype)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            out += np.einsum("no,nckl->ockl", g[:, :, i, j], xp_[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out


def _sce(logits, labels):
    x = logits.astype(np.float64)
    lse = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1)
    return np.asarray(np.mean(lse - x[np.arange(len(labels)), labels]), dtype=logits.dtype)


def _sum_to(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1)
    return np.sum(x, axis=axes, keepdims=True).reshape(shape) if axes else x


def _expand_dims(x, axis):
    return np.expand_dims(x, axis)


def _sigmoid(x):
    return (1 / (1 + np.exp(-x.astype(np.float64)))).astype(x.dtype)


REFERENCE = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "neg": np.negative,
    "pow": np.power, "pow_scalar": lambda x, exponent: np.power(x, x.dtype.type(exponent)),
    "maximum": np.maximum, "minimum": np.minimum,
    "exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": _sigmoid,
    "tanh_grad": lambda g, y: np.multiply(g, 1 - np.square(y)),
    "sigmoid_grad": lambda g, y: np.multiply(g, y - np.square(y)),
    "relu": lambda x: np.maximum(x, 0), "sqrt": np.sqrt, "abs": np.abs, "sign": np.sign,
    "clip": lambda x, min=None, max=None: np.clip(x, min, max),
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "where": np.where,
    "sum": _reduce(np.sum), "mean": _reduce(np.mean), "max": _reduce(np.max), "min": _reduce(np.min),
    "logsumexp": _logsumexp,
    "reshape": lambda x, shape: np.reshape(x, shape),
    "transpose": lambda x, axes=None: np.transpose(x, axes),
    "squeeze": lambda x, axis: np.squeeze(x, axis),
    "expand_dims": _expand_dims,
    "broadcast_to": lambda x, shape: np.broadcast_to(x, shape),
    "sum_to": _sum_to,
    "getitem": lambda x, *arrays, index: x[_key(index, arrays)],
    "index_scatter": _index_scatter,
    "concatenate": lambda *xs, axis=0: np.concatenate(xs, axis),
    "stack": lambda *xs, axis=0: np.stack(xs, axis),
    "matmul": np.matmul,
    "matmul_nt": lambda a, b: np.matmul(a, np.swapaxes(b, -1, -2)),
    "matmul_tn": lambda a, b: np.matmul(np.swapaxes(a, -1, -2), b),
    "softmax": _softmax,
    "log_softmax": lambda x, axis=-1: np.log(_softmax(x.astype(np.float64), axis)).astype(x.dtype),
    "softmax_cross_entropy": _sce,
    "one_hot": lambda labels, num_classes, dtype="float32": np.eye(num_classes, dtype=dtype)[labels],
    "conv2d": _conv2d,
    "conv2d_grad_input": _conv2d_grad_input,
    "conv2d_grad_weight": _conv2d_grad_weight,
    "add_n": lambda *xs: sum(xs[1:], xs[0]),
    "astype": lambda x, dtype: x.astype(dtype),
    "ones_like": np.ones_like, "zeros_like": np.zeros_like,
}
"""op name -> NumPy function of (arrays..., **attrs)."""


# --------------------------------------------------------------------------- views.py, indices
def _diag_index(k, offset):
    i = np.arange(k)
    return (i, i + offset) if offset >= 0 else (i - offset, i)


def _diag_scatter_ref(g, shape, offset=0, dim1=0, dim2=1):
    out = np.zeros(shape, dtype=g.dtype)
    r, c = _diag_index(g.shape[-1], offset)
    np.moveaxis(out, (dim1, dim2), (-2, -1))[..., r, c] = g
    return out


def _view_scatter_ref(base, src, chain):
    """Basic indexing and transposes as NumPy views of a copy, then the write; a diagonal
    (last in the chain) by its integer positions."""
    out = base.copy()
    v = out
    for name, attrs in chain:
        a = dict(attrs)
        if name == "getitem":
            v = v[_key(a["index"], [])]
        elif name == "transpose":
            v = np.transpose(v, a["axes"])
        else:
            assert name == "diagonal" and (name, attrs) == chain[-1], chain
            r, c = _diag_index(src.shape[-1], a.get("offset", 0))
            np.moveaxis(v, (a.get("dim1", 0), a.get("dim2", 1)), (-2, -1))[..., r, c] = src
            return out
    v[...] = src
    return out


def _index_put_ref(x, value, *arrays, index):
    out = x.copy()
    out[_key(index, arrays)] = value
    return out


REFERENCE.update({
    "clone": np.copy,
    "flip": lambda x, dims: np.flip(x, dims),
    "fill": lambda x, value, kind="fill": np.full_like(x, value),
    "copy": lambda x, src: np.broadcast_to(src, x.shape).copy(),
    "diagonal": lambda x, offset=0, dim1=0, dim2=1: np.diagonal(x, offset, dim1, dim2),
    "diagonal_scatter": _diag_scatter_ref,
    "view_scatter": _view_scatter_ref,
    "index_put": _index_put_ref,
    "argmax": lambda x, axis=None, keepdims=False: np.argmax(x, axis=axis, keepdims=keepdims),
    "argmin": lambda x, axis=None, keepdims=False: np.argmin(x, axis=axis, keepdims=keepdims),
    "max_dim": lambda x, index, axis, keepdims=False: np.max(x, axis=axis, keepdims=keepdims),
    "min_dim": lambda x, index, axis, keepdims=False: np.min(x, axis=axis, keepdims=keepdims),
    "clamp": lambda x, lo, hi, lower=True, upper=True: np.minimum(np.maximum(x, lo) if lower else x, hi) if upper
    else np.maximum(x, lo),
    "index_mask": lambda like, index, axis: np.arange(like.shape[axis]).reshape(
        [-1 if i == axis % like.ndim else 1 for i in range(like.ndim)]) == index,
})
from _so_reference_nn import REFERENCE_NN  # noqa: E402  (the ops added for models)

REFERENCE.update(REFERENCE_NN)
