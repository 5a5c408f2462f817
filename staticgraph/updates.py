"""In-graph updates of variables: ``sg.assign``, ``assign_sub``, ``assign_add`` (TF1's).

An assign node is applied at the end of the run that fetches it; reads of the variable in the
same run see the old value (``Session.run``'s contract).
"""

from __future__ import annotations

import numpy as np

from shared_ops import DTypeError, ShapeError
from shared_ops.registry import fmt_shape

from .graph import ASSIGN, Graph, GraphError, Node, user_line


def _as_node(graph: Graph, value, dtype: str) -> Node:
    if isinstance(value, Node):
        return value
    return graph.add_constant(np.asarray(value), dtype)


def _require_variable(var, what: str) -> None:
    if not isinstance(var, Node) or var.op != "variable":
        raise GraphError(f"{what}: the target must be a variable node (sg.variable), got {var!r}")


def assign(var: Node, value, name: str | None = None) -> Node:
    """Declare ``var <- value``: applied at the end of the run that fetches this node (TF1).

    Fetching it gives the new value. Reads of ``var`` in the same run see the old value.

    Parameters:
        var: a variable node (``sg.variable``).
        value: a node or a number/array of ``var``'s shape.
        name: a name for the assign node.

    Returns:
        The assign node; fetching it (``Session.run`` or a compiled function's outputs)
        applies the update.

    Raises:
        GraphError: ``var`` is not a variable, or ``value`` belongs to another graph.
        ShapeError: ``value``'s shape is not ``var``'s (a variable keeps its shape).
        DTypeError: ``value``'s dtype is not ``var``'s (cast it with ``.astype``).

    Examples:
        >>> with sg.Graph() as g:
        ...     v = sg.variable(1.0, name="v")
        ...     set_v = sg.assign(v, sg.constant(5.0))
        >>> sess = sg.Session(g)
        >>> [float(x) for x in sess.run([v, set_v])], float(sess.run(v))
        ([1.0, 5.0], 5.0)
    """
    _require_variable(var, "assign")
    value = _as_node(var.graph, value, var.dtype)
    if value.graph is not var.graph:
        raise GraphError("assign: the value belongs to a different graph than the variable")
    trace = user_line()
    vs, xs = var._shape, value._shape
    if len(vs) != len(xs) or any(b is not None and a != b for a, b in zip(vs, xs)):
        raise ShapeError(f"assign: variable {var.label} has shape {fmt_shape(vs)} but the value has shape "
                         f"{fmt_shape(xs)}; a variable keeps its shape\n  declared at {trace}")
    if value.dtype != var.dtype:
        raise DTypeError(f"assign: variable {var.label} is {var.dtype} but the value is {value.dtype}; "
                         f"cast with .astype({var.dtype!r})\n  declared at {trace}")
    g = var.graph
    return g._add(Node(g, ASSIGN, (var, value), {}, var._shape, var.dtype, name=name, trace=trace))


def assign_sub(var: Node, delta, name: str | None = None) -> Node:
    """Declare ``var <- var - delta`` (one ``sub`` node, then ``assign``).

    Parameters:
        var: a variable node.
        delta: a node or a number/array broadcastable to ``var``.
        name: a name for the assign node.

    Returns:
        The assign node: fetching it applies the update at the end of that run.

    Raises:
        GraphError: ``var`` is not a variable.

    Examples:
        >>> with sg.Graph() as g:
        ...     w = sg.variable(1.0, name="w")
        ...     step = sg.assign_sub(w, 0.25)
        >>> sess = sg.Session(g)
        >>> _ = sess.run(step); _ = sess.run(step)
        >>> float(sess.run(w))
        0.5
    """
    _require_variable(var, "assign_sub")
    return assign(var, var - delta, name=name)


def assign_add(var: Node, delta, name: str | None = None) -> Node:
    """Declare ``var <- var + delta`` (one ``add`` node, then ``assign``).

    Parameters:
        var: a variable node.
        delta: a node or a number/array broadcastable to ``var``.
        name: a name for the assign node.

    Returns:
        The assign node: fetching it applies the update at the end of that run.

    Raises:
        GraphError: ``var`` is not a variable.

    Examples:
        >>> with sg.Graph() as g:
        ...     count = sg.variable(0.0, name="count")
        ...     tick = sg.assign_add(count, 1.0)
        >>> sess = sg.Session(g)
        >>> [float(sess.run(tick)) for _ in range(3)]
        [1.0, 2.0, 3.0]
    """
    _require_variable(var, "assign_add")
    return assign(var, var + delta, name=name)


__all__ = ["assign", "assign_sub", "assign_add"]
