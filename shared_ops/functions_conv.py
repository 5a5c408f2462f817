"""The shared functions over NCHW images: ``conv2d``, ``max_pool2d``, ``avg_pool2d``, and ``pad``.

``functions_nn`` re-exports them (and the two helpers every shared function uses), so both
front ends take them with PyTorch's names and arguments.
"""

from __future__ import annotations

from ._surface_args import _pair
from .dtypes import FLOATING, result_dtype
from .errors import OpAttributeError, ShapeError


def _first(args, name):
    from .functions import _first_surface

    return _first_surface(args, name)


def _float(x):
    return x if x._dtype_name in FLOATING else x.astype("float32")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, NCHW input, (C_out, C_in / groups, KH, KW) weight, as
    ``torch.nn.functional.conv2d``; ``groups`` convolve channel groups separately.

    Args:
        x: the input, (N, C_in, H, W).
        weight: the filters, (C_out, C_in / groups, KH, KW).
        bias: added to each output channel (None: none).
        stride: an int or a pair.
        padding: zeros added on each side, an int or a pair.
        dilation: the spacing of the kernel's taps, an int or a pair.
        groups: how many channel groups.

    Returns:
        The output, (N, C_out, H_out, W_out).

    Raises:
        OpAttributeError: ``groups`` is not a positive int.
        ShapeError: the channels do not divide into ``groups``.

    Examples:
        >>> dg.conv2d(dg.ones(1, 1, 3, 3), dg.ones(2, 1, 2, 2)).shape
        (1, 2, 2, 2)
    """
    s = _first((x, weight), "conv2d")
    x, w = s._as_operand(x), s._as_operand(weight)
    if x._dtype_name != w._dtype_name:  # one dtype per kernel, as every binary op
        common = result_dtype(x._dtype_name, w._dtype_name)
        x, w = x.astype(common), w.astype(common)
    attrs = dict(stride=_pair(stride), padding=_pair(padding), dilation=_pair(dilation))
    if not isinstance(groups, int) or groups < 1:
        raise OpAttributeError(f"conv2d: groups must be a positive int, got {groups!r}")
    if groups == 1:
        y = s._op("conv2d", x, w, **attrs)
    else:
        c, o = x.shape[1], w.shape[0]
        if c % groups or o % groups:
            raise ShapeError(f"conv2d: {c} input and {o} output channels must both divide into {groups} groups")
        ci, co = c // groups, o // groups
        parts = [s._op("conv2d", x[:, k * ci:(k + 1) * ci], w[k * co:(k + 1) * co], **attrs) for k in range(groups)]
        from .functions import concatenate

        y = concatenate(parts, axis=1)
    if bias is not None:
        y = y + s._as_operand(bias).reshape(1, -1, 1, 1)
    return y


def _pool_args(kernel_size, stride, padding):
    k = _pair(kernel_size)
    return k, (k if stride is None or stride == () else _pair(stride)), _pair(padding)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """``F.max_pool2d``: the first maximum of each window (its gradient goes there only).

    Args:
        x: the input, (N, C, H, W).
        kernel_size: the window, an int or a pair.
        stride: the step (None: the window).
        padding: ``-inf`` added on each side.
        dilation: the spacing of the window's taps.
        ceil_mode: must be False.
        return_indices: also return each maximum's position in its H*W plane.

    Returns:
        The pooled values, and the indices with ``return_indices``.

    Raises:
        OpAttributeError: ``ceil_mode=True``.

    Examples:
        >>> dg.max_pool2d(dg.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    if ceil_mode:
        raise OpAttributeError("max_pool2d: ceil_mode=True is not supported")
    k, st, pd = _pool_args(kernel_size, stride, padding)
    idx = x._op("max_pool2d_indices", x, kernel=k, stride=st, padding=pd, dilation=_pair(dilation))
    c, oh, ow = x.shape[1], idx.shape[2], idx.shape[3]
    flat = x.reshape(-1, c, x.shape[2] * x.shape[3])
    values = x._op("gather", flat, idx.reshape(-1, c, oh * ow), axis=2).reshape(-1, c, oh, ow)
    return (values, idx) if return_indices else values


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """``F.avg_pool2d`` (padding counted in the divisor, PyTorch's default).

    Args:
        x: the input, (N, C, H, W).
        kernel_size: the window, an int or a pair.
        stride: the step (None: the window).
        padding: zeros added on each side.
        ceil_mode: must be False.
        count_include_pad: must be True.

    Returns:
        The pooled values.

    Raises:
        OpAttributeError: ``ceil_mode=True`` or ``count_include_pad=False``.

    Examples:
        >>> dg.avg_pool2d(dg.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    if ceil_mode or not count_include_pad:
        raise OpAttributeError("avg_pool2d: only ceil_mode=False and count_include_pad=True are supported")
    k, st, pd = _pool_args(kernel_size, stride, padding)
    return x._op("avg_pool2d", _float(x), kernel=k, stride=st, padding=pd)


def pad(x, pad, mode="constant", value=0.0):  # noqa: A002
    """``F.pad``: ``pad`` lists (before, after) pairs from the last dimension backwards.

    Args:
        x: a tensor.
        pad: ``(last_before, last_after, second_last_before, ...)``.
        mode: must be ``"constant"``.
        value: the padding value.

    Returns:
        The padded tensor.

    Raises:
        OpAttributeError: another ``mode``.
        ShapeError: an odd number of entries, or more pairs than dimensions.

    Examples:
        >>> dg.pad(dg.ones(2, 2), (1, 0))
        tensor([[0., 1., 1.],
                [0., 1., 1.]])
    """
    if mode != "constant":
        raise OpAttributeError(f"pad: only mode='constant' is supported, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad: needs pairs for at most {x.ndim} dimensions, got {tuple(pad)}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)][::-1]
    full = ((0, 0),) * (x.ndim - len(pairs)) + tuple(pairs)
    return x._op("pad", x, pad=full, value=float(value))
