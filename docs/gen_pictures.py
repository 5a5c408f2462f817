"""Draw the tutorial's graph pictures from the framework's own export.

Each picture is built by running the tutorial's code, exporting the graph with
``dg.to_networkx`` / ``sg.to_networkx``, laying it out in layers (a node's layer is its longest
path from a source) and drawing it with matplotlib. Nothing is drawn by hand, and nothing beyond
pip packages is needed (no Graphviz). The Graphviz text from ``dg.to_dot`` / ``sg.to_dot`` is
written beside each picture, for readers who have ``dot``.

The images are committed, so building the docs does not need this script. Re-run it after a
change to the export or to the examples::

    python docs/gen_pictures.py            # writes docs/images/*.svg and *.dot
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402

OUT = Path(__file__).resolve().parent / "images"
sys.path.insert(0, str(OUT.parents[1]))  # run from a checkout without installing

import dyngraph as dg  # noqa: E402
import staticgraph as sg  # noqa: E402

plt.rcParams["svg.hashsalt"] = "graphcompare"  # stable ids: a re-run changes no byte
plt.rcParams["svg.fonttype"] = "none"  # text stays text (small files, searchable)

COLOURS = {"leaf": "#cfe3ff", "op": "#fff4d6", "output": "#d8f5d0", "grad": "#f7d9e3"}


def _shape(shape) -> str:
    return "" if not shape else "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _label(G: nx.DiGraph, n, names: dict) -> str:
    data = G.nodes[n]
    if "tensor" in data and id(data["tensor"]) in names:  # a dyngraph leaf the example named
        return (names[id(data["tensor"])] + "\n" + _shape(data.get("shape"))).strip()
    if data.get("label"):  # staticgraph's export labels each node with its type already
        text = str(data["label"]).replace("\\n", "\n")
        return re.sub(r" \{[^}]*\}", "", text)  # attributes make boxes too wide; the .dot keeps them
    text = str(data.get("name") or data.get("op") or n)
    return (text + "\n" + _shape(data.get("shape"))).strip()


def _kind(G: nx.DiGraph, n, names: dict) -> str:
    data = G.nodes[n]
    kind = str(data.get("kind") or "")
    if kind in COLOURS:
        return kind
    if "grad_after" in names and isinstance(n, int) and n > names["grad_after"]:
        return "grad" if G.in_degree(n) else "leaf"
    if G.in_degree(n) == 0:
        return "leaf"
    if G.out_degree(n) == 0:
        return "output"
    return "op"


def _layers(G: nx.DiGraph) -> list[list]:
    """Nodes by longest path from a source, ordered in each layer to cross few edges."""
    depth: dict = {}
    for n in nx.topological_sort(G):
        depth[n] = max((depth[p] + 1 for p in G.predecessors(n)), default=0)
    for n in G.nodes:  # a source sits right before its first consumer
        if G.in_degree(n) == 0 and G.out_degree(n):
            depth[n] = min(depth[s] for s in G.successors(n)) - 1
    layers = [[] for _ in range(max(depth.values()) + 1)]
    for n in G.nodes:  # insertion order: deterministic
        layers[depth[n]].append(n)
    for _ in range(4):  # barycentre sweeps, forward then backward
        for sweep in (range(1, len(layers)), range(len(layers) - 2, -1, -1)):
            for k in sweep:
                ref = {n: i for i, n in enumerate(layers[k - 1 if sweep.step == 1 else k + 1])}
                nbrs = G.predecessors if sweep.step == 1 else G.successors
                def bary(n, i):
                    ps = [ref[p] for p in nbrs(n) if p in ref]
                    return (sum(ps) / len(ps), i) if ps else (i, i)
                layers[k] = [n for _, n in sorted((bary(n, i), n) for i, n in enumerate(layers[k]))]
    return layers


def draw(G: nx.DiGraph, path: Path, title: str, names: dict | None = None, vertical: bool = False) -> None:
    """Layered drawing of a DAG: sources left and outputs right, or top to bottom."""
    G = nx.DiGraph(G)
    names = names or {}
    layers = _layers(G)
    widest = max(len(layer) for layer in layers)
    pos = {}
    for k, layer in enumerate(layers):
        for i, n in enumerate(layer):
            pos[n] = ((i - (len(layer) - 1) / 2) * 2.6, -k) if vertical else (k * 2.2, (len(layer) - 1) / 2 - i)
    if vertical:
        figsize = (max(4.0, 1.9 * widest + 0.8), max(2.2, 0.62 * len(layers) + 0.9))
    else:
        figsize = (max(4.0, 1.75 * len(layers) + 0.6), max(2.2, 0.8 * widest + 0.9))
    fig, ax = plt.subplots(figsize=figsize)
    boxes = {}
    for n, (x, y) in pos.items():
        boxes[n] = ax.text(x, y, _label(G, n, names), ha="center", va="center", fontsize=8,
                           family="monospace", zorder=3,
                           bbox=dict(boxstyle="round,pad=0.35", fc=COLOURS[_kind(G, n, names)], ec="#444444", lw=0.8))
    for a, b in G.edges:
        ax.annotate("", xy=pos[b], xytext=pos[a], zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color="#555555", lw=0.9, shrinkA=1, shrinkB=1,
                                    patchA=boxes[a], patchB=boxes[b], connectionstyle="arc3,rad=0.0"))
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 1.3, max(xs) + 1.3)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, format=path.suffix[1:], metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)


# --------------------------------------------------------------------------- the pictures


def ch2_two_paths():
    """Chapter 2: L = f(d), d = w3*(w1*a) + w4*(w2*a)."""
    a = dg.tensor(2.0, requires_grad=True)
    w1, w2, w3, w4 = (dg.tensor(v, requires_grad=True) for v in (3.0, 4.0, 5.0, 6.0))
    b = w1 * a
    c = w2 * a
    d = w3 * b + w4 * c
    L = d * d
    names = {id(t): k for k, t in dict(a=a, w1=w1, w2=w2, w3=w3, w4=w4).items()}
    return dg.to_networkx(L), dg.to_dot(L), "recorded by dyngraph for L = d * d", names


def ch3_rnn():
    """Chapter 3: the recurrent cell unrolled over two steps."""
    dg.manual_seed(0)
    W_x = dg.randn(20, 10, requires_grad=True)
    W_h = dg.randn(20, 20, requires_grad=True)
    x = dg.randn(1, 10)
    h = dg.randn(1, 20).t()
    for _ in range(2):
        h = (W_x @ x.t() + W_h @ h).tanh()
    loss = h.sum()
    names = {id(W_x): "W_x", id(W_h): "W_h"}
    return dg.to_networkx(loss), dg.to_dot(loss), "recorded by dyngraph: the RNN cell, two steps", names


def ch4_static():
    """Chapter 4: the declared static graph, its gradient nodes included."""
    with sg.Graph() as g:
        x = sg.placeholder((None, 3), name="x")
        w = sg.variable([[0.5], [-1.0], [2.0]], name="w")
        y = (x @ w).tanh()
        loss = (y * y).mean()
        sg.gradients(loss, [w])
    # the nodes sg.gradients declared (after the loss) are drawn pink
    return sg.to_networkx(g), sg.to_dot(g), "declared in staticgraph: the loss and, in pink, its gradient", {"grad_after": loss.id}


PICTURES = {"ch2-two-paths": ch2_two_paths, "ch3-rnn": ch3_rnn, "ch4-static-graph": ch4_static}


def main(argv: list[str]) -> int:
    OUT.mkdir(exist_ok=True)
    wanted = argv or list(PICTURES)
    for name in wanted:
        G, dot, title, names = PICTURES[name]()
        draw(G, OUT / f"{name}.svg", title, names, vertical=name.startswith("ch4"))
        (OUT / f"{name}.dot").write_text(dot if dot.endswith("\n") else dot + "\n")
        print(f"docs/images/{name}.svg  ({G.number_of_nodes()} nodes, {G.number_of_edges()} edges)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
