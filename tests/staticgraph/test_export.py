"""sg.to_networkx and sg.to_dot."""

import numpy as np

import staticgraph as sg


def _graph():
    with sg.Graph("g") as g:
        x = sg.placeholder((None, 3), name="x")
        w = sg.variable(np.ones(3, np.float32), name="w")
        y = (x * x * w).sum()
        sg.gradients(y, w)
    return g


def test_networkx_has_one_vertex_per_node_and_edges_with_positions():
    g = _graph()
    G = sg.to_networkx(g)
    assert G.number_of_nodes() == len(g)
    sq = next(n for n in g.nodes if n.op == "mul")
    assert G.nodes[sq.id]["op"] == "mul" and G.nodes[sq.id]["shape"] == (None, 3)
    assert G.edges[0, sq.id]["positions"] == [0, 1]  # x * x: one edge, both positions
    import networkx as nx

    assert nx.is_directed_acyclic_graph(G)
    assert list(nx.topological_sort(G))[0] in (0, 1)


def test_dot_text_lists_every_node_and_edge():
    g = _graph()
    dot = sg.to_dot(g)
    assert dot.startswith("digraph staticgraph {") and dot.rstrip().endswith("}")
    assert dot.count("[label=") == len(g) + sum(len(n.inputs) for n in g.nodes)
    assert '"x\\nplaceholder f32[?,3]"' in dot
    assert sg.to_dot(sg.compile(g.nodes[-1], optimize=False)) == dot
