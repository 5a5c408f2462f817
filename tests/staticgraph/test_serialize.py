"""sg.save / sg.load: versioned JSON, validated on load, never executes anything."""

import json
import os

import numpy as np
import pytest
from hypothesis import given, strategies as st

import staticgraph as sg
from staticgraph.serialize import FORMAT, VERSION, dumps, loads


def _graph():
    g = sg.Graph("model")
    with g:
        x = sg.placeholder((None, 3), name="x")
        w = sg.variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 7, name="w")
        b = sg.constant(np.array([0.5, -0.25], np.float32))
        idx = sg.constant(np.array([0, 2], np.int64))
        y = ((x @ w + b).relu()[:, ::1].sum(axis=1, keepdims=True) ** 2.0).mean()
        z = (x[:, idx] * 2.0).sum()
        gw = sg.gradients(y + z, w)
        step = sg.assign_sub(w, gw * 0.01)
    return g, x, w, y, gw, step


def test_graph_round_trip_keeps_every_node_and_value(tmp_path):
    g, *_ = _graph()
    path = tmp_path / "g.json"
    sg.save(g, path)
    doc = json.loads(path.read_text())
    assert doc["format"] == FORMAT and doc["version"] == VERSION
    g2 = sg.load(path)
    assert isinstance(g2, sg.Graph) and g2.text() == g.text()
    for a, b in zip(g.nodes, g2.nodes):
        if a.value is not None:
            assert a.value.tobytes() == b.value.tobytes() and a.value.dtype == b.value.dtype


def test_compiled_function_round_trip_gives_identical_results_and_current_variables(tmp_path):
    g, x, w, y, gw, step = _graph()
    fn = sg.compile([y, gw, step], inputs=[x], optimize=False)
    a = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    fn(a)  # one step: the saved variable is the updated one
    path = tmp_path / "fn.json"
    sg.save(fn, path)
    fn2 = sg.load(path)
    assert isinstance(fn2, sg.CompiledFunction) and isinstance(fn2(a), list)
    fn3 = sg.load(path)
    r, r3 = fn(a), fn3(a)
    assert all(p.tobytes() == q.tobytes() for p, q in zip(r, r3))


def test_saving_a_traced_function(tmp_path):
    f = sg.function(lambda u: (u * u).sum(), optimize=False)
    f(np.ones(3))
    sg.save(f, tmp_path / "f.json")
    assert sg.load(tmp_path / "f.json")(np.ones(3)) == 3.0


def _doc():
    g, *_ = _graph()
    return json.loads(dumps(g))


def _mutated(change):
    doc = _doc()
    change(doc)
    return json.dumps(doc)


def _node(doc, op):
    return next(n for n in doc["nodes"] if n["op"] == op)


HOSTILE = {
    "unknown op": (lambda d: _node(d, "matmul").update(op="system"), "unknown op"),
    "code in an op": (lambda d: _node(d, "matmul").update(op="__import__('os').system('touch PWNED')"), "unknown op"),
    "code in a name": (lambda d: _node(d, "placeholder").update(name="__import__('os').system('touch PWNED')"), "name"),
    "edge forward": (lambda d: _node(d, "matmul").update(inputs=[0, len(d["nodes"]) - 1]), "earlier node"),
    "edge negative": (lambda d: _node(d, "matmul").update(inputs=[-1, 1]), "earlier node"),
    "edge not int": (lambda d: _node(d, "matmul").update(inputs=["0", 1]), "earlier node"),
    "absurd shape": (lambda d: _node(d, "placeholder").update(shape=[10**12, 3]), "invalid size"),
    "absurd elements": (lambda d: _node(d, "placeholder").update(shape=[2**30, 2**30]), "elements"),
    "negative dim": (lambda d: _node(d, "placeholder").update(shape=[-1, 3]), "invalid size"),
    "unknown dtype": (lambda d: _node(d, "placeholder").update(dtype="object"), "dtype"),
    "unknown attr": (lambda d: _node(d, "sum").update(attrs={"axis": [1], "keepdims": True, "evil": 1}), "unexpected attribute"),
    "attr object": (lambda d: _node(d, "sum").update(attrs={"axis": {"a": 1}, "keepdims": True}), "not allowed"),
    "attr wrong value": (lambda d: _node(d, "sum").update(attrs={"axis": [7], "keepdims": True}), "inconsistent"),
    "shape lie": (lambda d: _node(d, "matmul").update(shape=[None, 5]), "the op gives"),
    "dtype lie": (lambda d: _node(d, "matmul").update(dtype="float64"), "the op gives"),
    "value too short": (lambda d: _node(d, "variable")["value"].update(base64="AAAA"), "bytes"),
    "value not base64": (lambda d: _node(d, "variable")["value"].update(base64="!!!"), "base64"),
    "newer version": (lambda d: d.update(version=VERSION + 1), "newer"),
    "other format": (lambda d: d.update(format="pickle"), "not a staticgraph file"),
    "extra key": (lambda d: d.update(code="print(1)"), "unexpected"),
    "id out of order": (lambda d: d["nodes"][1].update(id=7), "ids must be"),
    "placeholder with inputs": (lambda d: _node(d, "placeholder").update(inputs=[0]), "earlier node"),
    "assign to a constant": (lambda d: _node(d, "assign").update(inputs=[2, 3]), "assign"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_raise_load_error_and_run_nothing(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    change, words = HOSTILE[case]
    path = tmp_path / "bad.json"
    path.write_text(_mutated(change))
    with pytest.raises(sg.LoadError) as info:
        sg.load(path)
    assert words in str(info.value)
    assert not os.path.exists(tmp_path / "PWNED")


@pytest.mark.parametrize("cut", [0, 1, 10, 100, -1, -2, -50])
def test_truncated_files_raise_load_error(cut, tmp_path):
    text = json.dumps(_doc())
    path = tmp_path / "cut.json"
    path.write_text(text[:cut])
    with pytest.raises(sg.LoadError):
        sg.load(path)


def test_not_json_and_missing_files(tmp_path):
    (tmp_path / "bin").write_bytes(b"\x80\x81\xff")
    with pytest.raises(sg.LoadError, match="UTF-8"):
        sg.load(tmp_path / "bin")
    (tmp_path / "deep").write_text("[" * 100000)
    with pytest.raises(sg.LoadError):
        sg.load(tmp_path / "deep")
    with pytest.raises(sg.LoadError, match="cannot read"):
        sg.load(tmp_path / "nothing-here")


_VALID = json.dumps(_doc()).encode()


@given(st.data())
def test_mutated_files_load_or_raise_load_error_only(data):
    raw = bytearray(_VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if kind == "flip" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        elif kind == "delete":
            del raw[pos:pos + data.draw(st.integers(1, 20))]
        elif kind == "insert":
            raw[pos:pos] = data.draw(st.sampled_from([b"0", b"9", b"-", b'"', b",", b"[", b"]", b"null", b"1e400", b"{}"]))
        else:
            del raw[pos:]
    try:
        loaded = loads(bytes(raw))
    except sg.LoadError:
        return
    assert isinstance(loaded, sg.Graph)  # a mutation that kept the file valid


@given(st.data())
def test_mutated_json_values_load_or_raise_load_error_only(data):
    doc = _doc()
    node = data.draw(st.sampled_from(doc["nodes"]))
    key = data.draw(st.sampled_from(["op", "inputs", "attrs", "shape", "dtype", "name", "value", "id"]))
    node[key] = data.draw(st.recursive(
        st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=20)
        | st.sampled_from(["add", "matmul", "float32", "x"]),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=8,
    ))
    try:
        loads(json.dumps(doc))
    except sg.LoadError:
        pass


_UNARY = ["exp", "tanh", "sigmoid", "relu", "abs", "neg"]
_BINARY = ["add", "sub", "mul", "maximum"]


@given(st.data())
def test_random_graphs_round_trip_to_identical_results(data):
    """Any chain of ops survives save/load with the same text, values and gradients."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    with sg.Graph() as g:
        x = sg.placeholder((None, 3), "float64", name="x")
        w = sg.variable(rng.standard_normal(3), name="w")
        vals = [x, w]
        for _ in range(data.draw(st.integers(1, 8))):
            if data.draw(st.booleans()):
                v = getattr(data.draw(st.sampled_from(vals)), data.draw(st.sampled_from(_UNARY)))()
            else:
                a, b = data.draw(st.sampled_from(vals)), data.draw(st.sampled_from(vals))
                op = data.draw(st.sampled_from(_BINARY))
                v = sg.maximum(a, b) if op == "maximum" else getattr(a, {"add": "__add__", "sub": "__sub__", "mul": "__mul__"}[op])(b)
            vals.append(v)
        y = vals[-1].sum()
        gw = sg.gradients(y, w)
    outs = [y] + ([gw] if gw is not None else [])
    fn = sg.compile(outs, inputs=[x], optimize=False)
    fn2 = loads(dumps(fn))
    assert fn2.graph.text() == g.text()
    a = rng.standard_normal((4, 3))
    assert all(np.asarray(p).tobytes() == np.asarray(q).tobytes() for p, q in zip(fn(a), fn2(a)))


def test_a_function_saved_with_pass_switches_loads_with_the_same_ones(tmp_path):
    with sg.Graph():
        x = sg.placeholder((None, 3), name="x")
        y = (x * 2.0 + 1.0).tanh().sum()
        fn = sg.compile([y], inputs=[x], optimize={"fuse": False})
    sg.save(fn, tmp_path / "f.json")
    back = sg.load(tmp_path / "f.json")
    assert back.ctx.switches == fn.ctx.switches and back.ctx.switches["fuse"] is False
    assert back.text() == fn.text() and "fused" not in back.text()


def test_load_refuses_unknown_pass_switches(tmp_path):
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        fn = sg.compile([x * 2.0], inputs=[x], optimize={"cse": False})
    doc = json.loads(dumps(fn))
    doc["function"]["optimize"] = {"fusion": False}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(Exception, match="function optimize must map pass names"):
        sg.load(tmp_path / "bad.json")
