"""Neural-network ops: softmax log_softmax softmax_cross_entropy one_hot conv2d (+ its two
gradient ops, so second-order gradients of a convolution are again convolutions).

``softmax``, ``log_softmax`` and ``softmax_cross_entropy`` are primitives rather than
compositions for numerical stability: each shifts by the row maximum before ``exp``.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INTEGER, dtype_name
from ..errors import DTypeError, ShapeError
from ..registry import REQUIRED, Spec, fmt_shape, normalize_axis, register
from ..registry import resolve_free as _resolve
from ._infer import check_rank, require_float, same_dtype


_ndarray = np.ndarray
# ndarray.max / .sum without NumPy's Python wrappers (_methods._amax, _sum): the same reductions
_max, _sum = np.maximum.reduce, np.add.reduce


def _softmax_infer(x: Spec, *, axis=-1) -> Spec:
    require_float("softmax", x)
    normalize_axis("softmax", axis, x.ndim)
    return Spec(x.shape, x.dtype)


def _softmax_forward(xp, x, *, axis=-1):
    if x.__class__ is _ndarray and x.dtype.kind == "f":  # the same ufuncs, temporaries reused
        e = x - _max(x, axis=axis, keepdims=True)
        np.exp(e, out=e)
        return np.divide(e, _sum(e, axis=axis, keepdims=True), out=e)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def _softmax_vjp(ops, g, inputs, output, *, axis=-1):
    # y * (g - sum(g * y)), as PyTorch's softmax_backward_data
    s = ops.sum(ops.mul(g, output), axis=(axis % g.ndim,), keepdims=True)
    return (ops.mul(ops.sub(g, s), output),)


register(
    "softmax",
    doc="``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum first (as ``torch.softmax``).",
    forward=_softmax_forward,
    infer=_softmax_infer,
    vjp=_softmax_vjp,
    attrs={"axis": -1}, save_inputs=False, save_output=True,
    torch_name="SoftmaxBackward0",
)


def _log_softmax_forward(xp, x, *, axis=-1):
    if x.__class__ is _ndarray and x.dtype.kind == "f":  # the same ufuncs, temporaries reused
        s = x - _max(x, axis=axis, keepdims=True)
        return np.subtract(s, _log_sum_exp(s, axis), out=s)
    s = x - xp.max(x, axis=axis, keepdims=True)
    return s - xp.log(xp.sum(xp.exp(s), axis=axis, keepdims=True))


def _log_sum_exp(s, axis):
    # log(sum(exp(s))) of the shifted NumPy logits, keeping the reduced axis
    e = np.exp(s)
    return np.log(_sum(e, axis=axis, keepdims=True))


def _log_softmax_vjp(ops, g, inputs, output, *, axis=-1):
    # g - exp(y) * sum(g), as PyTorch's log_softmax_backward_data
    return (ops.sub(g, ops.mul(ops.exp(output), ops.sum(g, axis=(axis % g.ndim,), keepdims=True))),)


register(
    "log_softmax",
    doc="``x - logsumexp(x)`` along ``axis``, stable (as ``torch.log_softmax``).",
    forward=_log_softmax_forward,
    infer=_softmax_infer,
    vjp=_log_softmax_vjp,
    attrs={"axis": -1}, save_inputs=False, save_output=True,
    torch_name="LogSoftmaxBackward0",
)


# --------------------------------------------------------------------------- cross-entropy


def _check_labels(xp, labels, c, op):
    if bool(xp.any((labels < 0) | (labels >= c))):
        raise IndexError(f"{op}: labels must be in [0, {c}) for {c} classes")


def _one_hot(xp, labels, c, dtype):
    if labels.__class__ is _ndarray:  # methods: no Python wrappers around the two NumPy calls
        return (labels.reshape(labels.shape + (1,)) == np.arange(c, dtype=labels.dtype)).astype(dtype)
    hit = xp.reshape(labels, tuple(labels.shape) + (1,)) == xp.arange(c, dtype=labels.dtype)
    return xp.astype(hit, dtype)


def _sce_forward(xp, logits, labels):
    n, c = logits.shape
    if (
        logits.__class__ is _ndarray and labels.__class__ is _ndarray and logits.dtype.kind == "f"
        and labels.dtype.kind in "iu" and labels.shape == (n,)
    ):
        return _sce_forward_numpy(logits, labels, n, c)
    # dyngraph runs infer only once a kernel fails: float labels or an (N, 1) column, which
    # NumPy would compute with, are refused here with staticgraph's words
    _sce_infer(Spec(tuple(logits.shape), dtype_name(logits.dtype)), Spec(tuple(labels.shape), dtype_name(labels.dtype)))
    _check_labels(xp, labels, c, "softmax_cross_entropy")
    lsm = _log_softmax_forward(xp, logits, axis=1)
    hit = xp.reshape(labels, (n, 1)) == xp.arange(c, dtype=labels.dtype)
    return -xp.mean(xp.sum(xp.where(hit, lsm, xp.zeros_like(lsm)), axis=1))


def _sce_forward_numpy(logits, labels, n, c):
    # _sce_forward's bits with a third of its NumPy calls (it is W3's loss): log_softmax's
    # ufuncs, then each row's entry at its label picked, where the generic spelling sums the
    # row masked with zeros. Adding zeros leaves a value's bits (NaN payloads included) except
    # for -0.0, which log_softmax never gives: s - lse is -0.0 only for s = -0.0 (a -0.0 logit
    # beside a +0.0 maximum) and lse = +0.0 (sum(exp) = 1), and those two entries alone sum to 2.
    if n and (np.minimum.reduce(labels) < 0 or _max(labels) >= c):
        _check_labels(np, labels, c, "softmax_cross_entropy")
    s = logits - _max(logits, axis=1, keepdims=True)
    picked = s[np.arange(n), labels] - _log_sum_exp(s, 1)[:, 0]
    if not n:
        return -picked.mean()  # NaN, with NumPy's warning for the mean of nothing
    # picked.mean() without its Python wrapper, as NumPy computes it: the sum (float16 summed
    # in float32), divided by the count as an intp (so in float64), cast back
    total = _sum(picked, dtype=np.float32) if picked.dtype == np.float16 else _sum(picked)
    return -picked.dtype.type(total / np.intp(n))


def _sce_infer(logits: Spec, labels: Spec) -> Spec:
    require_float("softmax_cross_entropy", logits)
    check_rank("softmax_cross_entropy", logits, (2,), "logits")
    if labels.ndim != 1:
        raise ShapeError(
            f"softmax_cross_entropy: labels must have 1 dimension (one class index per row of logits), got shape "
            f"{fmt_shape(labels.shape)}" + ("; flatten a column with labels.reshape(-1)" if labels.ndim == 2 and labels.shape[1] == 1 else "")
        )
    if labels.dtype not in INTEGER:
        raise DTypeError(
            f"softmax_cross_entropy: labels must be integers (class indices), got {labels.dtype}; "
            "convert them with .astype('int64')"
        )
    n, m = logits.shape[0], labels.shape[0]
    if n is not None and m is not None and n != m:
        raise ShapeError(
            f"softmax_cross_entropy: logits {fmt_shape(logits.shape)} and labels {fmt_shape(labels.shape)} "
            "disagree on the batch size"
        )
    return Spec((), logits.dtype)


def _sce_vjp(ops, g, inputs, output):
    # (softmax(logits) - one_hot(labels)) * g / N
    logits, labels = inputs
    n, c = logits.shape
    dt = dtype_name(logits.dtype)
    like = () if c is not None else (logits,)
    onehot = ops.one_hot(labels, *like, num_classes=c, dtype=dt)
    count = float(n) if n is not None else ops.sum(ops.astype(ops.ones_like(labels), dtype=dt))
    return (ops.mul(ops.sub(ops.softmax(logits, axis=1), onehot), ops.div(g, count)), None)


register(
    "softmax_cross_entropy",
    forward=_sce_forward,
    infer=_sce_infer,
    vjp=_sce_vjp,
    nondiff=frozenset({1}),
    torch_name="NllLossBackward0",
    doc="Mean cross-entropy of logits (N, C) against integer labels (N,), stable (via log_softmax).",
)


def _one_hot_forward(xp, labels, like=None, *, num_classes=None, dtype="float32"):
    return _one_hot(xp, labels, num_classes if num_classes is not None else like.shape[-1], getattr(xp, dtype))


def _one_hot_infer(labels: Spec, like: Spec | None = None, *, num_classes=None, dtype="float32") -> Spec:
    if labels.dtype not in INTEGER:
        raise DTypeError(f"one_hot: labels must be integers, got {labels.dtype}")
    if num_classes is None and like is None:
        raise ShapeError("one_hot: give num_classes= (or a `like` input whose last dimension is the class count)")
    return Spec(labels.shape + (num_classes if num_classes is not None else like.shape[-1],), dtype_name(dtype))


register(
    "one_hot",
    doc="Integer ``labels`` as one-hot rows of ``num_classes`` (as ``F.one_hot``, in ``dtype``); no gradient.",
    exact=True,
    forward=_one_hot_forward,
    infer=_one_hot_infer,
    vjp=None,
    attrs={"num_classes": None, "dtype": "float32"}, nondiff=frozenset({0, 1}), save_inputs=False,
)


# --------------------------------------------------------------------------- conv2d


def _pad(xp, x, ph, pw):
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def _windows(kh, kw, oh, ow, stride, dilation=(1, 1)):
    """One strided (rows, cols) slice pair per kernel offset (offsets ``dilation`` apart)."""
    (sh, sw), (dh, dw) = stride, dilation
    for i in range(kh):
        for j in range(kw):
            yield i, j, slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)


def _out_size(h, k, s, p, d=1):
    return None if h is None or k is None else (h + 2 * p - d * (k - 1) - 1) // s + 1


def _im2col(xp, x, kh, kw, stride, padding, dilation=(1, 1)):
    """(N, C*KH*KW, OH*OW) patches, channel-major then kernel offset (as the weight reshapes)."""
    xpad = _pad(xp, x, *padding)
    n, c = x.shape[:2]
    oh = _out_size(x.shape[2], kh, stride[0], padding[0], dilation[0])
    ow = _out_size(x.shape[3], kw, stride[1], padding[1], dilation[1])
    cols = xp.stack([xpad[:, :, r, s] for _, _, r, s in _windows(kh, kw, oh, ow, stride, dilation)], axis=2)
    return xp.reshape(cols, (n, c * kh * kw, oh * ow)), oh, ow


def _col2im(xp, cols, shape, kh, kw, stride, padding, dilation=(1, 1)):
    """The adjoint of ``_im2col``: patches summed back into an (N, C, H, W) array."""
    n, c, h, w = shape
    ph, pw = padding
    oh, ow = _out_size(h, kh, stride[0], ph, dilation[0]), _out_size(w, kw, stride[1], pw, dilation[1])
    cols = xp.reshape(cols, (n, c, kh, kw, oh, ow))
    out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i, j, r, s in _windows(kh, kw, oh, ow, stride, dilation):
        out[:, :, r, s] = out[:, :, r, s] + cols[:, :, i, j, :, :]
    return out[:, :, ph:ph + h, pw:pw + w] if ph or pw else out


def _conv2d_forward(xp, x, w, *, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    o, c, kh, kw = w.shape
    cols, oh, ow = _im2col(xp, x, kh, kw, stride, padding, dilation)
    out = xp.matmul(xp.reshape(w, (o, c * kh * kw)), cols)  # (N, O, OH*OW)
    return xp.reshape(out, (x.shape[0], o, oh, ow))


def _conv2d_infer(x: Spec, w: Spec, *, stride=(1, 1), padding=(0, 0), dilation=(1, 1)) -> Spec:
    dtype = same_dtype("conv2d", x, w)
    require_float("conv2d", x)
    check_rank("conv2d", x, (4,), "input (N, C, H, W)")
    check_rank("conv2d", w, (4,), "weight (C_out, C_in, KH, KW)")
    if x.shape[1] is not None and w.shape[1] is not None and x.shape[1] != w.shape[1]:
        raise ShapeError(
            f"conv2d: input {fmt_shape(x.shape)} has {x.shape[1]} channels but weight {fmt_shape(w.shape)} expects {w.shape[1]}"
        )
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh, ow = _out_size(x.shape[2], w.shape[2], sh, ph, dh), _out_size(x.shape[3], w.shape[3], sw, pw, dw)
    if (oh is not None and oh < 1) or (ow is not None and ow < 1):
        raise ShapeError(f"conv2d: kernel {fmt_shape(w.shape[2:])} is larger than the padded input {fmt_shape(x.shape[2:])}")
    return Spec((x.shape[0], w.shape[0], oh, ow), dtype)


def _conv2d_vjp(ops, g, inputs, output, *, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    x, w = inputs
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    return (
        ops.conv2d_grad_input(g, w, shape=x.shape, **kw) if ops.needs_input_grad[0] else None,
        ops.conv2d_grad_weight(x, g, shape=w.shape, **kw) if ops.needs_input_grad[1] else None,
    )


_CONV_ATTRS = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1)}

register(
    "conv2d",
    forward=_conv2d_forward,
    infer=_conv2d_infer,
    vjp=_conv2d_vjp,
    attrs=_CONV_ATTRS,
    torch_name="ConvolutionBackward0",
    doc="2-D cross-correlation, NCHW input, (C_out, C_in, KH, KW) weight, im2col + matmul.",
)


# The convolution is a trilinear form T(x, w, g) = <conv2d(x, w), g>. Its three partial
# derivatives are conv2d, conv2d_grad_input and conv2d_grad_weight, so the rules below close.


def _grad_input_forward(xp, g, w, like=None, *, shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    shape = _resolve(shape, like)
    o, c, kh, kw = w.shape
    n = g.shape[0]
    cols = xp.matmul(xp.permute_dims(xp.reshape(w, (o, c * kh * kw)), (1, 0)), xp.reshape(g, (n, o, -1)))
    return _col2im(xp, cols, shape, kh, kw, stride, padding, dilation)


def _grad_input_vjp(ops, gg, inputs, output, *, shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    g, w = inputs[:2]
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    return (
        ops.conv2d(gg, w, **kw) if ops.needs_input_grad[0] else None,
        ops.conv2d_grad_weight(gg, g, shape=w.shape, **kw) if ops.needs_input_grad[1] else None,
    ) + (None,) * (len(inputs) - 2)


def _grad_input_infer(g: Spec, w: Spec, like: Spec | None = None, *, shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)) -> Spec:
    check_rank("conv2d_grad_input", g, (4,), "gradient (N, C_out, OH, OW)")
    return Spec(_resolve(shape, like), same_dtype("conv2d_grad_input", g, w))


register(
    "conv2d_grad_input",
    forward=_grad_input_forward,
    infer=_grad_input_infer,
    vjp=_grad_input_vjp,
    attrs={"shape": REQUIRED, **_CONV_ATTRS}, nondiff=frozenset({2}),
    torch_name="ConvolutionBackwardBackward0",
    doc="The gradient of conv2d with respect to its input (a transposed convolution, via col2im).",
)


def _grad_weight_forward(xp, x, g, like=None, *, shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    o, c, kh, kw = _resolve(shape, like)
    cols, oh, ow = _im2col(xp, x, kh, kw, stride, padding, dilation)
    gw = xp.tensordot(xp.reshape(g, (x.shape[0], o, oh * ow)), cols, axes=((0, 2), (0, 2)))
    return xp.reshape(gw, (o, c, kh, kw))


def _grad_weight_vjp(ops, gg, inputs, output, *, shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    x, g = inputs[:2]
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    return (
        ops.conv2d_grad_input(g, gg, shape=x.shape, **kw) if ops.needs_input_grad[0] else None,
        ops.conv2d(x, gg, **kw) if ops.needs_input_grad[1] else None,
    ) + (None,) * (len(inputs) - 2)


def _grad_weight_infer(x: Spec, g: Spec, like: Spec | None = None, *, shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)) -> Spec:
    check_rank("conv2d_grad_weight", x, (4,), "input (N, C, H, W)")
    return Spec(_resolve(shape, like), same_dtype("conv2d_grad_weight", x, g))


register(
    "conv2d_grad_weight",
    forward=_grad_weight_forward,
    infer=_grad_weight_infer,
    vjp=_grad_weight_vjp,
    attrs={"shape": REQUIRED, **_CONV_ATTRS}, nondiff=frozenset({2}),
    torch_name="ConvolutionBackwardBackward0",
    doc="The gradient of conv2d with respect to its weight (im2col patches contracted with g).",
)
