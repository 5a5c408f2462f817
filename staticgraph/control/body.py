"""Bodies: a Python function traced once into its own graph (TF1's ``FuncGraph``).

A ``BodyGraph`` is a ``Graph`` nested in the graph where its control node is declared
(``parent``). While the function is traced it is the default graph, so every op it declares
lands in the body, and a node of an enclosing graph used there (a weight: a *closure*) is
*captured*: the body gets a placeholder for it, and the control node takes the outer node as
an extra input. Nested bodies capture through every level in between.

A ``Body`` is the traced result: ``params`` (the placeholders standing for the function's
arguments), ``outputs`` (the nodes it returned, flattened) and ``captures`` (``(outer node,
inner placeholder)`` pairs). It is compiled, like any graph, by ``sg.compile``, so every pass
works inside it.
"""

from __future__ import annotations

import itertools

from shared_ops import GraphCompareError, ShapeError

from ..graph import ASSIGN, Graph, GraphError, Node, user_line

_names = itertools.count()


class BodyGraph(Graph):
    """The graph of one traced body; ``capture`` turns enclosing graphs' nodes into placeholders."""

    def __init__(self, parent: Graph, kind: str):
        super().__init__(f"{kind} body {next(_names)}")
        self.parent = parent
        self.kind = kind
        self.captures: list[tuple[Node, Node]] = []  # (node of parent, placeholder here)
        self._captured: dict[int, Node] = {}  # id(outer node) -> placeholder
        self.list_seeds: set[int] = set()  # gradient seeds fed a list of terms (control.grad)
        self.fed: dict[int, Node] = {}  # param id -> the outer value it holds on entry (an operand, an initial carry)

    def capture(self, node: Node) -> Node:
        if node.graph is self:
            return node
        if not node.graph.encloses(self):
            raise GraphError(f"{node!r} belongs to a graph that does not enclose this {self.kind} body; "
                             "a body may use nodes of the graphs around it, not of other bodies")
        ph = self._captured.get(id(node))
        if ph is None:
            outer = node if node.graph is self.parent else self.parent.capture(node)
            ph = self._captured[id(node)] = Node(self, "placeholder", (), {}, node._shape, node._dtype,
                                                 name=f"capture{len(self.captures)}", trace=node.trace)
            self._add(ph)
            self.captures.append((outer, ph))
        return ph


class Body:
    """A traced function: ``params`` -> ``outputs``, reading ``captures`` of enclosing graphs."""

    def __init__(self, graph: BodyGraph, params: list, outputs: list, structure):
        self.graph = graph
        self.params = params
        self.outputs = outputs
        self.structure = structure  # how the function's result was nested (for the user)
        self.grad_layouts: list = []  # the gradient bodies declared on it (their residuals are kept)

    @property
    def captures(self) -> list:
        return self.graph.captures

    @property
    def capture_nodes(self) -> list:
        return [ph for _, ph in self.graph.captures]

    @property
    def inputs(self) -> list:
        """The placeholders the compiled body is fed: params, then captures."""
        return list(self.params) + self.capture_nodes

    def text(self) -> str:
        return self.graph.text() + "\nreturn " + ", ".join(f"%{o.id}" for o in self.outputs)


def flatten(value, what: str, trace: str) -> tuple[list, object]:
    """A tuple/list of nodes (or one node) as a flat list, and the structure to rebuild it."""
    if isinstance(value, (tuple, list)):
        flat = []
        for v in value:
            if isinstance(v, (tuple, list)):
                raise GraphError(f"{what}: nested tuples are not supported; flatten them\n  declared at {trace}")
            flat.append(v)
        return flat, len(value)
    return [value], None


def rebuild(flat: list, structure):
    return flat[0] if structure is None else tuple(flat)


def trace(fn, parent: Graph, kind: str, specs: list, names: list, what: str, trace_line: str) -> Body:
    """Trace ``fn`` on placeholders of ``specs`` into a new body of ``parent``."""
    g = BodyGraph(parent, kind)
    with g:
        params = [g.add_source("placeholder", s.shape, s.dtype, name=n) for s, n in zip(specs, names)]
        try:
            result = fn(*params)
        except GraphCompareError as exc:
            raise type(exc)(f"{exc.args[0]}\n  while tracing the {what} of the {kind} declared at {trace_line}") from None
    flat, structure = flatten(result, what, trace_line)
    outputs = []
    for k, v in enumerate(flat):
        if not isinstance(v, Node):
            with g:
                try:
                    import numpy as np

                    v = g.add_constant(np.asarray(v))
                except Exception:  # noqa: BLE001 - anything not an array
                    raise GraphError(f"{what} returned {type(v).__name__} {v!r} at position {k}; return graph "
                                     f"nodes (or numbers)\n  declared at {trace_line}") from None
        elif v.graph is not g:
            v = g.capture(v)
        outputs.append(v)
    for n in g.nodes:
        bad = {"variable": "sg.variable", ASSIGN: "sg.assign"}.get(n.op)
        if n.op == "placeholder" and all(n is not p for p in params) and all(n is not ph for _, ph in g.captures):
            bad = "sg.placeholder"
        if bad:
            raise GraphError(f"{bad} inside the {what} of a {kind} (at {n.trace}): declare it outside "
                             f"and use it in the body as a closure\n  {kind} declared at {trace_line}")
    return Body(g, params, outputs, structure)


def check_same(kind: str, what_a: str, specs_a, what_b: str, specs_b, trace_line: str, loc_b: str = "") -> None:
    """Raise ``ShapeError`` unless two lists of specs agree (``None`` matches any size)."""
    if len(specs_a) != len(specs_b):
        raise ShapeError(f"{kind}: {what_a} gives {len(specs_a)} value(s) but {what_b} gives {len(specs_b)}"
                         f"\n  declared at {trace_line}")
    for k, (a, b) in enumerate(zip(specs_a, specs_b)):
        shape_ok = len(a.shape) == len(b.shape) and all(p is None or q is None or p == q for p, q in zip(a.shape, b.shape))
        if not shape_ok or a.dtype != b.dtype:
            from shared_ops.registry import fmt_shape

            raise ShapeError(f"{kind}: value {k} is {a.dtype}{fmt_shape(a.shape)} in {what_a} but "
                             f"{b.dtype}{fmt_shape(b.shape)} in {what_b}{loc_b}; they must agree"
                             f"\n  declared at {trace_line}")


__all__ = ["BodyGraph", "Body", "trace", "flatten", "rebuild", "check_same", "user_line"]
