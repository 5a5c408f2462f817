"""2-D pooling, NCHW: ``max_pool2d_indices`` and ``avg_pool2d`` (+ its gradient).

``max_pool2d`` is spelled by the surface as ``gather(x, max_pool2d_indices(x))``: the indices
(int64, positions in each channel's flattened H*W plane, as ``return_indices=True`` gives them)
take the first maximum of each window in row-major order (PyTorch's CPU kernel; NaN wins), and
the gradient flows through ``gather`` to that element only, as ``max_pool2d``'s backward.
Padding is ``-inf`` for max and zeros counted in the divisor for average
(``count_include_pad=True``, PyTorch's default); ``ceil_mode`` is not supported.
"""

from __future__ import annotations

from ..dtypes import FLOATING
from ..errors import DTypeError, ShapeError
from ..registry import REQUIRED, Spec, fmt_shape, register, resolve_free
from ._infer import check_rank

_ATTRS = {"kernel": REQUIRED, "stride": REQUIRED, "padding": (0, 0), "dilation": (1, 1)}
_AVG_ATTRS = {"kernel": REQUIRED, "stride": REQUIRED, "padding": (0, 0)}  # no dilation, as PyTorch


def _out(h, k, s, p, d):
    return None if h is None else (h + 2 * p - d * (k - 1) - 1) // s + 1


def _out_shape(op, x, kernel, stride, padding, dilation):
    check_rank(op, x, (4,), "input (N, C, H, W)")
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ShapeError(f"{op}: padding {padding} must be at most half the kernel {kernel}")
    oh, ow = (_out(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(2))
    if (oh is not None and oh < 1) or (ow is not None and ow < 1):
        raise ShapeError(f"{op}: kernel {kernel} is larger than the padded input {fmt_shape(x.shape[2:])}")
    return oh, ow


def _windows(x_shape, kernel, stride, padding, dilation):
    """(i, j, row slice, col slice) of the padded input, one per kernel offset."""
    oh, ow = (_out(x_shape[2 + a], kernel[a], stride[a], padding[a], dilation[a]) for a in range(2))
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            r0, c0 = i * dilation[0], j * dilation[1]
            yield i, j, slice(r0, r0 + stride[0] * (oh - 1) + 1, stride[0]), slice(c0, c0 + stride[1] * (ow - 1) + 1, stride[1])


def _padded(xp, x, padding, value):
    ph, pw = padding
    if not ph and not pw:
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _indices_forward(xp, x, *, kernel, stride, padding=(0, 0), dilation=(1, 1)):
    xpad = _padded(xp, x, padding, -float("inf"))
    wins = list(_windows(tuple(x.shape), kernel, stride, padding, dilation))
    stacked = xp.stack([xpad[:, :, r, s] for _, _, r, s in wins], axis=2)  # (N, C, K, OH, OW)
    nan = xp.isnan(stacked)
    k = xp.argmax(xp.where(nan, xp.full_like(stacked, float("inf")), stacked), axis=2)  # NaN wins, as PyTorch
    k = xp.where(xp.any(nan, axis=2), xp.argmax(xp.astype(nan, xp.int8), axis=2), k)
    oh, ow = k.shape[2], k.shape[3]
    ki, kj = k // kernel[1], k % kernel[1]
    rows = xp.reshape(xp.arange(oh, dtype=xp.int64), (oh, 1)) * stride[0] - padding[0] + ki * dilation[0]
    cols = xp.reshape(xp.arange(ow, dtype=xp.int64), (1, ow)) * stride[1] - padding[1] + kj * dilation[1]
    return xp.astype(rows * x.shape[3] + cols, xp.int64)


def _indices_infer(x: Spec, *, kernel, stride, padding=(0, 0), dilation=(1, 1)) -> Spec:
    if x.dtype not in FLOATING:
        raise DTypeError(f"max_pool2d: needs floating-point input, got {x.dtype}")
    oh, ow = _out_shape("max_pool2d", x, kernel, stride, padding, dilation)
    return Spec((x.shape[0], x.shape[1], oh, ow), "int64")


register(
    "max_pool2d_indices",
    exact=True,
    forward=_indices_forward,
    infer=_indices_infer,
    vjp=None,
    attrs=_ATTRS, nondiff=frozenset({0}), save_inputs=False,
    doc="Positions (in each H*W plane) of every window's first maximum; int64, no gradient.",
)


def _avg_forward(xp, x, *, kernel, stride, padding=(0, 0)):
    xpad = _padded(xp, x, padding, 0.0)
    acc = None
    for _, _, r, s in _windows(tuple(x.shape), kernel, stride, padding, (1, 1)):
        acc = xpad[:, :, r, s] if acc is None else acc + xpad[:, :, r, s]
    return acc / float(kernel[0] * kernel[1])


def _avg_infer(x: Spec, *, kernel, stride, padding=(0, 0)) -> Spec:
    if x.dtype not in FLOATING:
        raise DTypeError(f"avg_pool2d: needs floating-point input, got {x.dtype}")
    oh, ow = _out_shape("avg_pool2d", x, kernel, stride, padding, (1, 1))
    return Spec((x.shape[0], x.shape[1], oh, ow), x.dtype)


register(
    "avg_pool2d",
    doc="The mean of each ``kernel`` window moved by ``stride`` over an NCHW input, zero padding counted (as ``F.avg_pool2d``).",
    forward=_avg_forward,
    infer=_avg_infer,
    vjp=lambda ops, g, inputs, output, **kw: (ops.avg_pool2d_grad(g, inputs[0], shape=inputs[0].shape, **kw),),
    attrs=_AVG_ATTRS, linear=True, save_inputs=False,
    torch_name="AvgPool2DBackward0",
)


def _avg_grad_forward(xp, g, like=None, *, shape, kernel, stride, padding=(0, 0)):
    shape = resolve_free(shape, like)
    n, c, h, w = shape
    ph, pw = padding
    out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
    share = g / float(kernel[0] * kernel[1])
    for _, _, r, s in _windows(shape, kernel, stride, padding, (1, 1)):
        out[:, :, r, s] = out[:, :, r, s] + share
    return out[:, :, ph:ph + h, pw:pw + w]


def _avg_grad_infer(g: Spec, like: Spec | None = None, *, shape, kernel, stride, padding=(0, 0)) -> Spec:
    shape = resolve_free(shape, like)
    check_rank("avg_pool2d_grad", g, (4,), "gradient (N, C, OH, OW)")
    return Spec(shape, g.dtype)


register(
    "avg_pool2d_grad",
    forward=_avg_grad_forward,
    infer=_avg_grad_infer,
    vjp=lambda ops, gg, inputs, output, *, shape, **kw: (ops.avg_pool2d(gg, **kw),) + (None,) * (len(inputs) - 1),
    attrs={"shape": REQUIRED, **_AVG_ATTRS}, linear=True, nondiff=frozenset({1}), save_inputs=False,
    torch_name="AvgPool2DBackwardBackward0",
    doc="avg_pool2d's gradient: each output's share g / (KH*KW) added back over its window.",
)
