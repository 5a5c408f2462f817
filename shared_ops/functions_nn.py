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
from .dtypes import result_dtype
from .errors import OpAttributeError, ShapeError
from .functions_conv import _first, _float, avg_pool2d, conv2d, max_pool2d, pad  # noqa: F401  (re-exported)
from .registry import normalize_axis


def _method(name):
    def f(x, *args, **kwargs):
        return getattr(M, name)(_first((x,), name), *args, **kwargs)

    f.__name__ = name
    f.__doc__ = f"Function form of ``x.{name}(...)`` (as ``torch.{name}``)."
    return f


def gelu(x, approximate="none"):
    """``x * Phi(x)`` (``approximate="tanh"``: the tanh form), as ``F.gelu``.

    Args:
        x: a tensor (integers are made float32).
        approximate: ``"none"`` or ``"tanh"``.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> dg.gelu(dg.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8413])
    """
    return x._op("gelu", _float(x), approximate=approximate)


def silu(x):
    """``x * sigmoid(x)``, as ``F.silu``.

    Args:
        x: a tensor (integers are made float32).

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> dg.silu(dg.tensor([0.0, 1.0]))
        tensor([0.0000, 0.7311])
    """
    return x._op("silu", _float(x))


def softplus(x, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold``, as
    ``F.softplus``.

    Args:
        x: a tensor (integers are made float32).
        beta: the sharpness.
        threshold: above it, the identity.

    Returns:
        A tensor of ``x``'s shape.

    Examples:
        >>> dg.softplus(dg.tensor([0.0, 30.0]))
        tensor([ 0.6931, 30.0000])
    """
    return x._op("softplus", _float(x), beta=float(beta), threshold=float(threshold))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """``F.layer_norm``: the fused normalisation over the trailing ``normalized_shape``, then
    ``* weight + bias`` (a ``mul`` and an ``add``).

    Args:
        x: a tensor.
        normalized_shape: the trailing dimensions to normalise over (an int or a tuple).
        weight: multiplies the result (None: 1).
        bias: is added to it (None: 0).
        eps: added to the variance.

    Returns:
        A tensor of ``x``'s shape.

    Raises:
        ShapeError: ``normalized_shape`` is not the end of ``x``'s shape.

    Examples:
        >>> dg.layer_norm(dg.tensor([[1.0, 2.0, 3.0]]), 3)
        tensor([[-1.2247,  0.0000,  1.2247]])
    """
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
    from its generator (``dg.manual_seed``); ``sg.nn.Dropout`` takes it from the graph's step.

    Args:
        x: a tensor.
        p: the probability of zeroing an element.
        training: False gives ``x`` itself.
        seed: the mask's seed.

    Returns:
        A tensor of ``x``'s shape.

    Raises:
        OpAttributeError: ``p`` outside ``[0, 1]``, or no seed and no seed source.

    Examples:
        >>> dg.dropout(dg.ones(6), p=0.5, seed=0)
        tensor([2., 0., 0., 0., 2., 2.])
    """
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


def einsum(equation, *operands):
    """``torch.einsum`` with explicit output: operands are folded pairwise, each pair one
    batched matmul; letters needed by no later operand nor the output are summed first.

    Args:
        equation: ``"ij,jk->ik"``, with ``->`` and the output's letters.
        operands: the tensors (or one list of them).

    Returns:
        The result.

    Raises:
        ShapeError: the equation names another number of operands.

    Examples:
        >>> dg.einsum("ij,jk->ik", dg.ones(2, 3), dg.ones(3, 4)).shape
        (2, 4)
    """
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
    """``torch.linalg.vector_norm`` for ord 1, 2, inf and any p >= 1 (0 gradient at a zero norm);
    also ``dg.linalg.vector_norm``.

    Args:
        x: a tensor (integers are made float32).
        ord: the norm's order.
        dim: the dimensions to reduce (None: all).
        keepdim: keep them with size 1.

    Returns:
        The norm.

    Examples:
        >>> dg.vector_norm(dg.tensor([3.0, 4.0])), dg.linalg.vector_norm(dg.tensor([3.0, -4.0]), ord=1)
        (tensor(5.), tensor(7.))
    """
    axis = None if dim is None else normalize_axis("vector_norm", dim, x.ndim)
    return x._op("vector_norm", _float(x), ord=float(ord), axis=axis, keepdims=bool(keepdim))


def one_hot(labels, num_classes=-1):
    """``F.one_hot``: int64 rows of ``num_classes`` (in a static graph num_classes is required).

    Args:
        labels: an integer tensor.
        num_classes: the row length (-1: the labels' maximum plus one).

    Returns:
        A tensor with one more dimension, no gradient.

    Raises:
        ShapeError: ``num_classes`` left out in a static graph.

    Examples:
        >>> dg.one_hot(dg.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    if num_classes < 0:
        try:
            num_classes = int(labels.max().item()) + 1
        except AttributeError:
            raise ShapeError("one_hot: give num_classes (a static graph cannot read the labels' maximum)") from None
    return labels._op("one_hot", labels, num_classes=int(num_classes), dtype="int64")


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """``|a - b| <= atol + rtol * |b|`` everywhere: a Python bool where the value is known
    (dyngraph), a bool node in a static graph.

    Args:
        a: a tensor or a number.
        b: a tensor or a number.
        rtol: the relative tolerance.
        atol: the absolute tolerance.
        equal_nan: NaN equals NaN.

    Returns:
        A bool, or a bool node.

    Examples:
        >>> dg.allclose(dg.tensor([1.0, 2.0]), dg.tensor([1.0, 2.0 + 1e-7]))
        True
    """
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
