"""The shared surface's functions (``where``, ``maximum``, ``concatenate``, ``conv2d``, ...).

Both front ends re-export ``FUNCTIONS`` (``dg.where``, ``sg.where``): each function finds the
first tensor among its arguments and applies the op through that tensor's front end.
"""

from __future__ import annotations

from typing import Any, Sequence

from .dtypes import promoted_dtype, result_dtype
from .errors import DTypeError, ShapeError
from .functions_nn import FUNCTIONS_NN, conv2d  # the ops added for models; conv2d with bias, dilation, groups
from .registry import normalize_axis
from .surface import TensorSurface


def _first_surface(args: Sequence[Any], name: str) -> TensorSurface:
    for a in args:
        if isinstance(a, TensorSurface):
            return a
        if isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, TensorSurface):
                    return b
    raise DTypeError(f"{name}: at least one argument must be a tensor (dg.Tensor or sg.Node)")


def where(condition, x, y):
    """``x`` where ``condition`` else ``y``, broadcasting (as ``torch.where``); no gradient flows
    to ``condition``.

    Args:
        condition: a bool tensor (another dtype is compared with 0).
        x: the values where it is true (a tensor or a Python number).
        y: the values where it is false.

    Returns:
        A tensor of the promoted dtype of ``x`` and ``y``.

    Raises:
        DTypeError: no argument is a tensor.

    Examples:
        >>> x = dg.tensor([1.0, -2.0, 3.0])
        >>> dg.where(x > 0, x, 0.0)
        tensor([1., 0., 3.])
    """
    s = _first_surface((x, y, condition), "where")
    x = s._as_operand(x)
    y = x._as_operand(y)
    c = s._as_operand(condition)
    if c._dtype_name != "bool":
        c = c.astype("bool")
    if x._dtype_name != y._dtype_name:  # PyTorch's promotion: a 0-d operand yields to a shaped one
        common = promoted_dtype((x._dtype_name, x.ndim == 0), (y._dtype_name, y.ndim == 0))
        x = x if x._dtype_name == common else x.astype(common)
        y = y if y._dtype_name == common else y.astype(common)
    return s._op("where", c, x, y)


def maximum(x, y):
    """Elementwise maximum with broadcasting; at ties the gradient is split equally (as
    ``torch.maximum``).

    Args:
        x: a tensor or a number.
        y: a tensor or a number.

    Returns:
        The larger value at each position.

    Raises:
        DTypeError: neither argument is a tensor.

    Examples:
        >>> dg.maximum(dg.tensor([0.5, 2.0]), 1.0)
        tensor([1., 2.])
    """
    s = _first_surface((x, y), "maximum")
    return s._binary("maximum", x, y)


def minimum(x, y):
    """Elementwise minimum with broadcasting; at ties the gradient is split equally (as
    ``torch.minimum``).

    Args:
        x: a tensor or a number.
        y: a tensor or a number.

    Returns:
        The smaller value at each position.

    Raises:
        DTypeError: neither argument is a tensor.

    Examples:
        >>> dg.minimum(dg.tensor([0.5, 2.0]), 1.0)
        tensor([0.5000, 1.0000])
    """
    s = _first_surface((x, y), "minimum")
    return s._binary("minimum", x, y)


def _seq_op(name: str, tensors, axis: int, extra: int):
    tensors = list(tensors)
    if not tensors:
        raise ShapeError(f"{name}: needs at least one tensor")
    s = _first_surface(tensors, name)
    tensors = [s._as_operand(t) for t in tensors]
    dt = result_dtype(*[t._dtype_name for t in tensors])
    tensors = [t.astype(dt) for t in tensors]
    axis = normalize_axis(name, axis, tensors[0].ndim + extra)[0]
    return s._op(name, *tensors, axis=axis)


def concatenate(tensors, axis=0, *, dim=None):
    """The tensors joined along an existing dimension (``cat``; as ``torch.cat``), their dtypes
    promoted to one.

    Args:
        tensors: a sequence of tensors, equal in shape except along ``axis``.
        axis: the dimension to join along.
        dim: PyTorch's name for ``axis`` (wins when given).

    Returns:
        The joined tensor; each input gets its slice of the gradient.

    Examples:
        >>> x = dg.ones(2, 3)
        >>> dg.cat([x, x]).shape, dg.cat([x, x], dim=1).shape
        ((4, 3), (2, 6))
    """
    return _seq_op("concatenate", tensors, dim if dim is not None else axis, 0)


cat = concatenate


def stack(tensors, axis=0, *, dim=None):
    """The tensors (one shape) stacked along a new dimension (as ``torch.stack``).

    Args:
        tensors: a sequence of tensors of one shape.
        axis: where the new dimension goes.
        dim: PyTorch's name for ``axis`` (wins when given).

    Returns:
        A tensor with one more dimension.

    Examples:
        >>> x = dg.ones(2, 3)
        >>> dg.stack([x, x]).shape, dg.stack([x, x], dim=2).shape
        ((2, 2, 3), (2, 3, 2))
    """
    return _seq_op("stack", tensors, dim if dim is not None else axis, 1)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of ``logits`` (N, C) against integer ``labels`` (N,), computed stably
    (as ``F.cross_entropy``).

    Args:
        logits: unnormalised scores, one row per example.
        labels: the correct class of each row (integers).

    Returns:
        A 0-d tensor.

    Raises:
        DTypeError: ``logits`` is not a tensor.

    Examples:
        >>> dg.softmax_cross_entropy(dg.tensor([[2.0, 0.0], [0.0, 2.0]]), dg.tensor([0, 1]))
        tensor(0.1269)
    """
    s = _first_surface((logits,), "softmax_cross_entropy")
    labels = s._as_operand(labels)
    return s._op("softmax_cross_entropy", logits, labels)


def matmul(a, b):
    """The matrix product ``a @ b``, batch dimensions broadcast (as ``torch.matmul``).

    Args:
        a: a tensor or array.
        b: a tensor or array.

    Returns:
        The product.

    Raises:
        DTypeError: neither argument is a tensor.

    Examples:
        >>> dg.matmul(dg.ones(2, 3), dg.ones(3, 4)).shape
        (2, 4)
    """
    s = _first_surface((a, b), "matmul")
    return s._binary("matmul", a, b)


def apply_op(name, *inputs, **attrs):
    """Apply any registered op by name, your own included: ``F.apply_op("cube", x)``.

    Inputs pass as they are (no dtype promotion); attributes are the op's keywords. The ops
    are listed on the reference's ops page.

    Args:
        name: the op's name.
        inputs: its inputs (tensors, arrays or numbers).
        attrs: its attributes.

    Returns:
        The op's result, recorded (dyngraph) or declared (staticgraph).

    Raises:
        DTypeError: no input is a tensor.

    Examples:
        >>> dg.apply_op("sum", dg.ones(2, 3), axis=(1,))
        tensor([3., 3.])
    """
    s = _first_surface(inputs, name)
    return s._op(name, *(s._as_operand(x) for x in inputs), **attrs)


def _unary(name):
    def f(x, *args, **kwargs):
        return getattr(_first_surface((x,), name), name)(*args, **kwargs)

    f.__name__ = name
    f.__doc__ = f"Function form of ``x.{name}()``."
    return f


exp, log, tanh, sigmoid, relu, sqrt = (_unary(n) for n in ("exp", "log", "tanh", "sigmoid", "relu", "sqrt"))
softmax, log_softmax, logsumexp, clip = (_unary(n) for n in ("softmax", "log_softmax", "logsumexp", "clip"))


def _surface_call(name):
    def f(x, *args, **kwargs):
        return getattr(x, name)(*args, **kwargs)

    f.__name__ = name
    return f


sum_, mean, amax, amin, reshape, transpose = (
    _surface_call(n) for n in ("sum", "mean", "max", "min", "reshape", "transpose")
)

FUNCTIONS = {
    "apply_op": apply_op,
    "where": where,
    "maximum": maximum,
    "minimum": minimum,
    "concatenate": concatenate,
    "cat": cat,
    "stack": stack,
    "softmax_cross_entropy": softmax_cross_entropy,
    "conv2d": conv2d,
    "matmul": matmul,
    "exp": exp,
    "log": log,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "relu": relu,
    "sqrt": sqrt,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "logsumexp": logsumexp,
    "clip": clip,
    "mean": mean,
    "reshape": reshape,
    "transpose": transpose,
}
"""Functions both front ends re-export (``dg.where``, ``sg.where``...)."""


FUNCTIONS.update(FUNCTIONS_NN)
