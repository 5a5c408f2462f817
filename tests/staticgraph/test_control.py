"""sg.cond, sg.while_loop and sg.scan: values and gradients against the same Python control
flow run by PyTorch (float64, allclose) and by dyngraph (optimize=False: bytes), for several
lengths of one compiled graph."""

import numpy as np
import pytest
import torch

import dyngraph as dg
import staticgraph as sg
import control_models as M

RNG = np.random.default_rng(20261203)


def _bytes_equal(a, b):
    return np.asarray(a).tobytes() == np.asarray(b).tobytes() and np.asarray(a).shape == np.asarray(b).shape


def _torch_grads(fn, arrays, int_args=()):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    loss = fn(*ts, *int_args)
    return loss.item(), [g.numpy() for g in torch.autograd.grad(loss, ts)]


def _dyn_grads(fn, arrays, int_args=()):
    ts = [dg.tensor(a, requires_grad=True) for a in arrays]
    loss = fn(*ts, *int_args)
    return loss.item(), [g.numpy() for g in dg.grad(loss, ts)]


def _scan_fn(optimize):
    with sg.Graph():
        xs = sg.placeholder((None, 2), "float64", name="xs")
        h0, W, U, b = (sg.placeholder(s, "float64", name=n) for s, n in [((3,), "h0"), ((3, 3), "W"), ((2, 3), "U"), ((3,), "b")])
        loss = M.scan_static(xs, h0, W, U, b)
        grads = sg.gradients(loss, [xs, h0, W, U, b])
        return sg.compile([loss, *grads], inputs=[xs, h0, W, U, b], optimize=optimize)


@pytest.fixture(scope="module")
def scan_plain():
    return _scan_fn(False)


@pytest.mark.parametrize("length", [1, 2, 3, 7])
def test_scan_bitwise_dyngraph_and_torch(scan_plain, length):
    arrays = [RNG.standard_normal((length, 2)), RNG.standard_normal(3), RNG.standard_normal((3, 3)) * 0.5,
              RNG.standard_normal((2, 3)), RNG.standard_normal(3)]
    loss, *grads = scan_plain(*arrays)
    d_loss, d_grads = _dyn_grads(lambda *a: M.scan_python(*a, dg.stack), arrays)
    t_loss, t_grads = _torch_grads(lambda *a: M.scan_python(*a, torch.stack), arrays)
    assert _bytes_equal(loss, d_loss)
    for name, g, d, t in zip(["xs", "h0", "W", "U", "b"], grads, d_grads, t_grads):
        assert _bytes_equal(g, d), name
        np.testing.assert_allclose(g, t, rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(loss, t_loss, rtol=1e-12)
    assert scan_plain.calls >= 1


def test_scan_one_graph_every_length_and_optimized_within_tolerance(scan_plain):
    fast = _scan_fn(True)
    for length in (0, 4, 9):
        arrays = [RNG.standard_normal((length, 2)), RNG.standard_normal(3), RNG.standard_normal((3, 3)) * 0.5,
                  RNG.standard_normal((2, 3)), RNG.standard_normal(3)]
        for a, b in zip(scan_plain(*arrays), fast(*arrays)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert "scan" in fast.report() and "scan_grad" in fast.report()


@pytest.mark.parametrize("n", [0, 1, 4])
def test_while_loop_bitwise_dyngraph_and_torch(n):
    with sg.Graph():
        x0 = sg.placeholder((3,), "float64", name="x0")
        W = sg.placeholder((3, 3), "float64", name="W")
        count = sg.placeholder((), "int64", name="n")
        loss = M.while_static(x0, count, W)
        fn = sg.compile([loss, *sg.gradients(loss, [x0, W])], inputs=[x0, W, count], optimize=False)
    arrays = [RNG.standard_normal(3), RNG.standard_normal((3, 3)) * 0.5]
    loss, *grads = fn(*arrays, np.int64(n))
    d_loss, d_grads = _dyn_grads(M.while_python, arrays, (n,))
    t_loss, t_grads = _torch_grads(M.while_python, arrays, (n,))
    assert _bytes_equal(loss, d_loss)
    for g, d, t in zip(grads, d_grads, t_grads):
        assert _bytes_equal(g, d)
        np.testing.assert_allclose(g, t, rtol=1e-10, atol=1e-12)


def test_cond_runs_only_the_taken_branch_bitwise():
    with sg.Graph():
        x = sg.placeholder((3,), "float64", name="x")
        W = sg.placeholder((3, 3), "float64", name="W")
        loss = M.cond_static(x, W)
        fn = sg.compile([loss, *sg.gradients(loss, [x, W])], optimize=False)
    for sign in (1.0, -1.0):
        arrays = [np.abs(RNG.standard_normal(3)) * sign, RNG.standard_normal((3, 3))]
        loss, *grads = fn(*arrays)
        d_loss, d_grads = _dyn_grads(M.cond_python, arrays)
        t_loss, t_grads = _torch_grads(M.cond_python, arrays)
        assert _bytes_equal(loss, d_loss)
        for g, d, t in zip(grads, d_grads, t_grads):
            assert _bytes_equal(g, d)
            np.testing.assert_allclose(g, t, rtol=1e-10, atol=1e-12)


def test_cond_untaken_branch_never_runs():
    with sg.Graph():
        x = sg.placeholder((), "float64", name="x")
        y = sg.cond(x > 0, lambda a: a.sqrt(), lambda a: (-a).sqrt() * -1.0, x)
        fn = sg.compile(y)
    with np.errstate(invalid="raise"):  # sqrt of a negative number would raise here
        assert fn(np.float64(4.0)) == 2.0
        assert fn(np.float64(-9.0)) == -3.0


def test_nested_scan_cond_with_closures_bitwise():
    def static(xs, h0, W, U):
        def outer(h, x):
            def inner(hh, xr):
                a = (hh @ W + xr * U).tanh()
                b = sg.cond(a.sum() > 0, lambda v: v * W[1], lambda v: v - U, a)
                return b + hh * 0.5, (b * U).sum()
            hN, ys = sg.scan(inner, h, x)
            return hN, ys
        hT, Y = sg.scan(outer, h0, xs)
        return hT.sum() + (Y * Y).sum() + (W * U).sum()

    def python(xs, h0, W, U, stack):
        h, Ys = h0, []
        for t in range(xs.shape[0]):
            ys = []
            for r in range(xs.shape[1]):
                a = (h @ W + xs[t][r] * U).tanh()
                b = a * W[1] if a.sum().item() > 0 else a - U
                h = b + h * 0.5
                ys.append((b * U).sum())
            Ys.append(stack(ys))
        return h.sum() + (stack(Ys) ** 2).sum() + (W * U).sum()

    with sg.Graph():
        ps = [sg.placeholder(s, "float64", name=n) for s, n in [((None, 4, 3), "xs"), ((3,), "h0"), ((3, 3), "W"), ((3,), "U")]]
        loss = static(*ps)
        fn = sg.compile([loss, *sg.gradients(loss, ps)], optimize=False)
    for length in (1, 3):
        arrays = [RNG.standard_normal((length, 4, 3)), RNG.standard_normal(3), RNG.standard_normal((3, 3)) * 0.5,
                  RNG.standard_normal(3) * 0.5]
        loss, *grads = fn(*arrays)
        d_loss, d_grads = _dyn_grads(lambda *a: python(*a, dg.stack), arrays)
        _, t_grads = _torch_grads(lambda *a: python(*a, torch.stack), arrays)
        assert _bytes_equal(loss, d_loss)
        for g, d, t in zip(grads, d_grads, t_grads):
            assert _bytes_equal(g, d)
            np.testing.assert_allclose(g, t, rtol=1e-10, atol=1e-12)


def test_scan_tuples_of_carries_and_xs():
    with sg.Graph():
        a = sg.placeholder((None, 2), "float64", name="a")
        b = sg.placeholder((None,), "float64", name="b")
        init = (sg.constant(np.zeros(2)), sg.constant(np.array(1.0)))
        (s, p), (ys, zs) = sg.scan(lambda c, x: ((c[0] + x[0], c[1] * x[1]), (c[0] * x[1], c[1] + 0.0)), init, (a, b))
        fn = sg.compile([s, p, ys, zs])
    A, B = RNG.standard_normal((5, 2)), RNG.standard_normal(5)
    s_, p_, ys_, zs_ = fn(A, B)
    np.testing.assert_allclose(s_, A.sum(0))
    np.testing.assert_allclose(p_, np.prod(B))
    assert ys_.shape == (5, 2) and zs_.shape == (5,)
    np.testing.assert_allclose(zs_, np.concatenate([[1.0], np.cumprod(B)[:-1]]))


def test_while_loop_data_dependent_count_and_variables():
    with sg.Graph():
        x = sg.placeholder((), "float64", name="x")
        scale = sg.variable(np.array(2.0), name="scale")
        i, y = sg.while_loop(lambda i, y: y < 100.0, lambda i, y: (i + 1, y * scale), (sg.constant(np.int64(0)), x))
        g = sg.gradients(y, [x, scale])
        fn = sg.compile([i, y, *g])
    i_, y_, gx, gs = fn(np.float64(3.0))
    assert i_ == 6 and y_ == 192.0 and gx == 64.0 and gs == 6 * 3.0 * 2.0 ** 5


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_second_order_through_cond_against_torch(sign):
    with sg.Graph():
        x = sg.placeholder((3,), "float64", name="x")
        W = sg.placeholder((3, 3), "float64", name="W")
        z = sg.cond(x.sum() > 0, lambda a: ((a @ W).tanh() * a).sum(), lambda a: (a * a * W[0]).sum(), x)
        gx = sg.gradients(z, x)
        fn = sg.compile([gx, *sg.gradients((gx * gx).sum(), [x, W])], optimize=False)
    X, Wv = np.abs(RNG.standard_normal(3)) * sign, RNG.standard_normal((3, 3))
    gx_, ggx, ggW = fn(X, Wv)
    xt, Wt = torch.tensor(X, requires_grad=True), torch.tensor(Wv, requires_grad=True)
    zt = ((xt @ Wt).tanh() * xt).sum() if sign > 0 else (xt * xt * Wt[0]).sum()
    (g,) = torch.autograd.grad(zt, xt, create_graph=True)
    t_x, t_W = torch.autograd.grad((g * g).sum(), [xt, Wt])
    np.testing.assert_allclose(gx_, g.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ggx, t_x.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ggW, t_W.numpy(), rtol=1e-10, atol=1e-12)


def test_second_order_through_an_unbounded_while_loop_is_a_clear_error():
    with sg.Graph():
        x = sg.placeholder((3,), "float64", name="x")
        W = sg.placeholder((3, 3), "float64", name="W")
        _, hT = sg.while_loop(lambda i, h: i < 3, lambda i, h: (i + 1, (h @ W).tanh()), (sg.constant(np.int64(0)), x))
        gW = sg.gradients(hT.sum(), W)
        with pytest.raises(sg.GraphError, match="needs a bound on its steps: declare it with maximum_iterations=N"):
            sg.gradients((gW * gW).sum(), W)
