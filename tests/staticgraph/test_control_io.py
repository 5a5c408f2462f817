"""Graphs with control flow: sg.save/sg.load round trips (no code loaded, content checked),
and sg.to_dot / sg.to_networkx draw each body as a cluster."""

import json

import numpy as np
import pytest

import staticgraph as sg

RNG = np.random.default_rng(7)


def _model():
    with sg.Graph() as g:
        xs = sg.placeholder((None, 3), "float64", name="xs")
        W = sg.variable(RNG.standard_normal((3, 3)), name="W")

        def step(h, x):
            h2 = sg.cond(x.sum() > 0, lambda a: (a @ W).tanh(), lambda a: a * 0.5, h + x)
            return h2, h2.sum()

        hT, ys = sg.scan(step, sg.constant(np.zeros(3)), xs)
        _, z = sg.while_loop(lambda i, z: i < 3, lambda i, z: (i + 1, z * W[0]), (sg.constant(np.int64(0)), hT))
        loss = z.sum() + ys.sum()
        grads = sg.gradients(loss, [W, xs])
    return g, [loss, *grads]


@pytest.mark.parametrize("optimize", [False, True])
def test_save_load_round_trip(tmp_path, optimize):
    g, outs = _model()
    fn = sg.compile(outs, optimize=optimize)
    path = tmp_path / "cf.json"
    sg.save(fn, path)
    again = sg.load(path)
    for length in (0, 2, 5):
        X = RNG.standard_normal((length, 3))
        for a, b in zip(fn(X), again(X)):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    assert json.loads(path.read_text())["version"] == 2
    g2 = sg.load(_saved(tmp_path, g))
    assert g2.text() == g.text()


def _saved(tmp_path, obj):
    path = tmp_path / "g.json"
    sg.save(obj, path)
    return path


def test_load_refuses_a_tampered_body(tmp_path):
    g, _ = _model()
    doc = json.loads(_saved(tmp_path, g).read_text())
    scan = next(n for n in doc["nodes"] if n["op"] == "scan")
    scan["attrs"]["cf"]["bodies"]["body"]["outputs"] = [999]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(sg.LoadError, match="not a position below"):
        sg.load(bad)
    scan["attrs"]["cf"]["kind"] = "exec"
    bad.write_text(json.dumps(doc))
    with pytest.raises(sg.LoadError, match="kind"):
        sg.load(bad)


def test_dot_and_networkx_draw_bodies_as_clusters():
    g, _ = _model()
    dot = sg.to_dot(g)
    assert "subgraph cluster_" in dot and 'label="scan %' in dot and "capture" in dot
    assert dot.count("subgraph cluster_") == 5  # scan body, its cond's two branches, while cond and body
    G = sg.to_networkx(g)
    clusters = {d["cluster"] for _, d in G.nodes(data=True) if d["cluster"]}
    assert any(c.startswith("scan") for c in clusters) and any(c.startswith("cond") for c in clusters)
    assert any(d.get("capture") for _, _, d in G.edges(data=True))
