"""The static IR: a ``Graph`` of symbolic ``Node``s, declared before anything runs.

A ``Graph`` owns its nodes (``staticgraph.node``), numbers them, checks each declaration
(attributes bound, shape and dtype inferred) and prints them one equation a line. ``with
sg.Graph():`` makes one the default graph that the sources (``staticgraph.sources``:
``placeholder``, ``variable``, ``constant``) and ops on plain values are declared in.

Nodes take every operator and method from ``shared_ops.TensorSurface``, so a model function
written for dyngraph declares a static graph unchanged.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import numpy as np

from shared_ops import GraphCompareError, dtype_name
from shared_ops.registry import OpDef

from ._text import attrs_str, type_str, value_str
from .node import ASSIGN, SOURCE_OPS, Node, SymShape, TracingError, user_line  # noqa: F401 - imported from here


class GraphError(GraphCompareError, ValueError):
    """Nodes of different graphs mixed, a name reused, or no graph in scope."""


class Graph:
    """A container of nodes; ``with sg.Graph() as g:`` makes it the default for declarations.

    Args:
        name: a name, shown by ``repr``.

    Examples:
        >>> with sg.Graph("model") as g:
        ...     x = sg.placeholder((2,), name="x")
        ...     y = x + 1.0
        >>> g, g.get("x") is x, y.graph is g
        (<sg.Graph model with 3 nodes>, True, True)
    """

    def __init__(self, name: str | None = None):
        self.name = name
        self.nodes: list[Node] = []
        self._ids = itertools.count()
        self._names: dict[str, Node] = {}
        self._prev: list = []
        # variable id -> current value, shared by the graph's compiled functions (a Session
        # keeps its own)
        self.state: dict[int, Any] = {}

    # -- default-graph stack ---------------------------------------------------------
    def __enter__(self) -> "Graph":
        stack = _stack()
        stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        stack = _stack()
        if stack and stack[-1] is self:
            stack.pop()

    def as_default(self) -> "Graph":
        """The graph itself, for TF1's spelling ``with g.as_default():`` (as ``with g:``).

        Returns:
            This graph.

        Examples:
            >>> g = sg.Graph()
            >>> with g.as_default():
            ...     c = sg.constant(1.0)
            >>> c.graph is g
            True
        """
        return self

    # -- declaration -----------------------------------------------------------------
    def _declaring_graph(self, inputs: tuple, op_name: str) -> "Graph":
        return _graph_of(inputs, op_name)

    def _add(self, node: Node) -> Node:
        if node.name is not None:
            if node.name in self._names:
                raise GraphError(f"the name {node.name!r} is already used in this graph by {self._names[node.name]!r}; pick another")
            self._names[node.name] = node
        self.nodes.append(node)
        return node

    def apply(self, op: OpDef, inputs: tuple, attrs: dict, name: str | None = None) -> Node:
        """Declare ``op(*inputs, **attrs)``: attributes checked and shape inferred now.

        The surface calls this for every op on nodes (``x + y``, ``x.sum(1)``); a shape from
        ``x.shape`` with a free dimension becomes an extra last input, read at run time.

        Args:
            op: the registered op (``shared_ops.get_op("sum")``).
            inputs: its input nodes, of this graph.
            attrs: its attributes, before defaults are filled in.
            name: a name for the node.

        Returns:
            The new ``Node``.

        Raises:
            GraphCompareError: what the op's attribute check or shape rule raises
                (``ShapeError``, ``DTypeError``, ``OpAttributeError``), with the user's line
                added; ``GraphError`` when ``name`` is taken.

        Examples:
            >>> from shared_ops import get_op
            >>> with sg.Graph() as g:
            ...     x = sg.placeholder((2, 3), name="x")
            ...     s = g.apply(get_op("sum"), (x,), {"axis": (1,)})
            >>> s, s.attrs
            (<sg.Node %1 = sum : f32[2]>, {'axis': (1,), 'keepdims': False})
        """
        trace = user_line()
        shape = attrs.get("shape")
        if isinstance(shape, SymShape):
            # A free dimension is resolved at run time from the node the shape came from:
            # ops with a `shape` attribute take it as an optional last input `like`.
            attrs = {**attrs, "shape": tuple(shape)}
            if None in shape:
                inputs = tuple(inputs) + (shape.node,)
        try:
            attrs = op.bind_attrs(attrs)
            spec = op.infer(*(x.spec for x in inputs), **attrs)
        except GraphCompareError as exc:
            raise type(exc)(f"{exc.args[0].split(chr(10))[0]}\n  declared at {trace}") from None
        return self._add(Node(self, op.name, inputs, attrs, spec.shape, spec.dtype, name=name, trace=trace))

    def add_source(self, op: str, shape, dtype, name=None, value=None, attrs=None) -> Node:
        """Declare a source node (what ``sg.placeholder``, ``sg.variable``, ``sg.constant`` do).

        Args:
            op: ``"placeholder"``, ``"variable"`` or ``"constant"``.
            shape: its static shape (``None`` for a free dimension).
            dtype: the dtype's name.
            name: its name (unique in the graph).
            value: the array of a variable (initial value) or a constant.
            attrs: attributes to keep on the node.

        Returns:
            The new ``Node``.

        Raises:
            GraphError: ``name`` is already used in this graph.

        Examples:
            >>> g = sg.Graph()
            >>> g.add_source("placeholder", (None, 2), "float32", name="x")
            <sg.Node x = placeholder : f32[?,2]>
        """
        return self._add(Node(self, op, (), attrs or {}, tuple(shape), dtype, name=name, trace=user_line(), value=value))

    def add_constant(self, value: Any, dtype: str | None = None, name: str | None = None) -> Node:
        """Declare a constant holding a read-only copy of ``value``.

        Args:
            value: a number, nested lists or an array.
            dtype: the dtype's name; default: ``value``'s (so Python floats give float64 here;
                ``sg.constant`` makes them float32).
            name: a name for the node.

        Returns:
            The constant ``Node``.

        Examples:
            >>> g = sg.Graph()
            >>> c = g.add_constant([1.0, 2.0], "float32")
            >>> c, c.value.flags.writeable
            (<sg.Node %0 = constant : f32[2]>, False)
        """
        arr = np.asarray(value)
        dtype = dtype_name(dtype) if dtype is not None else dtype_name(arr.dtype)
        arr = np.array(arr, dtype=dtype, order="C", copy=True)  # keeps 0-d (ascontiguousarray would not)
        arr.flags.writeable = False  # a constant: no kernel or user may change it
        return self.add_source("constant", arr.shape, dtype, name=name, value=arr)

    def constant_for(self, value: Any, inputs: tuple) -> Node:
        """The node that stands for a plain value among an op's inputs (``x + 1.0``): a new
        constant here; a control-flow body may give another.

        Args:
            value: the plain value (a number or an array, already of the op's dtype).
            inputs: all the op's inputs, for a graph that decides from them.

        Returns:
            A constant ``Node`` of this graph.

        Examples:
            >>> g = sg.Graph()
            >>> g.constant_for(1.0, ())
            <sg.Node %0 = constant : f64[]>
        """
        return self.add_constant(value)

    def capture(self, node: Node) -> Node:
        """``node`` as a value of this graph: only a control-flow body (``staticgraph.control``)
        takes values of an enclosing graph, as placeholders fed by its control node.

        Args:
            node: a node, of this graph or of another.

        Returns:
            ``node`` itself when it is this graph's.

        Raises:
            GraphError: ``node`` belongs to another graph (a plain graph captures nothing).

        Examples:
            >>> g, h = sg.Graph(), sg.Graph()
            >>> x = g.add_source("placeholder", (2,), "float32", name="x")
            >>> g.capture(x) is x
            True
            >>> h.capture(x)
            Traceback (most recent call last):
            ...
            staticgraph.graph.GraphError: <sg.Node x = placeholder : f32[2]> belongs to another graph; ...
        """
        if node.graph is self:
            return node
        raise GraphError(f"{node!r} belongs to another graph; declare every node in one `with sg.Graph():` block")

    def encloses(self, other: "Graph") -> bool:
        """True if ``other`` is this graph or a body nested (at any depth) inside it.

        Args:
            other: a graph (a control-flow body has a ``parent``).

        Returns:
            Whether ``other`` is this graph or nested in it.

        Examples:
            >>> g, h = sg.Graph(), sg.Graph()
            >>> g.encloses(g), g.encloses(h)
            (True, False)
        """
        while other is not None:
            if other is self:
                return True
            other = getattr(other, "parent", None)
        return False

    def get(self, name: str) -> Node:
        """The node declared with ``name``.

        Args:
            name: a placeholder's, variable's or named node's name.

        Returns:
            The ``Node``.

        Raises:
            GraphError: no node of this graph has that name.

        Examples:
            >>> with sg.Graph() as g:
            ...     w = sg.variable([1.0, 2.0], name="w")
            >>> g.get("w") is w
            True
        """
        try:
            return self._names[name]
        except KeyError:
            raise GraphError(f"no node named {name!r} in {self!r}") from None

    def text(self) -> str:
        """Every node, one equation per line (like a jaxpr).

        Returns:
            ``%id = op inputs {attrs} : dtype[shape]`` lines, in declaration order.

        Examples:
            >>> with sg.Graph() as g:
            ...     x = sg.placeholder((None, 2), name="x")
            ...     y = (x * 2.0).sum(1)
            >>> print(g.text())
            %0 = placeholder x : f32[?,2]
            %1 = constant 2. : f32[]
            %2 = mul %0 %1 : f32[?,2]
            %3 = sum %2 {axis=(1,), keepdims=False} : f32[?]
        """
        lines = []
        for n in self.nodes:
            t = type_str(n.spec)
            if n.op in ("placeholder", "variable"):
                lines.append(f"%{n.id} = {n.op} {n.name} : {t}")
            elif n.op == "constant":
                lines.append(f"%{n.id} = constant {value_str(n.value)} : {t}")
            else:
                args = " ".join(f"%{i.id}" for i in n.inputs)
                lines.append(f"%{n.id} = {n.op} {args}{attrs_str(n.attrs)} : {t}")
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"<sg.Graph {self.name or ''} with {len(self.nodes)} nodes>"


_local = threading.local()
_DEFAULT = [Graph("default")]


def _stack() -> list:
    s = getattr(_local, "stack", None)
    if s is None:
        s = _local.stack = []
    return s


def get_default_graph() -> Graph:
    """The innermost ``with Graph():`` of this thread, else the process default graph.

    Returns:
        The ``Graph`` that ``sg.placeholder``, ``sg.variable``... declare into now.

    Examples:
        >>> with sg.Graph() as g:
        ...     sg.get_default_graph() is g
        True
    """
    s = _stack()
    return s[-1] if s else _DEFAULT[0]


def reset_default_graph() -> Graph:
    """Replace the process default graph by an empty one (TF1's ``tf.reset_default_graph``).

    Returns:
        The new default ``Graph``.

    Examples:
        >>> g = sg.reset_default_graph()
        >>> sg.get_default_graph() is g, len(g.text().splitlines())
        (True, 0)
    """
    _DEFAULT[0] = Graph("default")
    return _DEFAULT[0]


def _graph_of(inputs, op_name: str) -> Graph:
    """The graph to declare in: the inputs' graph; inside a control-flow body, the body (its
    enclosing graphs' nodes are captured), the innermost such graph among inputs and default."""
    graph = None
    for x in inputs:
        if isinstance(x, Node):
            if graph is None or graph.encloses(x.graph):
                graph = x.graph
            elif not x.graph.encloses(graph):
                raise GraphError(f"{op_name}: inputs belong to different graphs; declare them in one `with sg.Graph():` block")
    default = get_default_graph()
    if graph is None or (default is not graph and graph.encloses(default)):
        return default
    return graph


def __getattr__(name: str):
    # The sources live in sources.py, which declares into this module's default graph (so it
    # imports this module); they are served here, lazily, for code that imports them from
    # staticgraph.graph.
    if name in ("placeholder", "variable", "constant"):
        from . import sources

        return getattr(sources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Graph", "Node", "SymShape", "get_default_graph", "reset_default_graph", "TracingError", "GraphError",
           "user_line"]
