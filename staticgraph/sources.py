"""The graph's sources, declared in the default graph: ``placeholder`` (fed at run time),
``variable`` (state, read at the start of a run) and ``constant`` (a value baked into the graph).
"""

from __future__ import annotations

import numpy as np

from shared_ops import dtype_name

from .graph import get_default_graph
from .node import Node


def placeholder(shape, dtype="float32", name=None) -> Node:
    """A value fed at run time; ``None`` in ``shape`` is a free dimension.

    Parameters:
        shape: a tuple of ints, with ``None`` for a dimension fixed only when fed (a batch).
        dtype: the dtype's name (``"float32"``, ``"int64"``...).
        name: the name it is fed and printed by (default ``placeholder_N``).

    Returns:
        The placeholder ``Node``, declared in the default graph.

    Raises:
        DTypeError: a dtype graphcompare does not support.

    Examples:
        >>> with sg.Graph():
        ...     x = sg.placeholder((None, 3), name="x")
        >>> x.shape, x.dtype
        ((None, 3), 'float32')
    """
    shape = tuple(None if d is None else int(d) for d in shape)
    g = get_default_graph()
    if name is None:
        name = f"placeholder_{sum(1 for n in g.nodes if n.op == 'placeholder')}"
    return g.add_source("placeholder", shape, dtype_name(dtype), name=name)


def variable(value, name=None, dtype=None) -> Node:
    """State that persists between runs, initialised to ``value`` (Python floats: float32).

    Parameters:
        value: the initial value (a number, nested lists or an array); its shape is the
            variable's.
        name: the name it is printed and saved by.
        dtype: the dtype's name; default: ``value``'s, with Python floats as float32.

    Returns:
        The variable ``Node``; ``sg.assign`` / ``assign_sub`` change it within a run, and
        ``Session.run(var)`` reads it.

    Examples:
        >>> with sg.Graph():
        ...     w = sg.variable([[0.5, -1.0]], name="w")
        >>> w.shape, w.dtype
        ((1, 2), 'float32')
    """
    arr = np.asarray(value)
    if dtype is None and arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        dtype = "float32"
    dtype = dtype_name(dtype) if dtype is not None else arr.dtype.name
    arr = np.array(arr, dtype=dtype)
    g = get_default_graph()
    if name is None:
        name = f"variable_{sum(1 for n in g.nodes if n.op == 'variable')}"
    return g.add_source("variable", arr.shape, dtype, name=name, value=arr)


def constant(value, dtype=None, name=None) -> Node:
    """A value baked into the graph (Python floats become float32, as in TensorFlow).

    Parameters:
        value: a number, nested lists or an array.
        dtype: the dtype's name, instead of ``value``'s.
        name: a name for the node.

    Returns:
        The constant ``Node`` (the compiler's ``fold`` pass evaluates what depends only on
        constants).

    Examples:
        >>> with sg.Graph():
        ...     c = sg.constant(2.0)
        >>> c.shape, c.dtype
        ((), 'float32')
    """
    arr = np.asarray(value)
    if dtype is None and arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        dtype = "float32"
    return get_default_graph().add_constant(arr, dtype, name=name)


__all__ = ["placeholder", "variable", "constant"]
