"""The generated step loops of scan and while_loop (``staticgraph.control.inline``): the same
bits as the Python loop run eagerly, carries' buffers reused across iterations without ever
overwriting a value handed out, and the fused regions inside bodies reached by
``fn.wait_compiled()`` / ``fn.use_tier()``."""

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg
from staticgraph.control.kernels import Loop

RNG = np.random.default_rng(7)


def _loops(fn):
    return [n.payload for n in fn.program.nodes if isinstance(n.payload, Loop)]


def _scan_graph(with_grads: bool, optimize=False):
    with sg.Graph():
        xs = sg.placeholder((None, 3), "float64", name="xs")
        h0 = sg.placeholder((4,), "float64", name="h0")
        W = sg.placeholder((4, 4), "float64", name="W")
        U = sg.placeholder((3, 4), "float64", name="U")
        hT, ys = sg.scan(lambda h, x: ((h @ W + x @ U).tanh(), h * 2.0), h0, xs)
        outs = [hT, ys]
        if with_grads:
            outs += sg.gradients(hT.sum() + ys.sum(), [h0, W, U])
        return sg.compile(outs, inputs=[xs, h0, W, U], optimize=optimize)


def _scan_eager(X, H, W, U):
    h, ys = H, []
    for t in range(X.shape[0]):
        ys.append(h * 2.0)
        h = (h @ W + X[t] @ U).tanh()
    return h, dg.stack(ys) if ys else None


@pytest.mark.parametrize("with_grads", [False, True])
@pytest.mark.parametrize("T", [1, 2, 3, 6])
def test_scan_loop_bitwise_and_buffers_never_shared(with_grads, T):
    fn = _scan_graph(with_grads)
    X, H, W, U = RNG.standard_normal((T, 3)), RNG.standard_normal(4), RNG.standard_normal((4, 4)) * 0.5, RNG.standard_normal((3, 4))
    first = fn(X, H, W, U)
    kept = [np.array(a, copy=True) for a in first]
    second = fn(X * 0.5, H, W, U)  # reuses no buffer the first call handed out
    for a, k in zip(first, kept):
        assert a.tobytes() == k.tobytes()
    ts = [dg.tensor(a, requires_grad=True) for a in (X, H, W, U)]
    h, ys = _scan_eager(*ts)
    assert first[0].tobytes() == h.detach().numpy().tobytes()
    assert first[1].tobytes() == ys.detach().numpy().tobytes()
    if with_grads:
        grads = dg.grad(h.sum() + ys.sum(), ts[1:])
        for g, d in zip(first[2:], grads):
            assert g.tobytes() == d.numpy().tobytes()
    assert not np.shares_memory(first[0], second[0])
    source = [f.source for L in _loops(fn) for f in L._generated._fns.values()][0]
    # forward only: the carry's kernel writes into the loop's two buffers; with gradients every
    # step's carry is kept, so it is never overwritten
    assert ("_P0(_B0, t, xp" in source) is (not with_grads)


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_while_loop_reuses_carry_buffers_bitwise(n):
    with sg.Graph():
        h0 = sg.placeholder((4,), "float64", name="h0")
        W = sg.placeholder((4, 4), "float64", name="W")
        k = sg.placeholder((), "int64", name="n")
        c, v = sg.while_loop(lambda c, v: c < k, lambda c, v: (c + 1, (v @ W).tanh()), (sg.constant(np.int64(0)), h0))
        fn = sg.compile([c, v], optimize=False)
    H, W = RNG.standard_normal(4), RNG.standard_normal((4, 4)) * 0.5
    got = fn(H, W, np.int64(n))
    keep = np.array(got[1], copy=True)
    fn(H * 2.0, W, np.int64(n))
    assert got[1].tobytes() == keep.tobytes()
    v = dg.tensor(H)
    for _ in range(n):
        v = (v @ dg.tensor(W)).tanh()
    assert int(got[0]) == n and got[1].tobytes() == v.numpy().tobytes()


def test_generated_loop_follows_rebound_kernels():
    """``shared_ops.instrument`` swaps every kernel: the generated loop is made again and its
    kernels are counted (one tanh a step), then made again when instrumentation ends."""
    from shared_ops import instrument

    fn = _scan_graph(False)
    X, H, W, U = RNG.standard_normal((3, 3)), RNG.standard_normal(4), RNG.standard_normal((4, 4)), RNG.standard_normal((3, 4))
    a = fn(X, H, W, U)
    loop = _loops(fn)[0]
    fn(X[:2], H, W, U)  # another length: the same generated function
    assert len(loop._generated._fns) == 1
    with instrument() as stats:
        b = fn(X, H, W, U)
    assert stats.per_op["tanh"].calls == 3
    assert len(loop._generated._fns) == 2
    c = fn(X, H, W, U)
    assert all(x.tobytes() == y.tobytes() == z.tobytes() for x, y, z in zip(a, b, c))


def test_regions_inside_bodies_reach_wait_compiled_and_use_tier():
    fn = _scan_graph(True, optimize=True)
    body_regions = [r for L in _loops(fn) for b in L.bodies.values() if b.fn is not None for r in b.fn.regions()]
    assert body_regions, "the scan body's add+tanh should be one fused region"
    assert all(any(r is k for k in fn.regions()) for r in body_regions)
    assert fn.wait_compiled(timeout=120)
    X, H, W, U = RNG.standard_normal((4, 3)), RNG.standard_normal(4), RNG.standard_normal((4, 4)) * 0.5, RNG.standard_normal((3, 4))
    fn.use_tier("numpy")
    a = fn(X, H, W, U)
    assert {r.tier for r in body_regions} == {"numpy"}
    fn.use_tier("numba")
    b = fn(X, H, W, U)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b))
    fn.report()  # a body's regions are listed in its own report, not under the outer nodes


def test_last_step_lacking_a_carry_term_seeds_the_step_before_by_key():
    """The final carry is discarded, so the last step's carry has no term from ``h * 0.5``
    while the others have: the step before takes the last step's terms by their keys (the
    inner scan's list of terms stays a list) and -0.0 for the missing one, as dyngraph sums."""
    from graphcompare.controlflow import scan

    def model(F, xs, c):
        def body(h, x):
            a = (h * c + x).tanh()
            _, a2 = scan(F, lambda g, e: ((g * e + h[0] * 0.5).tanh(), g + e), c[0] * 0.5, a)
            return a2 * 0.5 + h * 0.5, a2 * c
        return scan(F, body, c * 0.5, xs)[1]

    r = np.random.default_rng(3)
    with sg.Graph():
        ps = [sg.placeholder((None, 5, 1), "float64"), sg.placeholder((5, 1), "float64"), sg.placeholder((None, 5, 1), "float64")]
        fn = sg.compile(sg.gradients((model(sg, *ps[:2]) * ps[2]).sum(), ps[:2]), optimize=False)
    for T in (2, 3, 2, 3, 2, 3):
        V, c, W = r.standard_normal((T, 5, 1)), r.standard_normal((5, 1)), r.standard_normal((T, 5, 1))
        ts = [dg.tensor(V, requires_grad=True), dg.tensor(c, requires_grad=True)]
        (model(dg, *ts) * dg.tensor(W)).sum().backward()
        for got, t in zip(fn(V, c, W), ts):
            assert got.tobytes() == t.grad.numpy().tobytes()


def test_no_buffer_reuse_when_a_carry_may_view_another():
    """``b`` carries a view of the previous ``a``: overwriting ``a``'s old buffer would change
    ``b`` under the step that reads it, so this loop allocates every carry."""
    with sg.Graph():
        a0 = sg.placeholder((6,), "float64", name="a0")
        b0 = sg.placeholder((2, 3), "float64", name="b0")
        xs = sg.placeholder((None, 6), "float64", name="xs")
        (aT, bT), _ = sg.scan(lambda c, x: (((c[0] + x).tanh(), c[0].reshape((2, 3))), None), (a0, b0), xs)
        fn = sg.compile([aT, bT, (aT.reshape((2, 3)) * bT).sum()], optimize=False)
    A, B, X = RNG.standard_normal(6), RNG.standard_normal((2, 3)), RNG.standard_normal((5, 6))
    a, b = A, B
    for x in X:
        a, b = np.tanh(a + x), a.reshape((2, 3))
    got = fn(A, B, X)
    assert got[0].tobytes() == a.tobytes() and got[1].tobytes() == b.tobytes()
    source = [f.source for L in _loops(fn) for f in L._generated._fns.values()][0]
    assert "_P0" not in source
