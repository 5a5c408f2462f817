"""``sg.cond``, ``sg.while_loop``, ``sg.scan``: JAX's signatures, TensorFlow 1.x's behaviour.

Each traces its function(s) once into bodies (``control.body``), checks at declaration that
the shapes and dtypes fit (branch against branch, carry in against carry out; a ``ShapeError``
naming both shapes and the user's line), and declares one *control node* whose ``attrs["cf"]``
is a ``ControlFlow``. Its results are ``get`` nodes (``%7 = get %5 {index=1}``), one per
output, so the rest of the graph stays one array a node.

Inputs of a control node: cond ``pred, *operands, *captures(true), *captures(false)``;
while_loop ``*loop_vars, *captures(cond), *captures(body)``; scan ``*init, *xs, *captures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared_ops import Spec
from shared_ops.errors import DTypeError, ShapeError
from shared_ops.registry import fmt_shape

from ..graph import Graph, GraphError, Node, _graph_of, user_line
from .body import check_same, flatten, rebuild, trace

KINDS = ("cond", "while_loop", "scan")
GET = "get"


@dataclass(eq=False)
class ControlFlow:
    """What a control node runs: its bodies, and each output's spec and kind.

    ``out_kinds[k]``: ``"array"``; ``"terms"`` (a list of gradient terms, summed in order by
    ``add_terms``); ``"history"`` (the carries of every iteration, kept for the gradient).
    """

    kind: str
    bodies: dict
    out_specs: list
    out_kinds: list
    n: dict = field(default_factory=dict)  # counts: carries, xs, ys, operands, ...
    grad: dict = field(default_factory=dict)  # gradient bodies and their layout (control.grad)
    gets: dict = field(default_factory=dict)  # output index -> its get node
    trace: str = ""

    def __hash__(self):
        return id(self)

    def __repr__(self):
        if self.kind not in KINDS:
            return f"<{self.kind}>"
        return f"<{self.kind} {', '.join(f'{k}: {len(b.graph.nodes)} nodes' for k, b in self.bodies.items())}>"


def control_node(graph: Graph, cf: ControlFlow, inputs: list) -> Node:
    n = Node(graph, cf.kind, inputs, {"cf": cf}, (), "uint8", trace=cf.trace)
    record_feeds(cf, inputs)
    return graph._add(n)


def record_feeds(cf: ControlFlow, inputs: list) -> None:
    """Each body param's outer value on entering the body (``BodyGraph.fed``): a branch's
    operand, a loop's initial carry (its first step's). ``aliases.handed`` follows it: a param
    and a closure of one body fed one outer value are one array there."""
    first = {"cond": 1, "while_loop": 0, "scan": 0}.get(cf.kind)
    if first is None:  # a gradient node: its bodies are gradient layouts
        return
    count = cf.n["operands" if cf.kind == "cond" else "vars" if cf.kind == "while_loop" else "carries"]
    for b in cf.bodies.values():
        b.graph.fed.update((p.id, x) for p, x in zip(b.params[:count], inputs[first:first + count]))


def get(ctrl: Node, k: int) -> Node:
    """The ``get`` node of output ``k`` of a control node (one per output)."""
    cf = ctrl.attrs["cf"]
    g = cf.gets.get(k)
    if g is None:
        spec = cf.out_specs[k]
        g = cf.gets[k] = ctrl.graph._add(Node(ctrl.graph, GET, (ctrl,), {"index": k}, spec.shape, spec.dtype,
                                               trace=ctrl.trace))
    return g


def _nodes(values, graph: Graph | None, what: str, line: str) -> tuple[list, Graph]:
    nodes = [v for v in values if isinstance(v, Node)]
    graph = _graph_of(nodes, what) if nodes else (graph or _graph_of((), what))
    out = []
    for v in values:
        if isinstance(v, Node):
            out.append(v if v.graph is graph else graph.capture(v))
        else:
            arr = np.asarray(v)
            if arr.dtype == np.float64 and not isinstance(v, np.ndarray):
                arr = arr.astype("float32")  # Python floats are float32, as everywhere
            out.append(graph.add_constant(arr))
    return out, graph


def _invariant(carries: list, bodies: list, n: int) -> list:
    """The positions of the carries the loop body changes; each one it returns unchanged becomes
    a closure of the loop (in every body, its placeholder now reads the initial value) and
    the loop's result there *is* the initial value, as in the Python loop. So its gradient
    terms are a closure's, one per step in step order, and the consumers of the result are
    the initial value's own, each at its place: bitwise what dyngraph sums."""
    body = bodies[-1]
    same = [k for k in range(n) if body.outputs[k] is body.params[k]]
    if not same:
        return list(range(n))
    keep = [k for k in range(n) if k not in same]
    for b in bodies:
        b.graph.captures.extend((carries[k], b.params[k]) for k in same)
        b.params = [b.params[k] for k in keep] + list(b.params[n:])
    body.outputs = [body.outputs[k] for k in keep] + list(body.outputs[n:])
    return keep


def _join(a: Spec, b: Spec) -> Spec:
    return Spec(tuple(p if p == q else None for p, q in zip(a.shape, b.shape)), a.dtype)


def cond(pred, true_fn, false_fn, *operands):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``; only the taken branch runs.

    ``pred`` is a scalar bool node; both functions are traced once and must return the same
    structure of shapes and dtypes. They may use any node of the enclosing graph.

    Parameters:
        pred: a scalar bool node.
        true_fn: called with ``operands`` when ``pred`` is true; returns a node or a tuple.
        false_fn: the same, for false; must return the same structure as ``true_fn``.
        *operands: nodes (or numbers) passed to the taken branch.

    Returns:
        The taken branch's result: a node, or a tuple of nodes.

    Raises:
        ShapeError: ``pred`` is not a scalar, or the branches return different structures.
        DTypeError: ``pred`` is not bool.

    Examples:
        >>> with sg.Graph():
        ...     x = sg.placeholder((), name="x")
        ...     y = sg.cond(x > 0, lambda v: v * 2, lambda v: -v, x)
        >>> f = sg.compile([y], [x])
        >>> float(f(np.float32(3.0))[0]), float(f(np.float32(-4.0))[0])
        (6.0, 4.0)
    """
    line = user_line()
    (pred, *ops), graph = _nodes((pred,) + operands, None, "cond", line)
    if pred._shape != ():
        raise ShapeError(f"cond: the predicate must be a scalar, got shape {fmt_shape(pred._shape)} "
                         f"(reduce it first, e.g. pred.sum() > 0 or (x > 0).all())\n  declared at {line}")
    if pred.dtype != "bool":
        raise DTypeError(f"cond: the predicate must be bool, got {pred.dtype}; compare it (pred > 0)\n  declared at {line}")
    specs = [o.spec for o in ops]
    names = [f"operand{k}" for k in range(len(ops))]
    t = trace(true_fn, graph, "cond", specs, names, "true_fn", line)
    f = trace(false_fn, graph, "cond", specs, names, "false_fn", line)
    if t.structure != f.structure:
        raise ShapeError(f"cond: true_fn returns {_count(t.structure)} but false_fn returns "
                         f"{_count(f.structure)}\n  declared at {line}")
    check_same("cond", "true_fn", [o.spec for o in t.outputs], "false_fn", [o.spec for o in f.outputs], line)
    out = [_join(a.spec, b.spec) for a, b in zip(t.outputs, f.outputs)]
    cf = ControlFlow("cond", {"true": t, "false": f}, out, ["array"] * len(out), {"operands": len(ops)}, trace=line)
    ctrl = control_node(graph, cf, [pred, *ops] + [o for o, _ in t.captures] + [o for o, _ in f.captures])
    return rebuild([get(ctrl, k) for k in range(len(out))], t.structure)


def _count(structure) -> str:
    return "one value" if structure is None else f"a tuple of {structure}"


def while_loop(cond_fn, body_fn, loop_vars, *, maximum_iterations=None):
    """``while cond_fn(*vars): vars = body_fn(*vars)``; returns the final ``vars``.

    ``loop_vars`` is a tuple of nodes (or one node: then the functions take and return one).
    ``cond_fn`` returns a scalar bool; ``body_fn`` returns values of the same shapes and dtypes.
    ``maximum_iterations`` (TF1's argument) stops the loop after that many steps at most; a
    bounded loop also has a second-order gradient (``sg.gradients`` of its gradient).

    Parameters:
        cond_fn: ``cond_fn(*vars)``, a scalar bool node: go on while true.
        body_fn: ``body_fn(*vars)``, the next values.
        loop_vars: the initial values, a tuple of nodes or one node.
        maximum_iterations: ``None`` (no bound) or a Python int >= 0: at most that many steps.

    Returns:
        The final values: a tuple of nodes, or one node when ``loop_vars`` is one.

    Raises:
        ShapeError: ``cond_fn`` does not return one scalar bool, or ``body_fn`` returns a
            different number, shape or dtype of values.
        GraphError: ``maximum_iterations`` is not ``None`` or a Python int >= 0.

    Examples:
        >>> with sg.Graph() as g:
        ...     i, s = sg.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s * 2),
        ...                          (sg.constant(0), sg.constant(1.0)))
        >>> [v.item() for v in sg.Session(g).run([i, s])]
        [5, 32.0]
        >>> with sg.Graph() as g:
        ...     i, s = sg.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s * 2),
        ...                          (sg.constant(0), sg.constant(1.0)), maximum_iterations=3)
        >>> [v.item() for v in sg.Session(g).run([i, s])]
        [3, 8.0]
    """
    line = user_line()
    bound = maximum_iterations
    if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, np.integer)) or bound < 0):
        raise GraphError(f"while_loop: maximum_iterations must be None or a Python int >= 0, got {bound!r} "
                         f"(a bound known when the graph is declared)\n  declared at {line}")
    flat, structure = flatten(loop_vars, "while_loop", line)
    flat, graph = _nodes(flat, None, "while_loop", line)
    n_user = len(flat)
    if bound is not None:  # the bound as a hidden last carry counting the steps
        with graph:
            flat = flat + [graph.add_constant(np.int64(0))]
    specs = [v.spec for v in flat]
    names = [f"var{k}" for k in range(n_user)] + ["iteration"] * (len(flat) - n_user)

    def unpack(fn):
        return lambda *ps: fn(*ps[:n_user]) if structure is not None else fn(ps[0])

    def body_call(*ps):
        out = unpack(body_fn)(*ps)
        out = (out,) if structure == 1 and isinstance(out, Node) else out  # TF1 takes v for (v,)
        if bound is None:
            return out
        vals, s = flatten(out, "body_fn's result", line)
        user_structure.append(s)
        return tuple(vals) + (ps[-1] + 1,)

    def cond_call(*ps):
        go = unpack(cond_fn)(*ps)
        if bound is None or not (isinstance(go, Node) and go._shape == () and go.dtype == "bool"):
            return go
        return go & (ps[-1] < bound)

    user_structure: list = []
    c = trace(cond_call, graph, "while_loop", specs, names, "cond_fn", line)
    if len(c.outputs) != 1 or c.outputs[0]._shape != () or c.outputs[0].dtype != "bool":
        got = ", ".join(f"{o.dtype}{fmt_shape(o._shape)}" for o in c.outputs)
        raise ShapeError(f"while_loop: cond_fn must return one scalar bool, got {got}; reduce it "
                         f"(e.g. (x > 0).all() or x.sum() < 10)\n  declared at {line}")
    b = trace(body_call, graph, "while_loop", specs, names, "body_fn", line)
    if bound is not None:
        b.structure = user_structure[0]
    if b.structure != structure:
        raise ShapeError(f"while_loop: body_fn returns {_count(b.structure)} but loop_vars is "
                         f"{_count(structure)}\n  declared at {line}")
    check_same("while_loop", "loop_vars", specs, "body_fn's result", [o.spec for o in b.outputs], line,
               " (a loop-carried value keeps its shape and dtype from one iteration to the next)")
    keep = _invariant(flat, [c, b], len(flat))
    specs = [specs[k] for k in keep]
    cf = ControlFlow("while_loop", {"cond": c, "body": b}, specs + [Spec((), "uint8")], ["array"] * len(specs) + ["history"],
                     {"vars": len(keep)} if bound is None else {"vars": len(keep), "max_iter": int(bound)}, trace=line)
    ctrl = control_node(graph, cf, [flat[k] for k in keep] + [o for o, _ in c.captures] + [o for o, _ in b.captures])
    return rebuild([get(ctrl, keep.index(k)) if k in keep else flat[k] for k in range(n_user)], structure)


def scan(fn, init, xs):
    """``fn(carry, x) -> (carry, y)`` over the leading axis of ``xs``: ``(final carry, ys)``.

    ``ys`` is stacked on a new leading axis. ``init`` and ``xs`` may be tuples (``fn`` then
    gets tuples); ``xs`` may have a free (``None``) leading dimension: one graph for every length.
    ``fn`` may return ``(carry, None)``: then ``ys`` is ``None``. The gradient keeps, per step,
    the carry and the body's values its gradient reads (``control.grad.residuals``).

    Parameters:
        fn: ``fn(carry, x) -> (carry, y)``, declared once.
        init: the first carry: a node, or a tuple of nodes.
        xs: the node(s) to scan over, on their leading axis.

    Returns:
        ``(final carry, ys)``: ``ys`` stacks every step's ``y``.

    Raises:
        GraphError: ``xs`` is empty, or ``fn`` does not return a pair.
        ShapeError: an ``xs`` is a scalar, the ``xs`` differ in length, or the carry
            changes shape or dtype.

    Examples:
        >>> with sg.Graph() as g:
        ...     xs = sg.constant(np.arange(1.0, 5.0, dtype=np.float32))
        ...     total, ys = sg.scan(lambda c, x: (c + x, c * x), sg.constant(0.0), xs)
        >>> [v.tolist() for v in sg.Session(g).run([total, ys])]
        [10.0, [0.0, 2.0, 9.0, 24.0]]
    """
    line = user_line()
    carries, cstruct = flatten(init, "scan", line)
    xs_flat, xstruct = flatten(xs, "scan", line)
    if not xs_flat:
        raise GraphError(f"scan: xs is empty; pass at least one array to scan over\n  declared at {line}")
    nodes, graph = _nodes(carries + xs_flat, None, "scan", line)
    carries, xs_flat = nodes[:len(carries)], nodes[len(carries):]
    for k, x in enumerate(xs_flat):
        if not x._shape:
            raise ShapeError(f"scan: xs[{k}] is a scalar; scan runs over the leading axis of an array\n  declared at {line}")
    lengths = {x._shape[0] for x in xs_flat} - {None}
    if len(lengths) > 1:
        raise ShapeError(f"scan: the xs have different lengths {', '.join(fmt_shape(x._shape) for x in xs_flat)}; "
                         f"they are scanned together\n  declared at {line}")
    length = lengths.pop() if lengths else None
    nc = len(carries)
    ys_structure = []

    def call(*ps):
        carry = rebuild(list(ps[:nc]), cstruct)
        x = rebuild(list(ps[nc:]), xstruct)
        out = fn(carry, x)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise GraphError(f"scan: fn(carry, x) must return a pair (carry, y), got {type(out).__name__}\n  declared at {line}")
        c, _ = flatten(out[0], "scan fn's carry", line)
        y, ystruct = ([], "none") if out[1] is None else flatten(out[1], "scan fn's y", line)
        ys_structure.append(ystruct)
        return list(c) + list(y)

    specs = [c.spec for c in carries] + [Spec(x._shape[1:], x.dtype) for x in xs_flat]
    names = [f"carry{k}" for k in range(nc)] + [f"x{k}" for k in range(len(xs_flat))]
    b = trace(call, graph, "scan", specs, names, "fn", line)
    ny = len(b.outputs) - nc
    if ny < 0:
        raise ShapeError(f"scan: fn returns {len(b.outputs)} carry and y values for {nc} carries\n  declared at {line}")
    check_same("scan", "init", [c.spec for c in carries], "fn's carry", [o.spec for o in b.outputs[:nc]], line,
               " (the carry keeps its shape and dtype from one step to the next)")
    b.structure = (cstruct, ys_structure[0])
    keep = _invariant(carries, [b], nc)
    out = [carries[k].spec for k in keep] + [Spec((length,) + o._shape, o.dtype) for o in b.outputs[len(keep):]] \
        + [Spec((), "uint8")]
    cf = ControlFlow("scan", {"body": b}, out, ["array"] * (len(keep) + ny) + ["history"],
                     {"carries": len(keep), "xs": len(xs_flat), "ys": ny}, trace=line)
    ctrl = control_node(graph, cf, [carries[k] for k in keep] + xs_flat + [o for o, _ in b.captures])
    gets = [get(ctrl, k) for k in range(len(keep) + ny)]
    ys = None if ys_structure[0] == "none" else rebuild(gets[len(keep):], ys_structure[0])
    return rebuild([gets[keep.index(k)] if k in keep else carries[k] for k in range(nc)], cstruct), ys


__all__ = ["cond", "while_loop", "scan", "ControlFlow", "KINDS", "GET", "get", "control_node", "record_feeds"]
