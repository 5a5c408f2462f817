"""A control node that hands a value through unchanged (a while_loop running no step, a branch
returning its operand) while that value has other consumers: dyngraph sees one tensor and sums
every term in its consumers' creation order; staticgraph places the handed-through terms at
those consumers' keys at run time (``backward.Placed``). Bitwise with ``optimize=False``, for
every count of one compiled graph, against torch within tolerance, and through save/load."""

import numpy as np
import pytest
import torch

import dyngraph as dg
import staticgraph as sg

RNG = np.random.default_rng(15)
X = RNG.standard_normal(300)  # long enough that a different summation order shows in the bits


def _while_model(F, x, k, loop):
    a = x * 1.3
    y = loop(x, k)
    c = x.cos()
    b = y * 0.7  # created after c: dyngraph sums x's terms as a, c, b when y is x
    return (a + c + b).sum() + (y * x).sum()


def _static_while():
    with sg.Graph():
        x = sg.placeholder((300,), "float64", name="x")
        k = sg.placeholder((), "int64", name="k")

        def loop(v, n):
            return sg.while_loop(lambda i, v: i < n, lambda i, v: (i + 1, v.sin() * 1.1), (sg.constant(np.int64(0)), v))[1]

        loss = _while_model(sg, x, k, loop)
        return sg.compile([loss, sg.gradients(loss, [x])[0]], inputs=[x, k], optimize=False)


def _eager_while(lib, n):
    x = lib.tensor(X, requires_grad=True)

    def loop(v, n):
        for _ in range(n):
            v = v.sin() * 1.1
        return v

    loss = _while_model(lib, x, n, loop)
    g = (dg.grad if lib is dg else torch.autograd.grad)(loss, [x])[0]
    return g.detach().numpy()


@pytest.fixture(scope="module")
def static_while():
    return _static_while()


@pytest.mark.parametrize("n", [0, 1, 3])
def test_while_zero_steps_bitwise(static_while, n):
    g = static_while(X, np.int64(n))[1]
    assert g.tobytes() == _eager_while(dg, n).tobytes()
    np.testing.assert_allclose(g, _eager_while(torch, n), rtol=1e-12, atol=1e-12)


def _cond_model(x, pred, cond):
    a = x * 1.3
    y = cond(pred, x)
    c = x.cos()
    b = y * 0.7
    return (a + c + b).sum()


def _static_cond(identity_in: str):
    with sg.Graph():
        x = sg.placeholder((300,), "float64", name="x")
        q = sg.placeholder((), "bool", name="q")

        def cond(p, v):
            same, other = (lambda v: v), (lambda v: v.sin())
            return sg.cond(p, same, other, v) if identity_in == "true" else sg.cond(p, other, same, v)

        loss = _cond_model(x, q, cond)
        return sg.compile([loss, sg.gradients(loss, [x])[0]], inputs=[x, q], optimize=False)


def _eager_cond(lib, p, identity_in):
    x = lib.tensor(X, requires_grad=True)
    loss = _cond_model(x, p, lambda p, v: v if p == (identity_in == "true") else v.sin())
    g = (dg.grad if lib is dg else torch.autograd.grad)(loss, [x])[0]
    return g.detach().numpy()


@pytest.mark.parametrize("identity_in", ["true", "false"])
def test_cond_identity_branch_bitwise(identity_in, tmp_path):
    fn = _static_cond(identity_in)
    sg.save(fn, tmp_path / "f.sg")
    loaded = sg.load(tmp_path / "f.sg")
    for p in (True, False):
        g = fn(X, np.bool_(p))[1]
        assert g.tobytes() == _eager_cond(dg, p, identity_in).tobytes(), p
        assert loaded(X, np.bool_(p))[1].tobytes() == g.tobytes()
        np.testing.assert_allclose(g, _eager_cond(torch, p, identity_in), rtol=1e-12, atol=1e-12)


def test_identity_cond_inside_a_scan_body_bitwise():
    """The handed-through value is a body intermediate with other consumers in the body."""
    def body(F, h, x, W):
        a = (h * W + x).tanh()
        s = a.sin()
        z = F.cond(x.sum() > 0, lambda v: v, lambda v: v * W, a) if F is sg else (a if x.sum().item() > 0 else a * W)
        c = a.cos()
        return s * 0.25 + c * 0.3 + z * 0.5 + h * 0.5

    xs_v, h0_v, W_v = RNG.standard_normal((6, 40)), RNG.standard_normal(40), RNG.standard_normal(40)
    with sg.Graph():
        xs, h0, W = sg.placeholder((None, 40), "float64"), sg.placeholder((40,), "float64"), sg.placeholder((40,), "float64")
        hT, _ = sg.scan(lambda h, x: (body(sg, h, x, W), None), h0, xs)
        loss = (hT * hT).sum()
        fn = sg.compile([loss, *sg.gradients(loss, [xs, h0, W])], optimize=False)
    got = fn(xs_v, h0_v, W_v)
    ts = [dg.tensor(a, requires_grad=True) for a in (xs_v, h0_v, W_v)]
    h = ts[1]
    for t in range(6):
        h = body(dg, h, ts[0][t], ts[2])
    loss = (h * h).sum()
    for g, d in zip(got[1:], dg.grad(loss, ts)):
        assert g.tobytes() == d.detach().numpy().tobytes()


@pytest.mark.parametrize("T", [0, 2])
def test_scan_of_no_step_hands_the_carry_through_bitwise(T):
    def model(F, xs, x, scan):
        a = x * 1.3
        h = scan(x, xs)
        c = x.cos()
        return (a + c + h * 0.7).sum()

    xs_v = RNG.standard_normal((T, 300))
    with sg.Graph():
        xs, x = sg.placeholder((None, 300), "float64"), sg.placeholder((300,), "float64")
        loss = model(sg, xs, x, lambda h, xs: sg.scan(lambda h, e: ((h * e).sin(), None), h, xs)[0])
        fn = sg.compile([loss, sg.gradients(loss, [x])[0]], optimize=False)
    x_t = dg.tensor(X, requires_grad=True)

    def eager_scan(h, xs):
        for t in range(xs.shape[0]):
            h = (h * xs[t]).sin()
        return h

    d = dg.grad(model(dg, dg.tensor(xs_v), x_t, eager_scan), [x_t])[0]
    assert fn(xs_v, X)[1].tobytes() == d.detach().numpy().tobytes()


@pytest.mark.parametrize("kind", ["while", "cond_true", "cond_false"])
def test_handed_through_value_also_captured_bitwise(kind):
    """One outer value both handed through and captured by the body (its terms merged)."""
    from graphcompare import controlflow as CF

    def model(F, x):
        a = x * x
        if kind == "while":
            y = CF.while_model(F, x, x, 0)
        else:
            y = CF.cond_model(F, x, x, x, kind.split("_")[1])
        c = x.sin()
        return (a * 1.5).sum() + (y * 0.7).sum() + c.sum()

    with sg.Graph():
        x = sg.placeholder((300,), "float64")
        loss = model(sg, x)
        fn = sg.compile([loss, sg.gradients(loss, [x])[0]], optimize=False)
    for v in (np.abs(X), -np.abs(X)):  # both branches
        x_t = dg.tensor(v, requires_grad=True)
        d = dg.grad(model(dg, x_t), [x_t])[0]
        assert fn(v)[1].tobytes() == d.detach().numpy().tobytes()


@pytest.mark.parametrize("what", ["carry", "capture", "cond_in_cond"])
def test_handed_through_inside_a_loop_body_bitwise(what):
    """An identity branch on a body's *param* (the carry, a captured weight) or inside another
    cond: its handed-through terms are placed by the body's own keys before they leave it."""
    def body(F, h, x, w):
        v = h if what == "carry" else w
        a = v.sin()

        def same_or(fn, u):
            if what != "cond_in_cond":
                return F.cond(x.sum() > 0, lambda q: q, fn, u) if F is sg else (u if x.sum().item() > 0 else fn(u))
            inner = lambda q: (F.cond(x.sum() > 0, lambda z: z, lambda z: z * 3.0, q) if F is sg  # noqa: E731
                               else (q if x.sum().item() > 0 else q * 3.0))
            return F.cond(x[0] > -10.0, inner, fn, u) if F is sg else inner(u)

        z = same_or(lambda u: u * 2.0, v)
        c = v.cos()
        return (a * 0.3 + c * 0.2 + z * 0.5 + h * 0.4 + x).tanh()

    with sg.Graph():
        xs, h0, w = (sg.placeholder(s, "float64") for s in [(None, 30), (30,), (30,)])
        hT, _ = sg.scan(lambda h, x: (body(sg, h, x, w), None), h0, xs)
        loss = (hT * hT).sum() + (w * 0.1).sum()
        fn = sg.compile([loss, *sg.gradients(loss, [xs, h0, w])], optimize=False)
    for _ in range(4):
        xs_v, h0_v, w_v = RNG.standard_normal((4, 30)), RNG.standard_normal(30), RNG.standard_normal(30)
        xs_v[1] *= -1.0 if xs_v[1].sum() > 0 else 1.0  # both branches over the steps
        ts = [dg.tensor(a, requires_grad=True) for a in (xs_v, h0_v, w_v)]
        h = ts[1]
        for t in range(4):
            h = body(dg, h, ts[0][t], ts[2])
        loss = (h * h).sum() + (ts[2] * 0.1).sum()
        for name, g, d in zip(["xs", "h0", "w"], fn(xs_v, h0_v, w_v)[1:], dg.grad(loss, ts)):
            assert g.tobytes() == d.detach().numpy().tobytes(), name


def test_handed_through_terms_survive_the_memory_plan():
    """A loop of no step hands its final carry's terms back in a list that outlives the node;
    with memory planning on, the caller may reuse those terms' buffers after the node, so the
    list holds copies (and a one-term sum is a copy too). A program the random campaign found."""
    from graphcompare import controlflow as CF

    W = [0.7616121342493164, 0.7984911434141233, 1.3142257405942803]

    def model(F, x):
        v0 = CF.while_model(F, x, x, 2)
        v1 = F.where(x < v0, v0, x)
        v2 = F.softplus(x, beta=2.0)
        v3 = CF.while_model(F, x, v0, 0)
        outs = [v1, v2, v3]
        return outs, (v1 * W[0]).sum() + (v2 * W[1]).sum() + (v3 * W[2]).sum()

    v = np.array(1.7617180396718533)
    with sg.Graph():
        x = sg.placeholder((), "float64")
        outs, loss = model(sg, x)
        fn = sg.compile(outs + [sg.gradients(loss, x)], optimize=["memory"])
    xt = dg.tensor(v, requires_grad=True)
    d = dg.grad(model(dg, xt)[1], [xt])[0]
    assert np.asarray(fn(v)[-1]).tobytes() == d.detach().numpy().tobytes()
