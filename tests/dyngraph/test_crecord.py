"""The compiled forward (``dyngraph/_crecord.c``) against its Python twins, in one process.

Each program runs twice from the same arrays: with the compiled module in place, and inside
``apply.pure()`` (``Tensor._apply_op``, ``_binary``, the surface's entries and ``Node.__del__``
back to their Python functions). The two runs must make the same tensors (values, dtype, views,
version counters), the same graph (every node field, edge, saved value, version, label), the same
``dg.stats()`` and bitwise the same gradients; bad input must give the same error.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dyngraph as dg
from dyngraph import _accel, apply
from dyngraph.node import AccumulateGrad, Node
from shared_ops import ShapeOnly, get_op

compiled = pytest.mark.skipif(apply._C is None, reason="dyngraph._crecord is not built here (or DYNGRAPH_PURE=1): "
                              "`python setup.py build_ext --inplace` builds it")


def test_the_built_module_is_the_one_in_use():
    built = list(Path(apply.__file__).parent.glob("_crecord*.so"))
    if _accel.PURE or not built:
        assert apply._C is None and dg.Tensor.__dict__["_apply_op"].__func__ is apply.apply_op
    else:  # built from this source (not refused as stale) and in place
        assert apply._C is not None and "_crecord" in _accel.accelerated()
        assert dg.Tensor.__dict__["_apply_op"].__func__ is apply._C.apply_op


def test_an_edited_part_of_the_module_makes_it_stale(tmp_path, monkeypatch):
    """The module is compiled from ``_crecord.c`` and the ``_crecord_*.h`` it includes: editing any
    of them without rebuilding must change the hash ``_accel`` checks (else a stale module runs)."""
    here = Path(_accel.__file__).parent
    (tmp_path / "_crecord.c").write_bytes((here / "_crecord.c").read_bytes())
    parts = sorted(here.glob("_crecord_*.h"))
    assert len(parts) >= 4
    for p in parts:
        (tmp_path / p.name).write_bytes(p.read_bytes())
    monkeypatch.setattr(_accel, "_HERE", tmp_path)
    same = _accel._source_hash("_crecord")
    if apply._C is not None:
        assert same == apply._C.SOURCE_HASH
    edited = tmp_path / parts[-1].name
    edited.write_bytes(edited.read_bytes() + b"/* edited */\n")
    assert _accel._source_hash("_crecord") != same


# --------------------------------------------------------------------------- programs

UNARY = ["tanh", "exp", "sigmoid", "relu", "neg", "sum", "T", "reshape", "index", "index_neg", "slice", "astype",
         "index_of_view", "clone"]
BINARY = ["add", "mul", "sub", "div", "matmul", "mul_const", "const_add", "rsub_const", "mul_int", "add_mixed",
          "self_mul", "add_list"]
INPLACE = ["mul_", "add_"]
OPS = UNARY + BINARY + INPLACE + ["no_grad_add", "no_grad_index", "inference_tanh"]


def _step(op, x, y):
    """One op of a program on ``x`` (and ``y``), or None where the shapes do not allow it."""
    if op in ("index", "index_neg", "index_of_view") and x.ndim == 0:
        return None
    if op == "matmul" and (x.ndim == 0 or y.ndim == 0 or x.shape[-1] != y.shape[0]):
        return None
    if op in ("add", "mul", "sub", "div") and x.dtype != y.dtype and x.ndim and y.ndim:
        return None
    return {
        "tanh": lambda: dg.tanh(x), "exp": lambda: x.exp(), "sigmoid": lambda: x.sigmoid(), "relu": lambda: x.relu(),
        "neg": lambda: -x, "sum": lambda: x.sum(), "T": lambda: x.T, "reshape": lambda: x.reshape(-1),
        "index": lambda: x[1], "index_neg": lambda: x[-1], "slice": lambda: x[1:], "clone": lambda: x.clone(),
        "astype": lambda: x.astype("float64"), "index_of_view": lambda: x[1:][0],
        "add": lambda: x + y, "mul": lambda: x * y, "sub": lambda: x - y, "div": lambda: x / (y * y + 1.0),
        "matmul": lambda: x @ y, "mul_const": lambda: x * 0.75, "const_add": lambda: 1.5 + x,
        "rsub_const": lambda: 2.0 - x, "mul_int": lambda: x * 3, "add_mixed": lambda: x + y.astype("float16"),
        "self_mul": lambda: x * x, "add_list": lambda: x + [1.0] * (x.shape[-1] if x.ndim else 1),
    }[op]()


def _run(steps, arrays, wants):
    """The program's tensors (leaves first), its loss (None: nothing requires grad) and the errors
    of the ops its values' shapes refuse."""
    vals = [dg.tensor(a, requires_grad=w) for a, w in zip(arrays, wants)]
    vals.append(dg.tensor(arrays[0] * 0.5))  # a constant
    errors = []
    for op, i, j in steps:
        x, y = vals[i % len(vals)], vals[j % len(vals)]
        if op in INPLACE:
            if x.is_leaf or x._view is not None:
                continue
            with dg.no_grad():  # a version bump: the nodes that saved x record it
                v = getattr(x, op)(1.25)
        elif op == "no_grad_add":
            with dg.no_grad():
                v = x + y if x.shape == y.shape else x * 2.0
        elif op == "no_grad_index":
            with dg.no_grad():
                v = x[0] if x.ndim else x * 2.0
        elif op == "inference_tanh":
            with dg.inference_mode():
                v = x.tanh()
            continue  # an inference tensor: only its making is compared (saving one refuses)
        else:
            try:
                v = _step(op, x, y)
            except Exception as exc:  # noqa: BLE001  (an op the shapes refuse: the same error both ways)
                errors.append((op, type(exc), str(exc)))
                continue
            if v is None:
                continue
        vals.append(v)
    outs = [v for v in vals[len(arrays) + 1:] if v.requires_grad]
    loss = None
    for v in outs:
        s = v.float().sum() if v.dtype != dg.float32 else v.sum()
        loss = s if loss is None else loss + s
    return vals, loss, errors


def _error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001  (the point is to compare whatever is raised)
        return type(exc), str(exc), type(exc.__context__), exc.__suppress_context__
    return None


def _tensor_facts(t, pos):
    v = t._view
    view = None if v is None else (pos.get(id(v.root), "?"), v.rchain, pos.get(id(v.base), v.base is None),
                                   v.chain, v.no_grad)
    ver = t._ver
    ver_facts = None if ver is None else (type(ver).__name__, ver.v, None if ver.views is None else len(ver.views))
    return (t.detach().numpy().tobytes(), str(t.dtype), t.shape, t._rg, view, ver_facts, t._meta is None)


def _graph(fn, pos, memo, seqs):
    """A node's facts and those of everything it reaches, tensors named by their program position."""
    if fn is None:
        return None
    if id(fn) in memo:
        return ("seen", memo[id(fn)])
    memo[id(fn)] = len(memo)
    if isinstance(fn, AccumulateGrad):
        return ("acc", pos[id(fn.variable)])
    assert type(fn) is Node
    seqs.append(fn.seq)
    saved = None if fn.saved is None else tuple(
        ("s", e.shape, e.dtype) if isinstance(e, ShapeOnly)
        else ("t", pos[id(e)]) if id(e) in pos else ("c", e.detach().numpy().tobytes(), str(e.dtype))
        for e in fn.saved)
    out = None if fn.out is None else (fn.out.data.tobytes(), fn.out.counter.v, type(fn.out.counter).__name__)
    return (fn.op.name, fn.attrs, fn.info, fn.label, fn.name(), fn.vers, fn.nbytes, fn.released, fn.hooks, saved, out,
            tuple(_graph(e, pos, memo, seqs) for e in fn.next))


def _everything(steps, arrays, wants):
    dg.reset_stats()  # the peak starts at the bytes held now
    before = dg.stats()
    vals, loss, errors = _run(steps, arrays, wants)
    mid = dg.stats()
    pos = {id(t): k for k, t in enumerate(vals)}
    memo, seqs = {}, []
    facts = [(_tensor_facts(t, pos), _graph(t._grad_fn, pos, memo, seqs)) for t in vals]
    order = [sorted(seqs).index(s) for s in seqs]  # the creation order of the nodes
    counts = {k: mid[k] - before[k] for k in ("nodes_created", "nodes_alive", "saved_bytes", "peak_saved_bytes")}
    grads = None
    if loss is not None:
        grads = _error(loss.backward)  # a saved value changed in place: the same error both ways
        if grads is None:
            grads = [None if t.grad is None else t.grad.numpy().tobytes() for t in vals[:len(arrays)]]
    del vals, loss, pos, memo
    gc.collect()  # a failed backward's traceback holds frames
    after = dg.stats()
    left = (after["nodes_alive"] - before["nodes_alive"], after["saved_bytes"] - before["saved_bytes"])
    return facts, order, counts, grads, errors, *left


def _both(steps, dtype, wants, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((3, 3), (3,), (3, 3))]
    _everything(steps, arrays, wants)  # fills the caches a failing backward leaves holding its last graph
    fast = _everything(steps, arrays, wants)
    with apply.pure():
        assert dg.Tensor.__dict__["_apply_op"].__func__ is apply.apply_op
        slow = _everything(steps, arrays, wants)
    return fast, slow


def _same(fast, slow):
    for (tf, gf), (ts, gs) in zip(fast[0], slow[0]):
        assert tf == ts
        assert gf == gs
    assert fast[1:] == slow[1:]
    assert fast[5] == 0 and fast[6] == 0  # every node freed, every saved byte given back


PROGRAMS = {
    "rnn": [("index", 1, 0), ("matmul", 0, 4), ("matmul", 2, 1), ("add", 5, 6), ("tanh", 7, 0), ("sum", 8, 0)],
    "chain": [("mul_const", 0, 0), ("const_add", 4, 0), ("tanh", 5, 0), ("rsub_const", 6, 0), ("self_mul", 7, 7)],
    "views": [("T", 0, 0), ("add", 4, 2), ("index", 4, 0), ("index_of_view", 0, 0), ("slice", 2, 0),
              ("mul", 6, 1), ("reshape", 5, 0), ("exp", 4, 0)],
    "versions": [("mul", 0, 2), ("clone", 4, 0), ("mul", 5, 5), ("tanh", 5, 0), ("mul_", 5, 0), ("exp", 5, 0),
                 ("add_", 7, 0), ("mul", 7, 0)],
    "fallbacks": [("mul_int", 0, 0), ("add_mixed", 0, 2), ("astype", 0, 0), ("add_list", 2, 0), ("matmul", 1, 0),
                  ("matmul", 1, 1), ("div", 0, 2), ("sub", 1, 0)],
    "modes": [("no_grad_add", 0, 2), ("no_grad_index", 0, 0), ("inference_tanh", 0, 0), ("mul", 4, 0), ("neg", 5, 0), ("relu", 5, 0),
              ("sigmoid", 6, 0)],
}


@compiled
@pytest.mark.parametrize("wants", [(True, True, True), (True, False, False), (False, True, False), (False,) * 3])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_a_program_makes_the_same_graph_compiled_and_in_python(program, dtype, wants):
    _same(*_both(PROGRAMS[program], dtype, wants))


@compiled
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=14),
       st.sampled_from(["float32", "float64"]), st.tuples(st.booleans(), st.booleans(), st.booleans()),
       st.integers(0, 2**31 - 1))
def test_random_programs_make_the_same_graph_compiled_and_in_python(steps, dtype, wants, seed):
    _same(*_both(steps, dtype, wants, seed))


def _python_calls(fn):
    """The Python functions of the recording path that ``fn()`` runs (by name, counted)."""
    seen = {}
    watched = {"apply_op", "record_small", "record", "track", "_binary", "__add__", "__matmul__", "__getitem__", "__del__"}

    def prof(frame, event, arg):
        if event == "call" and frame.f_code.co_name in watched:
            seen[frame.f_code.co_name] = seen.get(frame.f_code.co_name, 0) + 1

    sys.setprofile(prof)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return seen


@compiled
def test_the_compiled_path_is_the_one_taken():
    """The comparisons above mean something only if the first run is compiled: a W2 step makes
    no Python call on the recording path, and the uncommon calls still reach Python's."""
    W = dg.tensor(np.ones((3, 3), np.float32), requires_grad=True)
    xs = dg.tensor(np.ones((4, 3), np.float32))

    def w2():
        h = dg.tensor(np.zeros(3, np.float32))
        for t in range(4):
            h = dg.tanh(W @ xs[t] + W @ h)
        del h

    assert _python_calls(w2) == {}
    with apply.pure():
        slow = _python_calls(w2)
    assert slow["apply_op"] == 20 and slow["track"] == 4  # xs[t] records no node (xs needs no grad)
    assert slow["record_small"] == 16 and slow["__del__"] == 16
    assert _python_calls(lambda: W.astype("float64"))["apply_op"] == 1  # the float check: Python's
    add = get_op("add")
    coerced = _python_calls(lambda: dg.Tensor._apply_op(add, (W, np.ones(3, np.float32)), {}))
    assert coerced["apply_op"] == 1  # an array among the inputs: Python coerces it, the compiled path applies
    assert _python_calls(lambda: xs[1][2])["track"] == 1  # a view of a view


try:  # its strategy and runner; it imports torch (its oracle) and skips without it
    import test_random_graphs as _rg
except pytest.skip.Exception:
    _rg = None


@compiled
@pytest.mark.skipif(_rg is None, reason="tests/dyngraph/test_random_graphs.py needs torch")
@given(_rg.programs() if _rg is not None else st.nothing(), st.integers(0, 2**31 - 1))
def test_the_random_graph_programs_give_the_same_gradients_both_ways(program, seed):
    """``test_random_graphs``' programs, compiled and in Python: the same graph and gradients."""
    n_leaves, steps, outs = program
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((3, 4)) for _ in range(n_leaves)]

    def grads():
        leaves = [dg.tensor(a, requires_grad=True) for a in arrays]
        loss = _rg._run(dg, leaves, steps, outs)
        pos = {id(t): k for k, t in enumerate(leaves)}
        graph = _graph(loss.grad_fn, pos, {}, [])
        loss.backward()
        return graph, loss.item(), [None if x.grad is None else x.grad.numpy().tobytes() for x in leaves]

    fast = grads()
    with apply.pure():
        slow = grads()
    assert fast == slow
