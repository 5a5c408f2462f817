"""``sg.gradients``: symbolic reverse mode, as ``tf.gradients``.

The gradient rules are the ops' own ``vjp``s, run by ``SymbolicOps``: every ``ops.*`` call
declares a node in the graph instead of computing. The walk is the one dyngraph's engine
makes, so that with ``optimize=False`` both run the same kernels in the same operand order
and give bitwise equal gradients:

- only nodes on a path from ``xs`` to ``y`` take part; ``ops.needs_input_grad`` tells a rule
  which of its inputs are on such a path;
- nodes are visited in reverse creation order, each once all its consumers were (a max-heap
  of ready nodes driven by pending counts; no recursion);
- the contributions to one value are summed by one ``add_n`` in the creation order of their
  consumers (ties: input position), seeded with the first; a lone contribution is used as is;
- the seed is ones of ``y``'s shape and dtype; an ``x`` not connected to ``y`` gets ``None``.

The gradient nodes are ordinary nodes, so ``gradients`` of them works (higher order).
"""

from __future__ import annotations

import heapq
from typing import Any, Sequence

import numpy as np

from shared_ops import ALL_TRUE, OpsNamespace
from shared_ops.registry import REGISTRY, OpDef

from .graph import ASSIGN, SOURCE_OPS, Graph, GraphError, Node, SymShape


class SymbolicOps(OpsNamespace):
    """The symbolic interpreter of gradient rules: ``ops.mul(a, b)`` declares a node.

    ``sg.gradients`` hands one to every op's ``vjp`` rule, so the rule written once for the
    eager engine declares the gradient graph here.

    Parameters:
        graph: the graph the rules declare into.

    Examples:
        >>> from staticgraph.gradients import SymbolicOps
        >>> with sg.Graph() as g:
        ...     x = sg.placeholder((2, 3), name="x")
        ...     SymbolicOps(g).mul(x, x)
        <sg.Node %1 = mul : f32[2,3]>
    """

    def __init__(self, graph: Graph):
        self.graph = graph

    def apply(self, op: OpDef, *inputs: Any, **attrs: Any) -> Node:
        """Declare ``op`` on ``inputs`` (numbers and arrays become constants).

        Parameters:
            op: a registered op (``shared_ops.get_op("exp")``).
            *inputs: nodes, numbers or arrays.
            **attrs: the op's attributes.

        Returns:
            The new node.

        Examples:
            >>> import shared_ops
            >>> from staticgraph.gradients import SymbolicOps
            >>> with sg.Graph() as g:
            ...     x = sg.placeholder((2, 3), name="x")
            ...     SymbolicOps(g).apply(shared_ops.get_op("sum"), x, axis=0, keepdims=False)
            <sg.Node %1 = sum : f32[3]>
        """
        g = self.graph
        inputs = tuple(x if isinstance(x, Node) else g.add_constant(np.asarray(x)) for x in inputs)
        return g.apply(op, inputs, attrs)  # a SymShape `shape=` with free dims adds `like`

    def constant(self, value: Any, dtype: str, like: Any) -> Node:
        """A constant node (``like`` is the eager interpreter's device hint, unused here).

        Parameters:
            value: a number or an array.
            dtype: its dtype name.
            like: a value the constant goes beside.

        Returns:
            The constant node.

        Examples:
            >>> from staticgraph.gradients import SymbolicOps
            >>> with sg.Graph() as g:
            ...     SymbolicOps(g).constant(2.0, "float32", None)
            <sg.Node %0 = constant : f32[]>
        """
        return self.graph.add_constant(value, dtype)

    def sum_to(self, x: Node, shape) -> Node:
        """As the base class, except where ``shape`` has a free dimension: equal static shapes
        do not prove equal run-time shapes then (``(?, 3)`` fed ``(1, 3)`` broadcast against
        ``(5, 3)``), so a ``sum_to`` resolved from the value's own shape at run time is declared;
        when nothing was broadcast its kernel hands ``x`` back unchanged (same bytes).

        Parameters:
            x: the gradient to reduce.
            shape: the shape to sum it down to (a tuple or a ``SymShape``).

        Returns:
            ``x`` itself when the shapes are equal and static, else a ``sum_to`` node.

        Examples:
            >>> from staticgraph.gradients import SymbolicOps
            >>> with sg.Graph() as g:
            ...     x = sg.placeholder((2, 3), name="x")
            ...     SymbolicOps(g).sum_to(x, (1, 3)), SymbolicOps(g).sum_to(x, (2, 3)) is x
            (<sg.Node %1 = sum_to : f32[1,3]>, True)
        """
        if tuple(x.shape) == tuple(shape) and (None not in tuple(shape) or not isinstance(shape, SymShape)):
            return x
        return self.call("sum_to", x, shape=shape)


def _seed(y: Node) -> Node:
    g = y.graph
    if None not in y._shape:
        return g.add_constant(np.ones(y._shape, dtype=y.dtype), y.dtype)
    if "ones_like" in REGISTRY:
        return g.apply(REGISTRY.get("ones_like"), (y,), {})
    one = g.add_constant(np.ones((), dtype=y.dtype), y.dtype)
    return g.apply(REGISTRY.get("broadcast_to"), (one,), {"shape": y.shape})


def _on_paths(y: Node, xs: Sequence[Node]) -> set[int]:
    """Ids of nodes that are ancestors of ``y`` (or ``y``) and descendants of an ``x`` (or an ``x``)."""
    anc: set[int] = set()
    by_id: dict[int, Node] = {}
    stack = [y]
    while stack:
        n = stack.pop()
        if n.id in anc:
            continue
        anc.add(n.id)
        by_id[n.id] = n
        stack.extend(n.inputs)
    relevant = {x.id for x in xs if x.id in anc}
    for n in sorted((by_id[i] for i in anc), key=lambda n: n.id):
        if n.id not in relevant and any(i.id in relevant for i in n.inputs):
            if (n.opdef is not None and n.opdef.differentiable) or _control_differentiable(n):
                relevant.add(n.id)
    return relevant


def gradients(y: Node, xs, grad_ys=None):
    """Declare the gradient of ``y`` with respect to each of ``xs``; ``None`` where unconnected.

    ``xs`` is a node or a list/tuple of nodes (the result has the same form). ``grad_ys`` is the
    cotangent of ``y`` (a node or array; default ones). Several ``y``s: pass a list; their
    gradients are summed.

    Parameters:
        y: the node to differentiate, or a list of nodes (their gradients add up).
        xs: a node or a list/tuple of nodes, placeholders, variables or intermediates.
        grad_ys: the vector of the vector-Jacobian product, shaped like ``y`` (default ones).

    Returns:
        The gradient nodes, declared in ``y``'s graph: one node (or ``None`` where ``y`` does
        not depend on it) per entry of ``xs``, in the same form as ``xs``.

    Raises:
        GraphError: an entry that is not a node of the graph.

    Examples:
        >>> with sg.Graph():
        ...     x = sg.placeholder((), name="x")
        ...     (dy,) = sg.gradients(x * x * x, [x])
        >>> float(sg.compile(dy, inputs=[x])(np.float32(3.0)))
        27.0
    """
    single = isinstance(xs, Node)
    xs_list = [xs] if single else list(xs)
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    gys = list(grad_ys) if isinstance(grad_ys, (list, tuple)) else [grad_ys] * len(ys)
    for v in ys + xs_list:
        if not isinstance(v, Node):
            raise GraphError(f"gradients: expected graph nodes, got {type(v).__name__} {v!r}")
        if v.op == ASSIGN:
            raise GraphError("gradients: an assign node has no gradient; differentiate the value it assigns")
    graph = ys[0].graph
    if any(v.graph is not graph for v in ys + xs_list):
        raise GraphError("gradients: y and xs belong to different graphs")
    seeds = []
    for k, (yy, gy) in enumerate(zip(ys, gys)):
        if gy is None:
            seed = None
        elif isinstance(gy, Node):
            seed = gy
        else:
            seed = graph.add_constant(np.asarray(gy), yy.dtype)
        seeds.append((yy, (-1, k), seed))
    grads = walk(graph, seeds, xs_list)
    out = [grads.get(x.id) for x in xs_list]
    return out[0] if single else (tuple(out) if isinstance(xs, tuple) else out)


def walk(graph: Graph, seeds: list, xs_list: list, raw: frozenset = frozenset()) -> dict:
    """The reverse walk: ``seeds`` are ``(node, sort key, cotangent or None for ones)``.
    Returns ``{x id: gradient}``, except for ids in ``raw``, which get their contributions
    unsummed, as a sorted list of ``(key, term)`` (a control-flow body hands these on, so that
    its caller sums every contribution in one fold, in dyngraph's order)."""
    from . import control

    ys = [s[0] for s in seeds]
    relevant: set[int] = set()
    for yy in dict.fromkeys(ys):
        relevant |= _on_paths(yy, xs_list)
    ops = SymbolicOps(graph)
    # contributions[id] = [(sort key, node)]: keys (consumer id, input position, term), summed in order
    contributions: dict[int, list] = {}
    for yy, key, seed in seeds:
        if yy.id in relevant:
            contributions.setdefault(yy.id, []).append((key, _seed(yy) if seed is None else seed))

    # pending[id]: consumers on a relevant path not yet visited
    nodes = {n.id: n for n in _collect(ys, relevant)}
    pending = {i: 0 for i in nodes}
    for n in nodes.values():
        for x in set(i.id for i in n.inputs):
            if x in pending:
                pending[x] += 1
    ready = [-i for i, c in pending.items() if c == 0]
    heapq.heapify(ready)
    grads: dict[int, Any] = {}
    wanted = {x.id for x in xs_list}
    cotangents: dict[int, dict] = {}  # control node id -> {output index: sorted terms}
    while ready:
        n = nodes[-heapq.heappop(ready)]
        terms = contributions.pop(n.id, None)
        g = None
        if terms:
            terms.sort(key=lambda t: t[0])
            if n.id in raw:
                grads[n.id] = terms
            elif n.op == control.GET and n.id not in wanted:
                cotangents.setdefault(n.inputs[0].id, {})[n.attrs["index"]] = control.Cot(terms)
            else:
                g = control.sum_terms(graph, [t for _, t in terms], n, [k for k, _ in terms])
                if n.id in wanted:
                    grads[n.id] = g
        if n.op == control.ADD_TERMS:  # a sum: every term (a list: each of its terms) gets g
            if g is not None:
                for k, x in enumerate(n.inputs[:-1]):
                    if x.id in relevant:
                        contributions.setdefault(x.id, []).append(((n.id, k), g))
        elif n.op in control.CONTROL_OPS:
            control.backprop(ops, n, cotangents.pop(n.id, {}), relevant, contributions)
        elif n.op == control.GET and g is not None:
            cotangents.setdefault(n.inputs[0].id, {})[n.attrs["index"]] = control.Cot([(terms[0][0], g)])
        elif g is not None and n.op not in SOURCE_OPS:
            _backprop(ops, n, g, relevant, contributions)
        for x in set(i.id for i in n.inputs):
            if x in pending:
                pending[x] -= 1
                if pending[x] == 0:
                    heapq.heappush(ready, -x)
    return grads


def _control_differentiable(n: Node) -> bool:
    from . import control

    return control.differentiable(n)


def _collect(ys, relevant: set[int]) -> list[Node]:
    seen: dict[int, Node] = {}
    stack = [y for y in ys if y.id in relevant]
    while stack:
        n = stack.pop()
        if n.id in seen:
            continue
        seen[n.id] = n
        stack.extend(i for i in n.inputs if i.id in relevant)
    return list(seen.values())


def _backprop(ops: SymbolicOps, n: Node, g: Node, relevant: set[int], contributions: dict) -> None:
    op = n.opdef
    needs = tuple(x.id in relevant and k not in op.nondiff for k, x in enumerate(n.inputs))
    if not any(needs):
        return
    ops.needs_input_grad = needs
    try:
        result = op.vjp(ops, g, n.inputs, n, **n.attrs)
    finally:
        ops.needs_input_grad = ALL_TRUE
    if len(result) != len(n.inputs):
        raise GraphError(f"the gradient rule of {op.name} returned {len(result)} terms for {len(n.inputs)} inputs")
    for k, (x, gx) in enumerate(zip(n.inputs, result)):
        if gx is None or not needs[k]:
            continue
        if not isinstance(gx, Node):
            gx = ops.graph.add_constant(np.asarray(gx), x.dtype)
        contributions.setdefault(x.id, []).append(((n.id, k), gx))


__all__ = ["gradients", "SymbolicOps", "walk"]
