"""Which inputs of a control node may be one array at run time.

A control node can hand a value through unchanged (a loop's carry after no step, a branch
returning an operand or a captured value); two different inputs of one control node may then
be the same array, and dyngraph, which sees one tensor, interleaves their gradient terms by
step and consumer. The gradient of such a node keys those inputs' terms by its own order
(``info["mix"]``, ``terms._merged``).
"""

from __future__ import annotations

from ..graph import Node
from .declare import GET


def handed(x: Node, outer_of: dict | None = None) -> set:
    """``id()`` of the nodes whose array ``x`` may be at run time: itself, through every control
    output that can hand a value through unchanged (a loop's carry after no step, a branch
    returning an operand or a captured value) those values' own, and, for a param or a closure
    of a body, the outer value it holds (``BodyGraph.fed``, the captures): two inputs of a
    control node in a loop body, one a carry and one a closure fed the same outer value, are
    one array in the first step. ``outer_of``: a cache of each body's closures by placeholder,
    shared by the calls on one control node's inputs."""
    outer_of = {} if outer_of is None else outer_of
    found: set[int] = set()
    stack = [x]
    while stack:
        v = stack.pop()
        if id(v) in found:
            continue
        found.add(id(v))
        if v.op == "placeholder":
            g = v.graph
            outer = getattr(g, "fed", {}).get(v.id)
            if outer is not None:
                stack.append(outer)
            closures = outer_of.get(id(g))
            if closures is None:
                closures = outer_of[id(g)] = {ph.id: o for o, ph in getattr(g, "captures", ())}
            if v.id in closures:
                stack.append(closures[v.id])
            continue
        if v.op != GET or v.inputs[0].op not in ("cond", "while_loop", "scan"):
            continue
        ctrl, k = v.inputs[0], v.attrs["index"]
        cf = ctrl.attrs["cf"]
        if cf.kind == "cond":
            for b in (cf.bodies["true"], cf.bodies["false"]):
                out = b.outputs[k]
                params = [p.id for p in b.params]
                if out.id in params:
                    stack.append(ctrl.inputs[1 + params.index(out.id)])
                stack.extend(o for o, ph in b.captures if ph is out)
        elif k < cf.n["vars" if cf.kind == "while_loop" else "carries"]:
            stack.append(ctrl.inputs[k])
    return found


def maybe_same(nodes: list) -> list:
    """Groups (positions in ``nodes``) of distinct nodes that may be one array at run time
    (``handed``): their terms must then interleave in dyngraph's order, which only the control
    node knows (step, consumer), so it keys them by that (``info["mix"]``). Positions sharing a
    node of their ``handed`` sets are joined (union-find: linear in the sets' sizes)."""
    parent = list(range(len(nodes)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for k, members in _owners(nodes).items():
        first = root(members[0])
        for m in members[1:]:
            r = root(m)
            parent[max(r, first)] = min(r, first)
            first = min(r, first)
    out: dict[int, list] = {}
    for i in range(len(nodes)):
        out.setdefault(root(i), []).append(i)
    return [g for g in out.values() if len(g) > 1]


def shared(nodes: list) -> list[bool]:
    """Per node of ``nodes`` (a control node's inputs), whether it is, or may be at run time,
    the array of another of them (``handed``)."""
    flags = [False] * len(nodes)
    for members in _owners(nodes).values():
        if len(members) > 1:
            for m in members:
                flags[m] = True
    return flags


def _owners(nodes: list) -> dict:
    """``id()`` of every node some input may be -> the positions of those inputs."""
    memo: dict = {}
    owners: dict[int, list] = {}
    for k, x in enumerate(nodes):
        for i in handed(x, memo):
            owners.setdefault(i, []).append(k)
    return owners


__all__ = ["handed", "maybe_same", "shared"]
