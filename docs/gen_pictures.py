"""Draw the tutorial's graph pictures from the framework's own export.

Each picture runs the tutorial's own example and exports its graph with ``dg.to_dot`` (the
user's names, shapes, values, gradients; ``direction="backward"`` for the arrows gradients
take, with the local derivatives as edge weights) or ``sg.to_dot``. Graphviz's ``dot`` (the
Debian package ``graphviz``) lays each one out as SVG. Both the ``.dot`` text and the ``.svg``
are committed, so building the docs needs neither this script nor Graphviz; the tests
regenerate the ``.dot`` text and compare it with the committed one, and check that every label
of the committed SVG is legible at the page's width.

    python docs/gen_pictures.py            # writes docs/images/*.dot and *.svg
    python docs/gen_pictures.py ch2-forward   # one picture
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "images"
sys.path.insert(0, str(OUT.parents[1]))  # run from a checkout without installing

import dyngraph as dg  # noqa: E402
import staticgraph as sg  # noqa: E402

PINK = "#f7d9e3"


def _with(dot: str, *lines: str) -> str:
    """``dot`` with statements added before its closing brace (a node declared again takes
    the new attributes: DOT's own way of restyling a node)."""
    body = dot.rstrip().rstrip("}")
    return body + "".join(f"  {line}\n" for line in lines) + "}\n"


def _caption(text: str) -> str:
    return f'label="{text}"; labelloc=t; fontname="sans-serif"; fontsize=16;'


# --------------------------------------------------------------------------- chapter 2


def _chain():
    """Chapter 2's chain-rule graph: b = w1*a, c = w2*a, d = w3*b + w4*c, L = d*d."""
    a = dg.tensor(3.0, requires_grad=True)
    w1, w2, w3, w4 = (dg.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0, 4.0))
    b = w1 * a
    c = w2 * a
    d = w3 * b + w4 * c
    L = d * d
    return dict(a=a, w1=w1, w2=w2, w3=w3, w4=w4, b=b, c=c, d=d, L=L)


def ch2_forward() -> str:
    t = _chain()
    return _with(dg.to_dot(t["L"], names=t), _caption("forward: recorded as the code ran"))


def ch2_backward() -> str:
    t = _chain()
    return _with(dg.to_dot(t["L"], names=t, direction="backward"),
                 _caption("backward: arrows reversed, local derivatives as edge weights"))


def ch2_after() -> str:
    t = _chain()
    t["L"].backward()
    return _with(dg.to_dot(t["L"], names=t), _caption("after L.backward(): the leaves hold their gradients"))


# --------------------------------------------------------------------------- chapter 3


def _life(step: int) -> str:
    """The dynamic graph's life, one frame per step, with what dg.stats() says at that point."""
    dg.reset_stats()
    a = dg.tensor(3.0, requires_grad=True)
    w1, w2, w3, w4 = (dg.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0, 4.0))
    b = w1 * a
    names = dict(a=a, w1=w1, w2=w2, w3=w3, w4=w4, b=b)
    if step == 1:
        s = dg.stats()
        return _with(dg.to_dot(b, names=names), _caption(f"1. b = w1 * a: {s['nodes_alive']} node alive, {s['saved_bytes']} saved bytes"))
    c = w2 * a
    d = w3 * b + w4 * c
    L = d * d
    names.update(c=c, d=d, L=L)
    s = dg.stats()
    if step == 2:
        return _with(dg.to_dot(L, names=names), _caption(f"2. ... L = d * d: {s['nodes_alive']} nodes alive, {s['saved_bytes']} saved bytes"))
    L.backward()
    s = dg.stats()
    if step == 3:
        return _with(dg.to_dot(L, names=names), _caption(f"3. L.backward(): {s['nodes_alive']} nodes alive, {s['saved_bytes']} saved bytes"))
    grads = [f"{k}.grad = {names[k].grad.item():g}" for k in ("a", "w1", "w2", "w3", "w4")]
    del b, c, d, L, names
    s = dg.stats()
    caption = _caption(f"4. the next step rebinds L: {s['nodes_alive']} nodes alive, {s['saved_bytes']} saved bytes")
    label = "\\n".join(grads)
    return ('digraph dyngraph {\n  node [shape=box, fontname="monospace", fontsize=14];\n'
            f'  kept [label="{label}", style=filled, fillcolor="#cfe3ff"];\n  {caption}\n}}\n')


def _rnn_cell():
    """The seed's recurrent cell: i2h = W_x @ x.t(); h2h = W_h @ prev_h.t(); (i2h + h2h).tanh().sum()."""
    dg.manual_seed(0)
    x, prev_h = dg.randn(1, 10), dg.randn(1, 20)
    W_h, W_x = dg.randn(20, 20, requires_grad=True), dg.randn(20, 10, requires_grad=True)
    i2h = W_x @ x.t()
    h2h = W_h @ prev_h.t()
    next_h = (i2h + h2h).tanh()
    loss = next_h.sum()
    return dict(W_x=W_x, W_h=W_h, i2h=i2h, h2h=h2h, next_h=next_h, loss=loss)


def ch3_rnn() -> str:
    t = _rnn_cell()
    return _with(dg.to_dot(t["loss"], names=t), _caption("the seed's RNN cell, as dyngraph records it"))


def _seed_5x5():
    """The seed's 5x5 example, exactly: b = x1*a; c = x2*a; d = x3*b + x4*c; L = (10 - d).sum()."""
    dg.manual_seed(0)
    a, x1, x2, x3, x4 = (dg.randn((5, 5), requires_grad=True) for _ in range(5))
    b = x1 * a
    c = x2 * a
    d = x3 * b + x4 * c
    L = (10 - d).sum()
    return dict(a=a, x1=x1, x2=x2, x3=x3, x4=x4, b=b, c=c, d=d, L=L)


def ch3_5x5() -> str:
    t = _seed_5x5()
    return _with(dg.to_dot(t["L"], names=t, values=False), _caption("the seed's 5x5 example: the chain-rule graph on 5x5 tensors"))


# --------------------------------------------------------------------------- chapter 4


def ch4_static() -> str:
    """Chapter 4: the chain-rule graph declared, and in pink the nodes sg.gradients added."""
    with sg.Graph() as g:
        a = sg.placeholder((), name="a")
        w1, w2, w3, w4 = (sg.variable(v, name=f"w{i}") for i, v in enumerate((1.0, 2.0, 3.0, 4.0), 1))
        b = w1 * a
        c = w2 * a
        d = w3 * b + w4 * c
        L = d * d
        grads = sg.gradients(L, [a, w1, w2, w3, w4])
    extra = [f'n{n.id} [style=filled, fillcolor="{PINK}"];' for n in g.nodes if n.id > L.id]
    extra += [f'n{gr.id} [label="dL/d{x}\\n%{gr.id} {gr.op}", style=filled, fillcolor="{PINK}", shape=box];'
              for x, gr in zip(("a", "w1", "w2", "w3", "w4"), grads)]
    named = dict(b=b, c=c, d=d, L=L)
    extra += [f'n{v.id} [label="{k}\\n%{v.id} {v.op}"];' for k, v in named.items()]
    return _with(sg.to_dot(g), *extra, _caption("declared once: the forward graph and, in pink, its gradient"))


PICTURES = {
    "ch2-forward": ch2_forward,
    "ch2-backward": ch2_backward,
    "ch2-after": ch2_after,
    "ch3-life-1": lambda: _life(1),
    "ch3-life-2": lambda: _life(2),
    "ch3-life-3": lambda: _life(3),
    "ch3-life-4": lambda: _life(4),
    "ch3-rnn": ch3_rnn,
    "ch3-5x5": ch3_5x5,
    "ch4-static-graph": ch4_static,
}


# Debian's Graphviz (the committed pictures are its), else graphviz-pure: a Rust port of
# Graphviz shipped as a wheel in the test extra, so a machine without apt can render too
RENDERERS = ("dot", "graphviz-pure")


def renderers() -> list[str]:
    """The renderers installed here, by name, in order of preference."""
    return [name for name in RENDERERS if shutil.which(name)]


def render(dot: str, renderer: str | None = None) -> str:
    """SVG text from DOT text, by ``renderer`` (default: the first installed of ``RENDERERS``)."""
    name = renderer or next(iter(renderers()), None)
    if name is None:
        raise SystemExit("no Graphviz renderer: apt-get install graphviz, or pip install graphviz-pure")
    return subprocess.run([shutil.which(name), "-Tsvg"], input=dot, capture_output=True, text=True,
                          check=True).stdout


def main(argv: list[str]) -> int:
    OUT.mkdir(exist_ok=True)
    unknown = [a for a in argv if a not in PICTURES]
    if unknown:
        raise SystemExit(f"unknown picture(s) {unknown}; choose from {sorted(PICTURES)}")
    for name in argv or list(PICTURES):
        dot = PICTURES[name]()
        (OUT / f"{name}.dot").write_text(dot)
        (OUT / f"{name}.svg").write_text(render(dot))
        print(f"docs/images/{name}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
