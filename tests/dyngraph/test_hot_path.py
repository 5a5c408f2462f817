"""The op-call and backward hot path: what its shortcuts must not change."""

import numpy as np
import pytest

import dyngraph as dg


def test_views_taken_in_a_loop_do_not_pile_up_on_their_base():
    xs = dg.tensor(np.zeros((32, 10)))
    kept = []
    for step in range(200):  # an RNN reading xs[t] every step
        for t in range(32):
            v = xs[t]
            if t == 0 and step < 5:
                kept.append(v)
    refs = xs._ver.views
    assert len(refs) <= 64, len(refs)
    alive = [r() for r in refs if r() is not None]
    assert all(any(a is k for a in alive) for k in kept)  # the live views are still tracked
    with dg.no_grad():
        xs.add_(1.0)
    assert all(float(k.sum()) == 10.0 for k in kept)  # and still see their base's writes


@pytest.mark.parametrize("shapes", [((5, 3), (3,)), ((3,), (3, 4)), ((2, 5, 3), (3,)), ((3,), (2, 3, 4))])
@pytest.mark.parametrize("want", [(True, True), (True, False), (False, True)])
def test_matrix_vector_gradients_match_pytorch(shapes, want):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(shapes[0]) * 10 + len(shapes[1]))
    arrays = [rng.standard_normal(s) for s in shapes]
    a, b = (dg.tensor(x, requires_grad=w) for x, w in zip(arrays, want))
    ta, tb = (torch.tensor(x, requires_grad=w) for x, w in zip(arrays, want))
    out, tout = a @ b, ta @ tb
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(tout.shape)
    out.backward(dg.tensor(g))
    tout.backward(torch.tensor(g))
    for x, tx, w in zip((a, b), (ta, tb), want):
        if w:
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-14)
        else:
            assert x.grad is None


def test_a_gradient_from_one_two_or_three_consumers_is_their_sum_in_creation_order():
    x = dg.tensor(np.array([0.1, -0.3, 2.5]), requires_grad=True)
    for consumers in (1, 2, 3):
        x.grad = None
        h = x * 1.0  # a node (not a leaf) whose buffer gets `consumers` contributions
        terms = [h * float(k + 2) for k in range(consumers)]
        loss = terms[0].sum()
        for t in terms[1:]:
            loss = loss + t.sum()
        loss.backward()
        expect = np.full(3, 2.0)
        for k in range(1, consumers):
            expect = expect + np.full(3, float(k + 2))  # add_n's left fold, first consumer first
        assert np.array_equal(x.grad.numpy(), expect)


def _node_facts(node):
    out = None if node.out is None else (node.out.data.tobytes(), node.out.counter.v)
    return (node.op, dict(node.attrs), node.info, node.next, node.saved, node.vers, out, node.nbytes, node.released,
            node.hooks, node.label)


def _changed():
    x = dg.tensor(np.array([1.5, -2.0, 0.25]), requires_grad=True) * 1.0
    with dg.no_grad():
        x.mul_(2.0)  # version 1: a node that saves it records the version
    return x


CASES = {
    "tanh": ("tanh", lambda leaf, mid, const: (mid,)), "exp": ("exp", lambda leaf, mid, const: (leaf,)),
    "sum": ("sum", lambda leaf, mid, const: (mid,)), "neg": ("neg", lambda leaf, mid, const: (leaf,)),
    "log": ("log", lambda leaf, mid, const: (mid * mid,)), "abs_changed": ("abs", lambda leaf, mid, const: (_changed(),)),
    "add": ("add", lambda leaf, mid, const: (mid, leaf)), "sub": ("sub", lambda leaf, mid, const: (leaf, mid)),
    "add_leaf_const": ("add", lambda leaf, mid, const: (leaf, const)),
    "add_broadcast": ("add", lambda leaf, mid, const: (const, mid)),
    "add_other_dtype_shape": ("add", lambda leaf, mid, const: (mid, dg.tensor(np.array([1.0]), requires_grad=True))),
    "mul": ("mul", lambda leaf, mid, const: (mid, leaf)), "mul_const": ("mul", lambda leaf, mid, const: (mid, const)),
    "const_mul": ("mul", lambda leaf, mid, const: (const, leaf)), "mul_self": ("mul", lambda leaf, mid, const: (mid, mid)),
    "div": ("div", lambda leaf, mid, const: (const, mid)), "pow": ("pow", lambda leaf, mid, const: (mid * mid, leaf)),
    "mul_changed": ("mul", lambda leaf, mid, const: (_changed(), const)),
    "changed_mul": ("mul", lambda leaf, mid, const: (const, _changed())),
    "changed_mul_leaf": ("mul", lambda leaf, mid, const: (_changed(), leaf)),
    "matmul": ("matmul", lambda leaf, mid, const: (mid, const.reshape(3, 1))),
    "matmul_const": ("matmul", lambda leaf, mid, const: (const.reshape(1, 3), mid.reshape(3, 1))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_record_small_makes_the_node_record_makes(case):
    from shared_ops import REGISTRY

    from dyngraph.record import op_info, record
    from dyngraph.record_small import record_small
    from dyngraph.tensors import Tensor

    leaf = dg.tensor(np.array([[0.5, -1.0, 2.0]]), requires_grad=True)
    mid = leaf * 2.0
    const = dg.tensor(np.array([3.0, 4.0, 5.0]))
    name, make = CASES[case]
    inputs = make(leaf, mid, const)
    op = REGISTRY.get(name)
    info = op_info(op)
    attrs = op.bind_attrs({})
    made = []
    for rec in (record, record_small):
        out = Tensor._apply_op(op, inputs, attrs)  # any node, replaced below
        out._grad_fn = None
        out._ver = None
        before = dg.stats()["saved_bytes"]
        rec(op, attrs, inputs, out, info)
        made.append((out, dg.stats()["saved_bytes"] - before))
    (a, sa), (b, sb) = made
    fa, fb = _node_facts(a.grad_fn), _node_facts(b.grad_fn)
    assert fa[:3] == fb[:3] and fa[5:] == fb[5:] and sa == sb
    assert fa[3] == fb[3]  # the same edges
    assert [type(s) for s in fa[4]] == [type(s) for s in fb[4]]
    for sa_, sb_ in zip(fa[4], fb[4]):  # the same tensors saved, the same stand-ins
        assert sa_ is sb_ or (type(sa_) is not Tensor and (sa_.shape, sa_.dtype) == (sb_.shape, sb_.dtype))
    assert (a._ver is None) == (b._ver is None)
    a.sum().backward(retain_graph=True)  # and the same gradients, bitwise
    ga = [x.grad.numpy().copy() if x.grad is not None else None for x in (leaf,)]
    leaf.grad = None
    b.sum().backward(retain_graph=True)
    gb = [x.grad.numpy().copy() if x.grad is not None else None for x in (leaf,)]
    for x, y in zip(ga, gb):
        assert (x is None and y is None) or x.tobytes() == y.tobytes()


def test_record_small_refuses_a_saved_inference_tensor_as_record_does():
    from shared_ops import REGISTRY

    from dyngraph.record import op_info, record
    from dyngraph.record_small import record_small
    from dyngraph.tensors import Tensor

    with dg.inference_mode():
        frozen = dg.tensor(np.array([1.0, 2.0]))
    w = dg.tensor(np.array([3.0, 4.0]), requires_grad=True)
    op = REGISTRY.get("mul")
    errors = []
    for rec in (record, record_small):
        out = Tensor._apply_op(op, (w, w), {})
        with pytest.raises(dg.errors.AutogradError) as e:
            rec(op, {}, (w, frozen), out, op_info(op))
        errors.append(str(e.value))
    assert errors[0] == errors[1] and "Inference tensors cannot be saved" in errors[0]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape", [(128, 512), (4096,), (70, 70, 3), (5,)])
def test_tanh_grad_written_in_place_gives_the_bits_of_the_three_op_spelling(dtype, shape):
    from shared_ops import get_op

    rng = np.random.default_rng(len(shape))
    g = rng.standard_normal(shape).astype(dtype)
    y = np.tanh(rng.standard_normal(shape)).astype(dtype)
    for gg, yy in [(g, y), (g.T, y.T), (g.T, np.ascontiguousarray(y.T)), (g, np.asfortranarray(y))]:
        got = get_op("tanh_grad").forward(np, gg, yy)
        want = gg * (1 - yy * yy)
        assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()
        assert not np.shares_memory(got, gg) and not np.shares_memory(got, yy)


BINARY_CASES = {  # (name, a, b) from (leaf, mid, ints) of one float dtype
    "add": ("add", lambda l, m, i: (m, l)), "sub_const": ("sub", lambda l, m, i: (m, 2.5)),
    "rsub_const": ("sub", lambda l, m, i: (2.5, m)), "mul_self": ("mul", lambda l, m, i: (m, m)),
    "div_const": ("div", lambda l, m, i: (l, 3.0)), "rdiv": ("div", lambda l, m, i: (3.0, l)),
    "pow": ("pow", lambda l, m, i: (m, 2.0)), "matmul": ("matmul", lambda l, m, i: (m.reshape(1, 3), l.reshape(3, 1))),
    "lt": ("lt", lambda l, m, i: (m, l)), "zero_const": ("mul", lambda l, m, i: (m, 0.0)),
    "nan_const": ("add", lambda l, m, i: (m, float("nan"))),
    # not the fast path's cases: the general path runs (a promotion, an integer tensor, an int)
    "ints_const": ("mul", lambda l, m, i: (i, 2.5)), "int_scalar": ("mul", lambda l, m, i: (m, 2)),
    "ints_floats": ("add", lambda l, m, i: (i, m)),
}


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("case", sorted(BINARY_CASES))
def test_binary_fast_path_makes_what_the_surface_makes(case, dtype, monkeypatch):
    from dyngraph import binary_fast
    from shared_ops import TensorSurface

    general = []
    monkeypatch.setattr(binary_fast, "_general", lambda *a: general.append(a) or TensorSurface._binary(*a))
    leaf = dg.tensor(np.array([0.5, -1.0, 2.0], dtype=dtype), requires_grad=True)
    mid = leaf * 2.0
    ints = dg.tensor(np.array([1, 2, 3]))
    name, make = BINARY_CASES[case]
    a, b = make(leaf, mid, ints)
    self = a if isinstance(a, dg.Tensor) else b
    fast = self._binary(name, a, b)
    slow = TensorSurface._binary(self, name, a, b)
    assert bool(general) == (case in ("ints_const", "int_scalar", "ints_floats"))  # the path the case is for
    assert fast.dtype == slow.dtype and fast.shape == slow.shape
    assert fast.detach().numpy().tobytes() == slow.detach().numpy().tobytes()
    assert fast.requires_grad == slow.requires_grad
    if fast.grad_fn is None:
        assert slow.grad_fn is None
        return
    ff, fs = _node_facts(fast.grad_fn), _node_facts(slow.grad_fn)
    assert ff[:4] == fs[:4] and ff[5:] == fs[5:]  # op, attrs, info, edges; versions, output, bytes...
    for x, y in zip(ff[4], fs[4]):  # the same inputs saved (a constant: equal value and dtype)
        assert x is y or (x.shape, x.dtype) == (y.shape, y.dtype)
        if isinstance(x, dg.Tensor):
            assert x.detach().numpy().tobytes() == y.detach().numpy().tobytes()
    fast.sum().backward(retain_graph=True)
    g_fast = None if leaf.grad is None else leaf.grad.numpy().tobytes()
    leaf.grad = None
    slow.sum().backward()
    assert g_fast == (None if leaf.grad is None else leaf.grad.numpy().tobytes())


@pytest.mark.parametrize("k", [0, 2, -1, -3])
def test_an_int_index_parses_as_the_general_loop_parses_it(k):
    from shared_ops._surface_args import _parse_index

    x = dg.tensor(np.arange(12.0).reshape(3, 4))
    assert _parse_index(x, k) == _parse_index(x, (k,))  # x[k]'s shortcut, and x[k,] through the loop
    assert np.array_equal(x[k].numpy(), x.numpy()[k]) and x[k]._view is not None
