"""The static IR: a ``Graph`` of symbolic ``Node``s, declared before anything runs.

A ``Node`` is an op application (``op``, ``inputs``, hashable ``attrs``) with a static shape
(``None`` for a free dimension) and dtype, inferred with the op's ``infer`` when the node is
declared. Source nodes are ``placeholder`` (fed at run time), ``variable`` (state, read at the
start of a run) and ``constant`` (a value baked into the graph).

Nodes take every operator and method from ``shared_ops.TensorSurface``, so a model function
written for dyngraph declares a static graph unchanged.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from typing import Any

import numpy as np

from shared_ops import GraphCompareError, Spec, TensorSurface, dtype_name
from shared_ops.registry import REGISTRY, OpDef

SOURCE_OPS = ("placeholder", "variable", "constant")
ASSIGN = "assign"  # assign(var, value): not a registry op; applied at the end of a run

_PKG_DIRS = tuple(
    os.path.dirname(os.path.abspath(p)) + os.sep
    for p in (__file__, sys.modules["shared_ops"].__file__)
)


class TracingError(GraphCompareError, TypeError):
    """A symbolic value was used where Python needs a concrete one (``if node:``)."""


class GraphError(GraphCompareError, ValueError):
    """Nodes of different graphs mixed, a name reused, or no graph in scope."""


_OURS: dict[str, bool] = {}  # co_filename -> inside shared_ops/staticgraph (abspath is slow)


def user_line() -> str:
    """``file:line`` of the innermost frame outside graphcompare's own packages."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_filename
        ours = _OURS.get(name)
        if ours is None:
            ours = _OURS[name] = os.path.abspath(name).startswith(_PKG_DIRS)
        if not ours:
            return f"{name}:{f.f_lineno}"
        f = f.f_back
    return "<unknown>"


class SymShape(tuple):
    """A node's static shape that remembers its node (so ``None`` dims can be resolved)."""

    node: "Node"


class Node(TensorSurface):
    """A symbolic value in a ``Graph``."""

    __slots__ = ("graph", "op", "inputs", "attrs", "_shape", "_dtype", "name", "id", "trace", "value", "__weakref__")

    def __init__(self, graph, op, inputs, attrs, shape, dtype, name=None, trace=None, value=None):
        self.graph = graph
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = dict(attrs)
        self._shape = tuple(shape)
        self._dtype = dtype
        self.id = next(graph._ids)
        self.name = name
        self.trace = trace
        self.value = value

    # -- surface plumbing ----------------------------------------------------------
    @property
    def shape(self) -> SymShape:
        s = SymShape(self._shape)
        s.node = self
        return s

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def spec(self) -> Spec:
        return Spec(self._shape, self._dtype)

    @property
    def opdef(self) -> OpDef | None:
        return None if self.op in SOURCE_OPS or self.op not in REGISTRY else REGISTRY.get(self.op)

    @classmethod
    def _apply_op(cls, op: OpDef, inputs: tuple, attrs: dict) -> "Node":
        graph = _graph_of(inputs, op.name)
        inputs = tuple((x if x.graph is graph else graph.capture(x)) if isinstance(x, Node)
                       else graph.constant_for(x, inputs) for x in inputs)
        return graph.apply(op, inputs, attrs)

    def _const(self, value: Any, dtype: str) -> "Node":
        return self.graph.add_constant(value, dtype)

    # -- Python protocol ------------------------------------------------------------
    def __bool__(self):
        raise TracingError(
            f"the truth value of symbolic node {self.label} is not known while the graph is "
            f"declared (declared at {self.trace}). Python `if`/`while` on a graph value is "
            "data-dependent control flow: declare it with sg.cond(pred, true_fn, false_fn, *operands) "
            "(only the taken branch runs) or sg.while_loop(cond_fn, body_fn, loop_vars), select with "
            "sg.where(cond, a, b), or run this model in dyngraph, which evaluates eagerly"
        )

    def __float__(self):
        raise TracingError(
            f"a Python number (float/int/index) of symbolic node {self.label} (declared at {self.trace}) "
            "is not known while the graph is declared: its value exists only when the graph runs; "
            "fetch it with fn(...) or Session.run, or keep the computation in graph ops (a loop whose "
            "count is a graph value is sg.while_loop(cond_fn, body_fn, loop_vars) or sg.scan(fn, init, xs))"
        )

    __int__ = __index__ = __float__

    def __iter__(self):
        if self._shape and self._shape[0] is None:
            raise TracingError(
                f"a Python `for` over symbolic node {self.label} (declared at {self.trace}) iterates over "
                "its free (None) first dimension, whose size is known only when the graph runs: declare the "
                "loop with sg.scan(fn, init, xs) (fn(carry, x) -> (carry, y)), one graph for every length"
            )
        return super().__iter__()

    def __repr__(self) -> str:
        from .program import type_str

        return f"<sg.Node {self.label} = {self.op} : {type_str(self.spec)}>"

    @property
    def label(self) -> str:
        return self.name if self.op in ("placeholder", "variable") and self.name else f"%{self.id}"


class Graph:
    """A container of nodes; ``with sg.Graph() as g:`` makes it the default for declarations."""

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
        return self

    # -- declaration -----------------------------------------------------------------
    def _add(self, node: Node) -> Node:
        if node.name is not None:
            if node.name in self._names:
                raise GraphError(f"the name {node.name!r} is already used in this graph by {self._names[node.name]!r}; pick another")
            self._names[node.name] = node
        self.nodes.append(node)
        return node

    def apply(self, op: OpDef, inputs: tuple, attrs: dict, name: str | None = None) -> Node:
        """Declare ``op(*inputs, **attrs)``: attributes checked and shape inferred now."""
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
        return self._add(Node(self, op, (), attrs or {}, tuple(shape), dtype, name=name, trace=user_line(), value=value))

    def add_constant(self, value: Any, dtype: str | None = None, name: str | None = None) -> Node:
        arr = np.asarray(value)
        dtype = dtype_name(dtype) if dtype is not None else dtype_name(arr.dtype)
        arr = np.array(arr, dtype=dtype, order="C", copy=True)  # keeps 0-d (ascontiguousarray would not)
        arr.flags.writeable = False  # a constant: no kernel or user may change it
        return self.add_source("constant", arr.shape, dtype, name=name, value=arr)

    def constant_for(self, value: Any, inputs: tuple) -> Node:
        return self.add_constant(value)

    def capture(self, node: Node) -> Node:
        """``node`` as a value of this graph: only a control-flow body (``staticgraph.control``)
        takes values of an enclosing graph, as placeholders fed by its control node."""
        if node.graph is self:
            return node
        raise GraphError(f"{node!r} belongs to another graph; declare every node in one `with sg.Graph():` block")

    def encloses(self, other: "Graph") -> bool:
        """True if ``other`` is this graph or a body nested (at any depth) inside it."""
        while other is not None:
            if other is self:
                return True
            other = getattr(other, "parent", None)
        return False

    def get(self, name: str) -> Node:
        try:
            return self._names[name]
        except KeyError:
            raise GraphError(f"no node named {name!r} in {self!r}") from None

    def text(self) -> str:
        """Every node, one equation per line (like a jaxpr)."""
        from .program import attrs_str, type_str, value_str

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


__all__ = ["Graph", "Node", "SymShape", "placeholder", "variable", "constant", "get_default_graph",
           "reset_default_graph", "TracingError", "GraphError", "user_line"]
