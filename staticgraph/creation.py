"""``sg.arange``: the shared ``arange`` op declared in the default graph.

Its length is part of the node's static shape, so ``start``, ``end`` and ``step`` are Python
numbers known at declaration (as ``tf.range`` with constant arguments, ``jnp.arange`` under ``jit``).
"""

from __future__ import annotations

from shared_ops import get_op
from shared_ops.ops.creation import arange_attrs

from .graph import Node, get_default_graph


def arange(start=None, end=None, step=1, *, dtype=None, name=None) -> Node:
    """``start, start + step, ...`` up to (not including) ``end``, as ``dg.arange`` (PyTorch's rules).

    Parameters:
        start: the first value (the end, when ``end`` is not given); default 0.
        end: the bound, excluded.
        step: the spacing, positive or negative, never zero.
        dtype: default int64 when every argument is an integer, float32 when any is a float;
            with an integer dtype the arguments are truncated to integers.
        name: a name for the node.

    Returns:
        A one-dimensional ``Node`` of ``ceil((end - start) / step)`` elements (no gradient flows
        into it: it has no inputs).

    Raises:
        ShapeError: a zero step, a non-finite bound, or a step whose sign walks away from ``end``.
        DTypeError: an argument that is not a Python number (a graph value included), or
            ``dtype=bool``.

    Examples:
        >>> with sg.Graph():
        ...     r = sg.arange(1, 2, 0.25)
        >>> r.shape, r.dtype
        ((4,), 'float32')
        >>> sg.Session(r.graph).run(r)
        array([1.  , 1.25, 1.5 , 1.75], dtype=float32)
    """
    attrs = arange_attrs(start, end, step, dtype)
    return get_default_graph().apply(get_op("arange"), (), attrs, name=name)


__all__ = ["arange"]
