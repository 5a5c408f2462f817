"""A static graph's values: the symbolic ``Node`` and its ``SymShape``, and what Python may not
do with one while the graph is declared (``TracingError``).

A ``Node`` is an op application (``op``, ``inputs``, hashable ``attrs``) with a static shape
(``None`` for a free dimension) and dtype, inferred with the op's ``infer`` when the node is
declared. ``staticgraph.graph`` holds the ``Graph`` that owns nodes and chooses where an op on
nodes is declared.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from shared_ops import GraphCompareError, Spec, TensorSurface
from shared_ops.registry import REGISTRY, OpDef

from ._text import type_str

SOURCE_OPS = ("placeholder", "variable", "constant")
ASSIGN = "assign"  # assign(var, value): not a registry op; applied at the end of a run

_PKG_DIRS = tuple(
    os.path.dirname(os.path.abspath(p)) + os.sep
    for p in (__file__, sys.modules["shared_ops"].__file__)
)


class TracingError(GraphCompareError, TypeError):
    """A symbolic value was used where Python needs a concrete one (``if node:``)."""


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
    """A node's static shape (``None`` for a free dimension) that remembers its node.

    ``node.shape`` is one: a tuple, so ``x.shape[1]`` and ``len(x.shape)`` work as on a tensor;
    when it is passed on (``y.view(x.shape)``), an op resolves its free dimensions at run time
    from the node it came from.

    Examples:
        >>> with sg.Graph():
        ...     x = sg.placeholder((None, 3), name="x")
        >>> x.shape, x.shape[1], x.shape.node is x
        ((None, 3), 3, True)
    """

    node: "Node"


class Node(TensorSurface):
    """A symbolic value of a ``Graph``: every operator and method of the shared tensor surface
    declares a new node instead of computing (``x * 2`` is a ``mul`` node).

    Nodes are made by ``sg.placeholder``, ``sg.variable``, ``sg.constant`` and the ops on nodes,
    not by calling ``Node`` (``Graph.apply`` and ``Graph.add_source`` call it).

    Args:
        graph: the ``Graph`` it belongs to (it numbers the node: ``id``).
        op: the op's name, or a source (``"placeholder"``, ``"variable"``, ``"constant"``).
        inputs: the input nodes.
        attrs: the op's attributes (hashable values).
        shape: the static shape, ``None`` for a free dimension.
        dtype: the dtype's name.
        name: the user's name (placeholders and variables are printed and fed by it).
        trace: ``file:line`` of the user's line that declared it (quoted by errors).
        value: a source's array (a variable's initial value, a constant's value).

    Examples:
        >>> with sg.Graph() as g:
        ...     x = sg.placeholder((2,), name="x")
        ...     y = x * 2.0
        >>> y, y.op, [i.label for i in y.inputs]
        (<sg.Node %2 = mul : f32[2]>, 'mul', ['x', '%1'])
    """

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
        # The graph to declare in is found through an input's graph (graph.py imports this
        # module, so this one cannot import it); with no node among the inputs, the default.
        for x in inputs:
            if isinstance(x, Node):
                graph = x.graph._declaring_graph(inputs, op.name)
                break
        else:
            from .graph import get_default_graph

            graph = get_default_graph()
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
        return f"<sg.Node {self.label} = {self.op} : {type_str(self.spec)}>"

    @property
    def label(self) -> str:
        return self.name if self.op in ("placeholder", "variable") and self.name else f"%{self.id}"


__all__ = ["Node", "SymShape", "TracingError", "user_line", "SOURCE_OPS", "ASSIGN"]
