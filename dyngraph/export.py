"""``dg.to_networkx(t)`` / ``dg.to_dot(t)``: the graph recorded behind a tensor.

Nodes are the ``grad_fn``s (``MulBackward0``...) and the leaves' ``AccumulateGrad`` sinks;
an edge runs from a node's input to the node (the direction data flowed forward, as
torchviz draws it). Each node carries its name, op, attributes, sequence number, output
shape (``None`` once backward freed what recorded it) and the shapes of the values it saved
(empty once backward freed them); a leaf's node also carries the
leaf ``tensor`` itself, so a picture can name it.
"""

from __future__ import annotations

from .node import AccumulateGrad


def _walk(t):
    """Every node reachable from ``t.grad_fn`` (iteratively), in discovery order."""
    root = t.grad_fn if t.grad_fn is not None else (t._accumulator() if t.requires_grad else None)
    if root is None:
        return []
    seen = {root}
    order = [root]
    stack = [root]
    while stack:
        for c in stack.pop().next:
            if c is not None and c not in seen:
                seen.add(c)
                order.append(c)
                stack.append(c)
    return order


def _key(n) -> str:
    if n.__class__ is AccumulateGrad:
        return f"leaf_{id(n.variable):x}"
    return f"n{n.seq}"


def to_networkx(t):
    """The recorded graph behind ``t`` as a ``networkx.DiGraph`` (see the module docstring)."""
    import networkx as nx

    g = nx.DiGraph()
    nodes = _walk(t)
    # a node's output shape: what its consumers recorded for that input (or the root's shape)
    shapes = {nodes[0]: tuple(t.shape)} if nodes else {}
    for n in nodes:
        if n.__class__ is not AccumulateGrad and n.saved is not None:
            for c, s in zip(n.next, n.saved):
                if c is not None and c not in shapes:
                    shapes[c] = tuple(s.shape)
    for n in nodes:
        if n.__class__ is AccumulateGrad:
            v = n.variable
            g.add_node(_key(n), name="AccumulateGrad", op="leaf", attrs={}, seq=-1,
                       shape=tuple(v.shape), dtype=v._dtype_name, saved=[], tensor=v)
        else:
            g.add_node(_key(n), name=n.name(), op=n.op.name, attrs=dict(n.attrs), seq=n.seq,
                       shape=shapes.get(n), saved=n.saved_shapes())
        for pos, c in enumerate(n.next):
            if c is not None:
                g.add_edge(_key(c), _key(n), input=pos)
    return g


def to_dot(t) -> str:
    """Graphviz DOT text of the recorded graph behind ``t`` (render with ``dot -Tsvg``)."""
    g = to_networkx(t)
    lines = ["digraph dyngraph {", "  rankdir=BT;", '  node [shape=box, fontname="monospace"];']
    for key, d in g.nodes(data=True):
        label = d["name"]
        if d["op"] == "leaf":
            label += f"\\n{d['dtype']}{list(d['shape'])}"
            style = ', style=filled, fillcolor="lightblue"'
        else:
            attrs = ", ".join(f"{k}={v!r}" for k, v in d["attrs"].items())
            label += f"\\n{d['op']}({attrs})" if attrs else ""
            if d["saved"]:
                label += "\\nsaved: " + " ".join(str(list(s)) for s in d["saved"])
            style = ""
        label = label.replace('"', '\\"')
        lines.append(f'  {key} [label="{label}"{style}];')
    for a, b, d in g.edges(data=True):
        lines.append(f"  {a} -> {b};")
    lines.append("}")
    return "\n".join(lines) + "\n"
