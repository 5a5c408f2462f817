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


@pytest.mark.parametrize("case", ["tanh", "exp", "sum", "neg", "add", "sub", "add_leaf_const", "add_broadcast",
                                  "add_other_dtype_shape"])
def test_record_plain_makes_the_node_record_makes(case):
    from shared_ops import REGISTRY

    from dyngraph.record import op_info, record
    from dyngraph.record_plain import record_plain
    from dyngraph.tensors import Tensor

    leaf = dg.tensor(np.array([[0.5, -1.0, 2.0]]), requires_grad=True)
    mid = leaf * 2.0
    const = dg.tensor(np.array([3.0, 4.0, 5.0]))
    name, inputs = {
        "tanh": ("tanh", (mid,)), "exp": ("exp", (leaf,)), "sum": ("sum", (mid,)), "neg": ("neg", (leaf,)),
        "add": ("add", (mid, leaf)), "sub": ("sub", (leaf, mid)), "add_leaf_const": ("add", (leaf, const)),
        "add_broadcast": ("add", (const, mid)),
        "add_other_dtype_shape": ("add", (mid, dg.tensor(np.array([1.0]), requires_grad=True))),
    }[case]
    op = REGISTRY.get(name)
    info = op_info(op)
    assert info.plain
    made = []
    for rec in (record, record_plain):
        out = Tensor._apply_op(op, inputs, {})  # any node, replaced below
        out._grad_fn = None
        before = dg.stats()["saved_bytes"]
        rec(op, {}, inputs, out, info)
        made.append((out, dg.stats()["saved_bytes"] - before))
    (a, sa), (b, sb) = made
    fa, fb = _node_facts(a.grad_fn), _node_facts(b.grad_fn)
    assert fa[:3] == fb[:3] and fa[5:] == fb[5:] and sa == sb
    assert fa[3] == fb[3]  # the same edges
    assert [(s.shape, s.dtype) for s in fa[4]] == [(s.shape, s.dtype) for s in fb[4]]
    assert (a._ver is None) == (b._ver is None)
