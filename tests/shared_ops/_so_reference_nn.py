"""NumPy references of the ops added for models (merged into ``_so_reference.REFERENCE``).

Written independently of the kernels: ``math`` functions per element, loops, plain NumPy.
"""

from __future__ import annotations

import math

import numpy as np


def _per_element(fn):
    def ref(x, **attrs):
        flat = [fn(float(v), **attrs) for v in np.asarray(x, dtype=np.float64).reshape(-1)]
        return np.array(flat, dtype=np.float64).reshape(np.shape(x)).astype(x.dtype)

    return ref


def _gelu(v, approximate="none"):
    if approximate == "tanh":
        return 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
    return 0.5 * v * (1 + math.erf(v / math.sqrt(2)))


def _softplus(v, beta=1.0, threshold=20.0):
    return v if v * beta > threshold else math.log1p(math.exp(v * beta)) / beta


REFERENCE_NN = {
    "sin": np.sin, "cos": np.cos, "log1p": np.log1p, "expm1": np.expm1,
    "rsqrt": lambda x: (1 / np.sqrt(x.astype(np.float64))).astype(x.dtype),
    "erf": _per_element(math.erf),
    "gelu": _per_element(_gelu),
    "silu": _per_element(lambda v: v / (1 + math.exp(-v))),
    "softplus": _per_element(_softplus),
}


def _reduce_bool(fn):
    return lambda x, axis=None, keepdims=False: fn(x, axis=axis, keepdims=keepdims)


def _gather(x, index, axis):
    out = np.empty(index.shape, x.dtype)
    for pos in np.ndindex(*index.shape):
        src = list(pos)
        src[axis] = index[pos]
        out[pos] = x[tuple(src)]
    return out


def _scatter_add(x, index, src, axis):
    out = x.astype(np.float64).copy()
    for pos in np.ndindex(*index.shape):
        dst = list(pos)
        dst[axis] = index[pos]
        out[tuple(dst)] += src[pos]
    return out.astype(x.dtype)


def _argsort(x, axis=-1, descending=False):
    key = -x.astype(np.float64) if descending else x
    return np.argsort(key, axis=axis, kind="stable")


def _cumsum(x, axis, reverse=False):
    x64 = x.astype(np.float64)
    if reverse:
        return np.flip(np.cumsum(np.flip(x64, axis), axis), axis).astype(x.dtype)
    return np.cumsum(x64, axis).astype(x.dtype)


def _prod(x, axis=None, keepdims=False):
    out = np.prod(x.astype(np.float64), axis=axis, keepdims=keepdims)
    if axis is None and keepdims:
        out = out.reshape((1,) * x.ndim)
    return np.asarray(out).astype(x.dtype)


def _prod_others(x, axis):
    out = np.empty(x.shape, np.float64)
    moved = np.moveaxis(x.astype(np.float64), axis, -1)
    res = np.moveaxis(out, axis, -1)
    for pos in np.ndindex(*moved.shape[:-1]):
        row = moved[pos]
        for k in range(row.size):
            res[pos + (k,)] = np.prod(np.delete(row, k))
    return out.astype(x.dtype)


def _layer_norm(x, ndim=1, eps=1e-5):
    axes = tuple(range(x.ndim - ndim, x.ndim))
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=axes, keepdims=True)
    var = x64.var(axis=axes, keepdims=True)
    return ((x64 - mu) / np.sqrt(var + eps)).astype(x.dtype)


def _layer_norm_grad(g, x, ndim=1, eps=1e-5):
    """By explicit Jacobian per group: J = r (I - 1/n - h h^T / n)."""
    k = int(np.prod(x.shape[x.ndim - ndim:]))
    xs, gs = x.astype(np.float64).reshape(-1, k), g.astype(np.float64).reshape(-1, k)
    out = np.empty_like(xs)
    for i in range(xs.shape[0]):
        c = xs[i] - xs[i].mean()
        r = 1 / np.sqrt((c * c).mean() + eps)
        h = c * r
        jac = r * (np.eye(k) - 1.0 / k - np.outer(h, h) / k)
        out[i] = jac.T @ gs[i]
    return out.reshape(x.shape).astype(x.dtype)


def _windows(x, kernel, stride, padding, dilation, fill):
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    xp_ = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    for i in range(oh):
        for j in range(ow):
            rows = [i * sh + a * dh for a in range(kh)]
            cols = [j * sw + b * dw for b in range(kw)]
            yield i, j, rows, cols, xp_, (oh, ow)


def _max_pool_indices(x, kernel, stride, padding=(0, 0), dilation=(1, 1)):
    out = None
    for i, j, rows, cols, xp_, (oh, ow) in _windows(x, kernel, stride, padding, dilation, -np.inf):
        if out is None:
            out = np.zeros(x.shape[:2] + (oh, ow), np.int64)
        for n in range(x.shape[0]):
            for ch in range(x.shape[1]):
                best, where = -np.inf, None
                for r in rows:  # the first maximum in row-major order
                    for cc in cols:
                        if where is None or xp_[n, ch, r, cc] > best:
                            best, where = xp_[n, ch, r, cc], (r - padding[0]) * x.shape[3] + (cc - padding[1])
                out[n, ch, i, j] = where
    return out


def _avg_pool(x, kernel, stride, padding=(0, 0)):
    out = None
    for i, j, rows, cols, xp_, (oh, ow) in _windows(x, kernel, stride, padding, (1, 1), 0.0):
        if out is None:
            out = np.zeros(x.shape[:2] + (oh, ow))
        out[:, :, i, j] = xp_[:, :, rows][:, :, :, cols].sum(axis=(2, 3)) / (kernel[0] * kernel[1])
    return out.astype(x.dtype)


def _avg_pool_grad(g, shape, kernel, stride, padding=(0, 0)):
    """Through the adjoint identity: the transpose of avg_pool's matrix, built column by column."""
    size = int(np.prod(shape))
    cols = [_avg_pool(np.eye(size)[k].reshape(shape), kernel, stride, padding).reshape(-1) for k in range(size)]
    return (np.array(cols) @ g.astype(np.float64).reshape(-1)).reshape(shape).astype(g.dtype)


def _dropout(x, seed, p):
    keep = np.random.Generator(np.random.PCG64(int(seed))).random(x.shape) >= p
    return np.where(keep, x / (1 - p) if p < 1 else 0 * x, 0).astype(x.dtype) if p < 1 else np.zeros_like(x)


REFERENCE_NN.update({
    "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_not": np.logical_not,
    "all": _reduce_bool(np.all), "any": _reduce_bool(np.any),
    "floor_divide": lambda a, b: np.floor(a.astype(np.float64) / b).astype(a.dtype),
    "remainder": lambda a, b: (a - np.floor(a.astype(np.float64) / b) * b).astype(a.dtype),
    "tril": lambda x, k=0: np.tril(x, k), "triu": lambda x, k=0: np.triu(x, k),
    "clone": lambda x: x.copy(),
    "gather": _gather, "sorted_values": lambda x, index, axis, kind="sort": _gather(x, index, axis), "scatter_add": _scatter_add, "argsort": _argsort, "cumsum": _cumsum,
    "prod": _prod, "prod_others": _prod_others,
    "einsum": lambda a, b, equation: np.einsum(equation, a, b),
    "pad": lambda x, pad, value=0.0: np.pad(x, pad, constant_values=value),
    "layer_norm": _layer_norm, "layer_norm_grad": _layer_norm_grad,
    "max_pool2d_indices": _max_pool_indices, "avg_pool2d": _avg_pool, "avg_pool2d_grad": _avg_pool_grad,
    "dropout": _dropout,
})


def _conv2d(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Direct (loop) cross-correlation with a dilated kernel."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp_ = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    o, _, kh, kw = w.shape
    oh = (xp_.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp_.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp_[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out.astype(x.dtype)


def _adjoint(forward_of, size_of_result):
    """The transpose of a linear map given as a function, column by column (a reference by definition)."""
    def apply(g, shape):
        size = int(np.prod(shape))
        cols = [forward_of(np.eye(size)[k].reshape(shape)).reshape(-1) for k in range(size)]
        return (np.array(cols) @ g.astype(np.float64).reshape(-1)).reshape(shape).astype(g.dtype)

    return apply


def _conv2d_grad_input(g, w, shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    return _adjoint(lambda x: _conv2d(x, w.astype(np.float64), stride, padding, dilation), None)(g, shape)


def _conv2d_grad_weight(x, g, shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    return _adjoint(lambda w: _conv2d(x.astype(np.float64), w, stride, padding, dilation), None)(g, shape)


REFERENCE_NN.update({"conv2d": _conv2d, "conv2d_grad_input": _conv2d_grad_input, "conv2d_grad_weight": _conv2d_grad_weight})


def _vector_norm(x, ord=2.0, axis=None, keepdims=False):
    a = np.abs(x.astype(np.float64))
    if ord == np.inf:
        out = a.max(axis=axis, keepdims=keepdims)
    else:
        out = (a ** ord).sum(axis=axis, keepdims=keepdims) ** (1 / ord)
    return np.asarray(out).astype(x.dtype)


REFERENCE_NN["vector_norm"] = _vector_norm


def _arange(start, end, step, dtype):
    """Count elements one by one while they stay on ``start``'s side of ``end``; each is
    ``start + i * step`` in Python's arithmetic (exact integers, float64 floats)."""
    values = []
    while (step > 0 and start + len(values) * step < end) or (step < 0 and start + len(values) * step > end):
        values.append(start + len(values) * step)
    return np.array(values, dtype=np.float64 if isinstance(step, float) else np.int64).astype(dtype)


REFERENCE_NN["arange"] = _arange
