"""The shared functions of the ops added for models (``dg.gelu``, ``sg.layer_norm``, ...).

``functions.FUNCTIONS`` takes these in, so both front ends re-export them with PyTorch's
names and arguments: ``conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1)``,
``max_pool2d(..., return_indices=True)``, ``pad(x, (left, right, top, bottom))`` (last
dimension first, as ``F.pad``), ``einsum("bij,bjk->bik", a, b)`` (any number of operands,
folded pairwise), ``linalg.vector_norm``.
"""

from __future__ import annotations

from types import SimpleNamespace

from . import _surface_nn as M
from ._surface_args import _pair
from .dtypes import FLOATING, result_dtype
from .errors import OpAttributeError, ShapeError
from .registry import normalize_axis


def _first(args, name):
    from .functions import _first_surface

    return _first_surface(args, name)


def _float(x):
    return x if x._dtype_name in FLOATING else x.astype("float32")


def _method(name):
    def f(x, *args, **kwargs):
        return getattr(M, name)(_first((x,), name), *args, **kwargs)

    f.__name__ = name
    f.__doc__ = f"Function form of ``x.{name}(...)`` (as ``torch.{name}``)."
    return f


def gelu(x, approximate="none"):
    """``x * Phi(x)`` (``approximate="tanh"``: the tanh form), as ``F.gelu``."""
    return x._op("gelu", _float(x), approximate=approximate)


def silu(x):
    return x._op("silu", _float(x))


def softplus(x, beta=1.0, threshold=20.0):
    return x._op("softplus", _float(x), beta=float(beta), threshold=float(threshold))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """``F.layer_norm``: the fused normalisation over the trailing ``normalized_shape``, then
    ``* weight + bias`` (a ``mul`` and an ``add``)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ShapeError(f"layer_norm: normalized_shape {shape} does not match the end of input shape {tuple(x.shape)}")
    y = x._op("layer_norm", x, ndim=len(shape), eps=float(eps))
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def dropout(x, p=0.5, training=True, seed=None):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``; the identity
    when not ``training``. The mask is a function of ``seed`` (an int or a 0-d integer tensor):
    both front ends drop the same elements for the same seed. Without one, dyngraph draws it
    from its generator (``dg.manual_seed``); ``sg.nn.Dropout`` takes it from the graph's step."""
    if not 0.0 <= p <= 1.0:
        raise OpAttributeError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if seed is None:
        draw = next((fn for cls, fn in SEED_SOURCES.items() if isinstance(x, cls)), None)
        if draw is None:
            raise OpAttributeError(f"dropout: give seed= (no seed source is registered for {type(x).__name__})")
        seed = draw(x)
    seed = x._as_operand(seed) if not isinstance(seed, int) else x._const(int(seed), "int64")
    return x._op("dropout", x, seed.astype("int64"), p=float(p))


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, NCHW input, (C_out, C_in / groups, KH, KW) weight, as
    ``torch.nn.functional.conv2d``; ``groups`` convolve channel groups separately."""
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
    """``F.max_pool2d``: the first maximum of each window (its gradient goes there only)."""
    if ceil_mode:
        raise OpAttributeError("max_pool2d: ceil_mode=True is not supported")
    k, st, pd = _pool_args(kernel_size, stride, padding)
    idx = x._op("max_pool2d_indices", x, kernel=k, stride=st, padding=pd, dilation=_pair(dilation))
    c, oh, ow = x.shape[1], idx.shape[2], idx.shape[3]
    flat = x.reshape(-1, c, x.shape[2] * x.shape[3])
    values = x._op("gather", flat, idx.reshape(-1, c, oh * ow), axis=2).reshape(-1, c, oh, ow)
    return (values, idx) if return_indices else values


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """``F.avg_pool2d`` (padding counted in the divisor, PyTorch's default)."""
    if ceil_mode or not count_include_pad:
        raise OpAttributeError("avg_pool2d: only ceil_mode=False and count_include_pad=True are supported")
    k, st, pd = _pool_args(kernel_size, stride, padding)
    return x._op("avg_pool2d", _float(x), kernel=k, stride=st, padding=pd)


def pad(x, pad, mode="constant", value=0.0):  # noqa: A002
    """``F.pad``: ``pad`` lists (before, after) pairs from the last dimension backwards."""
    if mode != "constant":
        raise OpAttributeError(f"pad: only mode='constant' is supported, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad: needs pairs for at most {x.ndim} dimensions, got {tuple(pad)}")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)][::-1]
    full = ((0, 0),) * (x.ndim - len(pairs)) + tuple(pairs)
    return x._op("pad", x, pad=full, value=float(value))


def einsum(equation, *operands):
    """``torch.einsum`` with explicit output: operands are folded pairwise, each pair one
    batched matmul; letters needed by no later operand nor the output are summed first."""
    from .ops.einsum import parse_equation

    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, out = parse_equation(equation)
    if len(terms) != len(operands):
        raise ShapeError(f"einsum: {equation!r} names {len(terms)} operands, got {len(operands)}")
    s = _first(operands, "einsum")
    ops_ = [s._as_operand(o) for o in operands]
    dt = result_dtype(*[o._dtype_name for o in ops_])
    ops_ = [o.astype(dt) for o in ops_]

    def reduce_to(x, t, keep):
        axes = tuple(i for i, ch in enumerate(t) if ch not in keep)
        return (x.sum(axis=axes) if axes else x), "".join(ch for ch in t if ch in keep)

    acc, ta = ops_[0], terms[0]
    for k in range(1, len(ops_)):
        later = set("".join(terms[k + 1:])) | set(out)
        tb = terms[k]
        acc, ta = reduce_to(acc, ta, set(tb) | later)
        b, tb = reduce_to(ops_[k], tb, set(ta) | later)
        kept = out if k == len(ops_) - 1 else "".join(dict.fromkeys(ch for ch in ta + tb if ch in later))
        acc, ta = s._op("einsum", acc, b, equation=f"{ta},{tb}->{kept}"), kept
    acc, ta = reduce_to(acc, ta, set(out))
    return acc if ta == out else acc.permute(*(ta.index(ch) for ch in out))


def vector_norm(x, ord=2, dim=None, keepdim=False):  # noqa: A002
    """``torch.linalg.vector_norm`` for ord 1, 2, inf and any p >= 1 (0 gradient at a zero norm)."""
    axis = None if dim is None else normalize_axis("vector_norm", dim, x.ndim)
    return x._op("vector_norm", _float(x), ord=float(ord), axis=axis, keepdims=bool(keepdim))


def one_hot(labels, num_classes=-1):
    """``F.one_hot``: int64 rows of ``num_classes`` (in a static graph num_classes is required)."""
    if num_classes < 0:
        try:
            num_classes = int(labels.max().item()) + 1
        except AttributeError:
            raise ShapeError("one_hot: give num_classes (a static graph cannot read the labels' maximum)") from None
    return labels._op("one_hot", labels, num_classes=int(num_classes), dtype="int64")


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """``|a - b| <= atol + rtol * |b|`` everywhere: a Python bool where the value is known
    (dyngraph), a bool node in a static graph."""
    s = _first((a, b), "allclose")
    a, b = s._as_operand(a), s._as_operand(b)
    close = abs(a - b) <= atol + rtol * abs(b)
    if equal_nan:
        close = close | ((a != a) & (b != b))
    result = close.all()
    try:
        return bool(result)
    except TypeError:  # a static graph's node has no value yet
        return result


linalg = SimpleNamespace(vector_norm=vector_norm)

FUNCTIONS_NN = {
    "gelu": gelu, "silu": silu, "softplus": softplus, "layer_norm": layer_norm, "dropout": dropout,
    "conv2d": conv2d, "max_pool2d": max_pool2d, "avg_pool2d": avg_pool2d, "pad": pad, "einsum": einsum,
    "vector_norm": vector_norm, "linalg": linalg, "one_hot": one_hot, "allclose": allclose,
    **{n: _method(n) for n in (
        "sin", "cos", "erf", "log1p", "expm1", "rsqrt", "square", "cumsum", "prod", "var", "std", "tril", "triu",
        "sort", "topk", "argsort", "gather", "scatter_add", "split", "chunk", "unbind", "masked_fill",
        "logical_and", "logical_or", "logical_not", "floor_divide", "remainder", "all", "any",
    )},
    "clone": lambda x: x.clone(),
}
"""Name -> function, merged into ``functions.FUNCTIONS``."""

SEED_SOURCES: dict = {}
"""Front-end value class -> ``fn(x) -> seed`` (an int or a 0-d integer value) for ``dropout``
without ``seed=``; each front end registers its own (``dyngraph.nn``, ``staticgraph.nn``)."""
