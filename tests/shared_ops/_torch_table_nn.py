"""PyTorch counterparts of the ops added for models (merged into the oracle's table)."""

from __future__ import annotations

import torch

F = torch.nn.functional

TORCH_NN = {
    "sin": torch.sin, "cos": torch.cos, "erf": torch.erf, "log1p": torch.log1p, "expm1": torch.expm1,
    "rsqrt": torch.rsqrt, "silu": F.silu,
    "gelu": lambda x, approximate="none": F.gelu(x, approximate=approximate),
    "softplus": lambda x, beta=1.0, threshold=20.0: F.softplus(x, beta=beta, threshold=threshold),
}


def _gather(x, index, axis):
    return torch.gather(x, axis, index)


def _scatter_add(x, index, src, axis):
    # PyTorch's own backward fails for a src larger than index ("invalid gradient"); the part
    # of src beyond index is unused, so slice it off inside PyTorch's graph (gradient: zeros)
    return x.scatter_add(axis, index, src[tuple(slice(0, k) for k in index.shape)])


def _argsort(x, axis=-1, descending=False):
    return torch.sort(x, dim=axis, descending=descending, stable=True).indices


def _cumsum(x, axis, reverse=False):
    return x.flip(axis).cumsum(axis).flip(axis) if reverse else x.cumsum(axis)


def _prod(x, axis=None, keepdims=False):
    if axis is None:
        out = x.prod()
        return out.reshape((1,) * x.ndim) if keepdims else out
    return x.prod(axis, keepdim=keepdims)


def _prod_others(x, axis):
    # the gradient of prod along axis with a cotangent of ones (what the op computes), kept
    # differentiable in x: PyTorch's own second derivative of prod is the oracle of ours
    leaf = x if x.requires_grad else x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(leaf.prod(axis).sum(), leaf, create_graph=x.requires_grad)
    return g


def _pad(x, pad, value=0.0):
    flat = [v for pair in reversed(pad) for v in pair]  # PyTorch lists the last dimension first
    return F.pad(x, flat, value=value)


def _layer_norm(x, ndim=1, eps=1e-5):
    return F.layer_norm(x, x.shape[x.ndim - ndim:], eps=eps)


def _layer_norm_grad(g, x, ndim=1, eps=1e-5):
    (dx,) = torch.autograd.grad(_layer_norm(x, ndim, eps), x, g, create_graph=True)
    return dx


def _max_pool_indices(x, kernel, stride, padding=(0, 0), dilation=(1, 1)):
    return F.max_pool2d(x, kernel, stride, padding, dilation, return_indices=True)[1]


def _avg_pool(x, kernel, stride, padding=(0, 0)):
    return F.avg_pool2d(x, kernel, stride, padding)


def _avg_pool_grad(g, shape, kernel, stride, padding=(0, 0)):
    x = torch.zeros(shape, dtype=g.dtype, requires_grad=True)
    (dx,) = torch.autograd.grad(_avg_pool(x, kernel, stride, padding), x, g, create_graph=True)
    return dx


def _dropout(x, seed, p):
    # the mask is ours (PyTorch's generator differs); PyTorch computes the masked, scaled product
    import numpy as np

    from shared_ops.ops.random import keep_mask

    if p >= 1:
        return x * 0
    return x * torch.tensor(keep_mask(int(seed), tuple(x.shape), p).astype(np.float64)) * (1.0 / (1.0 - p))


TORCH_NN.update({
    "logical_and": torch.logical_and, "logical_or": torch.logical_or, "logical_not": torch.logical_not,
    "all": lambda x, axis=None, keepdims=False: torch.all(x) if axis is None and not keepdims else torch.all(x, dim=axis if axis is not None else tuple(range(x.ndim)), keepdim=keepdims),
    "any": lambda x, axis=None, keepdims=False: torch.any(x) if axis is None and not keepdims else torch.any(x, dim=axis if axis is not None else tuple(range(x.ndim)), keepdim=keepdims),
    "floor_divide": lambda a, b: torch.div(a, b, rounding_mode="floor"),  # floor_divide has no backward
    "remainder": torch.remainder,
    "tril": lambda x, k=0: torch.tril(x, k), "triu": lambda x, k=0: torch.triu(x, k),
    "clone": torch.clone,
    "gather": _gather, "sorted_values": lambda x, index, axis, kind="sort": _gather(x, index, axis), "scatter_add": _scatter_add, "argsort": _argsort, "cumsum": _cumsum,
    "prod": _prod, "prod_others": _prod_others,
    "einsum": lambda a, b, equation: torch.einsum(equation, a, b),
    "pad": _pad, "layer_norm": _layer_norm, "layer_norm_grad": _layer_norm_grad,
    "max_pool2d_indices": _max_pool_indices, "avg_pool2d": _avg_pool, "avg_pool2d_grad": _avg_pool_grad,
    "dropout": _dropout,
})

TORCH_NN.update({
    "conv2d": lambda x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1): F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation),
    "conv2d_grad_input": lambda g, w, shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1): torch.nn.grad.conv2d_input(
        shape, w, g, stride, padding, dilation),
    "conv2d_grad_weight": lambda x, g, shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1): torch.nn.grad.conv2d_weight(
        x, shape, g, stride, padding, dilation),
})
TORCH_NN["vector_norm"] = lambda x, ord=2.0, axis=None, keepdims=False: torch.linalg.vector_norm(x, ord, axis, keepdims)
TORCH_NN["arange"] = lambda start, end, step, dtype: torch.arange(start, end, step, dtype=getattr(torch, dtype))
