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
    consumer gives one edge listing both positions in ``positions``).

    The nodes of a control-flow body are vertices too, with ids ``(control node id, body name,
    inner id)`` (nested bodies extend the tuple) and attribute ``cluster`` naming the body; a
    captured value has an edge (``capture=True``) from the outer node to its placeholder.

    Parameters:
        g: an ``sg.Graph``, a node (its graph) or a compiled function (its graph).

    Returns:
        A ``networkx.DiGraph``.

    Raises:
        TypeError: ``g`` is none of those.

    Examples:
        >>> with sg.Graph() as g:
        ...     y = (sg.placeholder((2,), name="x") * 2.0).sum()
        >>> G = sg.to_networkx(g)
        >>> sorted(G.nodes(data="op")), G.number_of_edges()
        ([(0, 'placeholder'), (1, 'constant'), (2, 'mul'), (3, 'sum')], 3)
    """
    import networkx as nx

    graph = _graph_of(g)
    G = nx.DiGraph(name=graph.name or "")
    _add_graph(G, graph, ())
    return G


def _add_graph(G, graph: Graph, prefix: tuple, cluster: str | None = None) -> None:
    def vid(n):
        return prefix + (n.id,) if prefix else n.id

    for n in graph.nodes:
        G.add_node(vid(n), op=n.op, shape=n._shape, dtype=n.dtype, name=n.name, attrs=dict(n.attrs),
                   label=_label(n), cluster=cluster)
        for pos, x in enumerate(n.inputs):
            if G.has_edge(vid(x), vid(n)):
                G.edges[vid(x), vid(n)]["positions"].append(pos)
            else:
                G.add_edge(vid(x), vid(n), position=pos, positions=[pos])
        for name, body in _bodies(n):
            inner = prefix + (n.id, name)
            _add_graph(G, body.graph, inner, f"{n.op} %{n.id} {name}")
            for outer, ph in body.captures:
                G.add_edge(vid(outer), inner + (ph.id,), capture=True, position=None, positions=[])


def _bodies(n: Node) -> list:
    """The bodies of a forward control node (a gradient node's live in the same graphs)."""
    cf = n.attrs.get("cf") if n.op in ("cond", "while_loop", "scan") else None
    return list(cf.bodies.items()) if cf is not None else []


def _label(n: Node) -> str:
    if n.op in ("placeholder", "variable"):
        return f"{n.name}\\n{n.op} {type_str(n.spec)}"
    if n.op == "constant":
        return f"constant {value_str(n.value)}\\n{type_str(n.spec)}"
    if "cf" in n.attrs:
        return f"%{n.id} {n.op}"
    return f"%{n.id} {n.op}{attrs_str(n.attrs)}\\n{type_str(n.spec)}"


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n") + '"'


def to_dot(g) -> str:
    """Graphviz DOT text (``dot -Tsvg``): sources as boxes, assignments dashed, each
    control-flow body a cluster (captured values enter it by dotted edges).

    Parameters:
        g: an ``sg.Graph``, a node (its graph) or a compiled function (its graph).

    Returns:
        The DOT text, one statement a line.

    Raises:
        TypeError: ``g`` is none of those.

    Examples:
        >>> with sg.Graph() as g:
        ...     y = (sg.placeholder((2,), name="x") * 2.0).sum()
        >>> print(sg.to_dot(g).splitlines()[7])
          n0 -> n2 [label="0"];
    """
    graph = _graph_of(g)
    lines = ["digraph staticgraph {", "  rankdir=TB;", "  compound=true;", '  node [fontname="monospace", fontsize=14];']
    _dot_graph(lines, graph, "n", "  ")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_graph(lines: list, graph: Graph, p: str, indent: str) -> None:
    for n in graph.nodes:
        shape = "box" if n.op in ("placeholder", "variable", "constant") else "ellipse"
        style = ', style="dashed"' if n.op == "assign" else ', style="bold"' if _bodies(n) else ""
        lines.append(f"{indent}{p}{n.id} [label={_quote(_label(n))}, shape={shape}{style}];")
        for pos, x in enumerate(n.inputs):
            lines.append(f'{indent}{p}{x.id} -> {p}{n.id} [label="{pos}"];')
        for name, body in _bodies(n):
            q = f"{p}{n.id}_{name}_"
            lines.append(f"{indent}subgraph cluster_{q} {{")
            lines.append(f"{indent}  label={_quote(f'{n.op} %{n.id}: {name}')}; style=rounded;")
            _dot_graph(lines, body.graph, q, indent + "  ")
            lines.append(f"{indent}}}")
            for outer, ph in body.captures:
                lines.append(f'{indent}{p}{outer.id} -> {q}{ph.id} [style=dotted, label="capture"];')


__all__ = ["to_networkx", "to_dot"]
