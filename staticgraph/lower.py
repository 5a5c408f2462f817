"""Lowering: the ``Program`` (flat, topologically ordered equations) of what the fetches need.

A graph holds everything ever declared in it (several losses, their gradients, updates);
one compiled function needs the nodes its outputs and assignments depend on. The walk is
iterative (a 100,000-node chain must not hit the recursion limit) and linear in the nodes
it keeps. The pass ``passes/prune.py`` later drops what rewrites orphan.
"""

from __future__ import annotations

from .graph import ASSIGN, GraphError, Node
from .program import PNode, Program


def needed(roots) -> list[Node]:
    """Every node ``roots`` depend on (roots included), in creation (= topological) order."""
    seen: dict[int, Node] = {}
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n.id in seen:
            continue
        seen[n.id] = n
        stack.extend(n.inputs)
    return sorted(seen.values(), key=lambda n: n.id)


def build_program(outputs, inputs) -> Program:
    """The ``Program`` computing ``outputs`` (nodes; assign nodes become assignments) from
    the placeholders ``inputs`` (feed order). Raises ``GraphError`` if a needed placeholder
    is not among ``inputs``."""
    outputs = list(outputs)
    kept = needed(outputs + list(inputs))
    fed = {x.id for x in inputs}
    p = Program()
    assigns = []
    alias: dict[int, int] = {}  # assign node -> the value it assigns (what reading it gives)
    for n in kept:
        if n.op == ASSIGN:
            assigns.append(n)
            alias[n.id] = alias.get(n.inputs[1].id, n.inputs[1].id)
            continue
        if n.op == "placeholder" and n.id not in fed:
            users = [m for m in kept if any(i is n for i in m.inputs)]
            where = f" (declared at {n.trace})" if n.trace else ""
            by = f", needed by {users[0].label} = {users[0].op} declared at {users[0].trace}" if users else ""
            raise GraphError(
                f"placeholder {n.label}{where} must be fed{by}; add it to inputs= (or the feed_dict)"
            )
        p.append(PNode(n.id, n.op, [alias.get(i.id, i.id) for i in n.inputs], dict(n.attrs), n.spec,
                       value=n.value, name=n.name, origin=n.id))
    p.inputs = [x.id for x in inputs]
    p.variables = [n.id for n in p.nodes if n.op == "variable"]
    # an assign node fetched gives the value it assigns; each assign is applied once
    done = set()
    for a in assigns:
        var, value = a.inputs
        if a.id not in done:
            p.assigns.append((var.id, alias.get(value.id, value.id)))
            done.add(a.id)
    p.outputs = [alias.get(o.id, o.id) for o in outputs]
    return p


__all__ = ["needed", "build_program"]
