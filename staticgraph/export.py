"""A graph as a ``networkx.DiGraph`` or as Graphviz DOT text."""

from __future__ import annotations

from .graph import Graph, Node
from .program import attrs_str, type_str, value_str


def _graph_of(g) -> Graph:
    if isinstance(g, Graph):
        return g
    if isinstance(g, Node):
        return g.graph
    inner = getattr(g, "graph", None) or getattr(g, "last_graph", None)
    if isinstance(inner, Graph):
        return inner
    raise TypeError(f"expected an sg.Graph, a node or a compiled function, got {type(g).__name__}")


def to_networkx(g):
    """A ``networkx.DiGraph``: one vertex per node id (attributes ``op``, ``shape``, ``dtype``,
    ``name``, ``attrs``), one edge per input (attribute ``position``; a node used twice by one
    consumer gives one edge listing both positions in ``positions``)."""
    import networkx as nx

    graph = _graph_of(g)
    G = nx.DiGraph(name=graph.name or "")
    for n in graph.nodes:
        G.add_node(n.id, op=n.op, shape=n._shape, dtype=n.dtype, name=n.name, attrs=dict(n.attrs),
                   label=_label(n))
        for pos, x in enumerate(n.inputs):
            if G.has_edge(x.id, n.id):
                G.edges[x.id, n.id]["positions"].append(pos)
            else:
                G.add_edge(x.id, n.id, position=pos, positions=[pos])
    return G


def _label(n: Node) -> str:
    if n.op in ("placeholder", "variable"):
        return f"{n.name}\\n{n.op} {type_str(n.spec)}"
    if n.op == "constant":
        return f"constant {value_str(n.value)}\\n{type_str(n.spec)}"
    return f"%{n.id} {n.op}{attrs_str(n.attrs)}\\n{type_str(n.spec)}"


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n") + '"'


def to_dot(g) -> str:
    """Graphviz DOT text (``dot -Tsvg``): sources as boxes, assignments dashed."""
    graph = _graph_of(g)
    lines = ["digraph staticgraph {", "  rankdir=TB;", '  node [fontname="monospace", fontsize=14];']
    for n in graph.nodes:
        shape = "box" if n.op in ("placeholder", "variable", "constant") else "ellipse"
        style = ', style="dashed"' if n.op == "assign" else ""
        lines.append(f"  n{n.id} [label={_quote(_label(n))}, shape={shape}{style}];")
        for pos, x in enumerate(n.inputs):
            lines.append(f'  n{x.id} -> n{n.id} [label="{pos}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = ["to_networkx", "to_dot"]
