"""Layers with PyTorch's parameter names, layouts and default initialisation."""

from __future__ import annotations

import math

import numpy as np

from . import functional as F
from . import init
from .._surface_args import _pair
from ..dtypes import dtype_name
from .module import Module, Parameter


def _dtype(dtype) -> str:
    return "float32" if dtype is None else dtype_name(dtype)


class Linear(Module):
    """``y = x @ weight.T + bias``; weight (out_features, in_features), both U(-1/sqrt(in), 1/sqrt(in)).

    Parameters:
        in_features: the size of each input's last dimension.
        out_features: the size of each output's last dimension.
        bias: add a learned bias.
        dtype: the parameters' dtype; default float32.

    Examples:
        >>> layer = dg.nn.Linear(3, 2)
        >>> layer, layer(dg.ones(4, 3)).shape
        (Linear(in_features=3, out_features=2, bias=True), (4, 2))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        dt = _dtype(dtype)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(init.kaiming_uniform((out_features, in_features), dt))
        if bias:
            self.bias = Parameter(init.uniform((out_features,), 1 / math.sqrt(in_features) if in_features else 0, dt))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """A 2-d convolution of NCHW inputs: weight (out, in / groups, KH, KW) and bias (out,),
    PyTorch's default initialisation.

    Parameters:
        in_channels: the input's channels (C).
        out_channels: the output's channels.
        kernel_size: an int or a pair (KH, KW).
        stride: an int or a pair.
        padding: zeros added on each side, an int or a pair.
        dilation: spacing of the kernel's taps, an int or a pair.
        groups: split the channels into this many independent convolutions.
        bias: add a learned bias per output channel.
        dtype: the parameters' dtype; default float32.

    Examples:
        >>> conv = dg.nn.Conv2d(1, 4, 3, padding=1)
        >>> conv(dg.ones(2, 1, 5, 5)).shape
        (2, 4, 5, 5)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 dtype=None):
        super().__init__()
        dt = _dtype(dtype)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.padding, self.dilation = (_pair(v) for v in (kernel_size, stride, padding, dilation))
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(init.kaiming_uniform(shape, dt))
        if bias:
            self.bias = Parameter(init.uniform((out_channels,), 1 / math.sqrt(init.fan_in(shape)), dt))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class Embedding(Module):
    """A (num_embeddings, embedding_dim) table, N(0, 1) rows, looked up by integer indices.

    Parameters:
        num_embeddings: the number of rows (the vocabulary).
        embedding_dim: the size of each row.
        dtype: the table's dtype; default float32.

    Examples:
        >>> dg.nn.Embedding(10, 3)(dg.tensor([1, 2, 2])).shape
        (3, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(init.normal((num_embeddings, embedding_dim), 1.0, _dtype(dtype)))

    def forward(self, idx):
        return F.embedding(idx, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape``; weight ones, bias zeros.

    Parameters:
        normalized_shape: the trailing dimensions normalised over, an int or a tuple.
        eps: added to the variance.
        elementwise_affine: learn a weight (and a bias) of ``normalized_shape``.
        bias: learn the bias too.
        dtype: the parameters' dtype; default float32.

    Examples:
        >>> dg.nn.LayerNorm(4)(dg.arange(8.0).view(2, 4))[0]
        tensor([-1.3416, -0.4472,  0.4472,  1.3416], grad_fn=<SelectBackward0>)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True, dtype=None):
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dt = _dtype(dtype)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class Dropout(Module):
    """``F.dropout`` while training, the identity in ``eval()`` mode.

    Parameters:
        p: the probability of zeroing an element (the others are scaled by ``1 / (1 - p)``).

    Raises:
        ValueError: ``p`` outside [0, 1].

    Examples:
        >>> drop = dg.nn.Dropout(0.5).eval()
        >>> drop(dg.ones(3))
        tensor([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False"


class _Activation(Module):
    fn = None

    def forward(self, x):
        return type(self).fn(x)


class ReLU(_Activation):
    """``max(x, 0)`` elementwise.

    Examples:
        >>> dg.nn.ReLU()(dg.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    fn = staticmethod(F.relu)


class Tanh(_Activation):
    """``tanh(x)`` elementwise.

    Examples:
        >>> dg.nn.Tanh()(dg.tensor([0.0]))
        tensor([0.])
    """

    fn = staticmethod(F.tanh)


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))`` elementwise.

    Examples:
        >>> dg.nn.Sigmoid()(dg.tensor([0.0]))
        tensor([0.5000])
    """

    fn = staticmethod(F.sigmoid)


class SiLU(_Activation):
    """``x * sigmoid(x)`` elementwise.

    Examples:
        >>> dg.nn.SiLU()(dg.tensor([0.0, 1.0]))
        tensor([0.0000, 0.7311])
    """

    fn = staticmethod(F.silu)


class GELU(Module):
    """``x * Phi(x)`` elementwise (``approximate="tanh"``: PyTorch's tanh formula).

    Parameters:
        approximate: ``"none"`` (the exact erf form) or ``"tanh"``.

    Examples:
        >>> dg.nn.GELU()(dg.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8413])
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate='{self.approximate}'"


class Flatten(Module):
    """Flattens dimensions ``start_dim`` .. ``end_dim`` (PyTorch's defaults 1, -1).

    Parameters:
        start_dim: the first dimension flattened.
        end_dim: the last dimension flattened (negative counts from the end).

    Examples:
        >>> dg.nn.Flatten()(dg.ones(2, 3, 4)).shape
        (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        s, e = self.start_dim % x.ndim, self.end_dim % x.ndim
        return x.reshape(*x.shape[:s], -1, *x.shape[e + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class MaxPool2d(Module):
    """The maximum of each ``kernel_size`` window of NCHW inputs.

    Parameters:
        kernel_size: the window, an int or a pair.
        stride: the step between windows; default ``kernel_size``.
        padding: implicit -inf added on each side.

    Examples:
        >>> dg.nn.MaxPool2d(2)(dg.arange(16.0).view(1, 1, 4, 4)).view(-1)
        tensor([ 5.,  7., 13., 15.])
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, dilation=1, ceil_mode=False"


class AvgPool2d(Module):
    """The mean of each ``kernel_size`` window of NCHW inputs.

    Parameters:
        kernel_size: the window, an int or a pair.
        stride: the step between windows; default ``kernel_size``.
        padding: zeros added on each side (counted in the mean, PyTorch's default).

    Examples:
        >>> dg.nn.AvgPool2d(2)(dg.arange(16.0).view(1, 1, 4, 4)).view(-1)
        tensor([ 2.5000,  4.5000, 10.5000, 12.5000])
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride if stride is not None else kernel_size, padding

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
