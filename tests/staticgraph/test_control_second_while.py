"""Second order through a bounded sg.while_loop (``control.second_while``) and through a scan
whose body holds control flow (``second_loop.replay`` of nested cond/while_loop/scan): the
gradient of the gradient, against PyTorch's double backward through the same Python loop
(float64), for several step counts of one compiled graph, and against finite differences of
the first-order gradient."""

import numpy as np
import pytest
import torch

import staticgraph as sg
from shared_ops.testing import check_directional

RNG = np.random.default_rng(1516)
BOUND = 4


def _body(h, W, c):
    return (h @ W).tanh() * c + h * 0.5


def _static_while(optimize, bound=BOUND):
    with sg.Graph():
        W = sg.placeholder((3, 3), "float64", name="W")
        h0 = sg.placeholder((3,), "float64", name="h0")
        c = sg.placeholder((), "float64", name="c")
        n = sg.placeholder((), "int64", name="n")
        _, h = sg.while_loop(lambda i, h: i < n, lambda i, h: (i + 1, _body(h, W, c)),
                             (sg.constant(np.int64(0)), h0), maximum_iterations=bound)
        loss = (h * h).sum()
        dW, dh0, dc = sg.gradients(loss, [W, h0, c])
        second = (dW * dW).sum() + (dh0 * dh0).sum() + dc * dc
        gg = sg.gradients(second, [W, h0, c])
        return sg.compile([loss, dW, dh0, dc, second, *gg], inputs=[W, h0, c, n], optimize=optimize)


def _torch_while(arrays, steps):
    W, h0, c = ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    h = h0
    for _ in range(steps):
        h = _body(h, W, c)
    loss = (h * h).sum()
    g = torch.autograd.grad(loss, ts, create_graph=True, allow_unused=True, materialize_grads=True)
    second = (g[0] * g[0]).sum() + (g[1] * g[1]).sum() + g[2] * g[2]
    gg = torch.autograd.grad(second, ts, allow_unused=True, materialize_grads=True)
    return [loss.detach().numpy()] + [d.detach().numpy() for d in g] + [second.detach().numpy()] + [d.numpy() for d in gg]


def _arrays():
    return [RNG.standard_normal((3, 3)) * 0.6, RNG.standard_normal(3), np.float64(RNG.uniform(0.5, 1.5))]


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "optimized"])
def fn(request):
    return _static_while(request.param)


@pytest.mark.parametrize("n", [0, 1, 2, BOUND, BOUND + 3])
def test_second_order_through_a_bounded_while_loop_against_torch(fn, n):
    arrays = _arrays()
    got = fn(*arrays, np.int64(n))
    want = _torch_while(arrays, min(n, BOUND))  # the bound stops the loop, as a break would
    names = ["loss", "dW", "dh0", "dc", "second", "gg_W", "gg_h0", "gg_c"]
    for name, a, e in zip(names, got, want):
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-11, err_msg=name)


def test_second_order_through_a_bounded_while_loop_against_finite_differences(fn):
    arrays = _arrays()
    n = np.int64(3)

    def second(W, h0, c):
        return float(fn(W, h0, np.float64(c), n)[4])

    got = fn(*arrays, n)
    check_directional(second, arrays, got[5:8], directions=3, rtol=1e-6, what="|dW|^2 + |dh0|^2 + dc^2")


def test_maximum_iterations_bounds_the_steps_and_survives_save_load(tmp_path):
    fn = _static_while(False, bound=2)
    arrays = _arrays()
    sg.save(fn, tmp_path / "w.json")
    loaded = sg.load(tmp_path / "w.json")
    for n in (1, 2, 5):
        want = _torch_while(arrays, min(n, 2))
        for a, b, e in zip(fn(*arrays, np.int64(n)), loaded(*arrays, np.int64(n)), want):
            np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-11)
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


@pytest.mark.parametrize("bad", [-1, 2.5, True, "3"])
def test_maximum_iterations_must_be_a_non_negative_int(bad):
    with sg.Graph():
        x = sg.placeholder((), "float64", name="x")
        with pytest.raises(sg.GraphError, match=r"(?s)maximum_iterations must be None or a Python int >= 0.*test_control_second_while"):
            sg.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, x, maximum_iterations=bad)


def _nested_step(kind, h, x, W):
    """One step of an RNN whose body holds control flow, written once for both libraries."""
    static = isinstance(h, sg.Node)
    if kind == "cond":
        if static:
            return sg.cond(x.sum() > 0, lambda v: (v @ W).tanh(), lambda v: v * W.sum(), h + x)
        v = h + x
        return (v @ W).tanh() if bool(x.sum() > 0) else v * W.sum()
    if kind == "scan":  # an inner scan over the elements of x, capturing h
        if static:
            g, _ = sg.scan(lambda g, e: ((g * e + h).sin(), None), h, x)
            return (g @ W).tanh()
        g = h
        for e in x:
            g = (g * e + h).sin()
        return (g @ W).tanh()
    # a bounded inner while: at most 2 steps while the sum stays small
    if static:
        _, g = sg.while_loop(lambda i, g: g.sum() < 5.0, lambda i, g: (i + 1, (g @ W).tanh() + x),
                             (sg.constant(np.int64(0)), h), maximum_iterations=2)
        return g
    g = h
    for _ in range(2):
        if not bool(g.sum() < 5.0):
            break
        g = (g @ W).tanh() + x
    return g


@pytest.mark.parametrize("kind", ["cond", "scan", "while"])
def test_second_order_through_a_scan_with_control_flow_in_its_body(kind):
    T = 3
    arrays = [RNG.standard_normal((T, 3)), RNG.standard_normal(3), RNG.standard_normal((3, 3)) * 0.6]
    with sg.Graph():
        xs = sg.placeholder((None, 3), "float64", name="xs")
        h0 = sg.placeholder((3,), "float64", name="h0")
        W = sg.placeholder((3, 3), "float64", name="W")
        hT, _ = sg.scan(lambda h, x: (_nested_step(kind, h, x, W), None), h0, xs)
        dW, dh0 = sg.gradients((hT * hT).sum(), [W, h0])
        gg = sg.gradients((dW * dW).sum() + (dh0 * dh0).sum(), [xs, h0, W])
        got = sg.compile([dW, dh0, *gg], inputs=[xs, h0, W], optimize=False)(*arrays)
    xs_t, h0_t, W_t = ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    h = h0_t
    for t in range(T):
        h = _nested_step(kind, h, xs_t[t], W_t)
    g = torch.autograd.grad((h * h).sum(), [W_t, h0_t], create_graph=True)
    want = [d.detach().numpy() for d in g]
    want += [d.numpy() for d in torch.autograd.grad((g[0] * g[0]).sum() + (g[1] * g[1]).sum(), ts)]
    for name, a, e in zip(["dW", "dh0", "gg_xs", "gg_h0", "gg_W"], got, want):
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-11, err_msg=f"{kind}: {name}")


@pytest.mark.parametrize("pred", [True, False])
def test_second_order_through_a_cond_whose_branches_share_a_closure(pred):
    # both branches capture W: the first-order gradient hands W's terms of either branch back
    # as one list, and the second order must seed the taken branch's own capture with it
    arrays = [RNG.standard_normal(3), RNG.standard_normal((3, 3)) * 0.6]
    with sg.Graph():
        h0 = sg.placeholder((3,), "float64", name="h0")
        W = sg.placeholder((3, 3), "float64", name="W")
        p = sg.placeholder((), "bool", name="p")
        h = sg.cond(p, lambda v: (v @ W).tanh(), lambda v: v * W.sum(), h0)
        dW, dh0 = sg.gradients((h * h).sum(), [W, h0])
        gg = sg.gradients((dW * dW).sum() + (dh0 * dh0).sum(), [h0, W])
        got = sg.compile([dW, dh0, *gg], inputs=[h0, W, p], optimize=False)(*arrays, np.bool_(pred))
    h0_t, W_t = ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    h = (h0_t @ W_t).tanh() if pred else h0_t * W_t.sum()
    g = torch.autograd.grad((h * h).sum(), [W_t, h0_t], create_graph=True)
    want = [d.detach().numpy() for d in g] + [d.numpy() for d in torch.autograd.grad((g[0] * g[0]).sum() + (g[1] * g[1]).sum(), ts)]
    for name, a, e in zip(["dW", "dh0", "gg_h0", "gg_W"], got, want):
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-11, err_msg=name)


def test_second_order_through_a_bounded_while_loop_with_a_cond_in_its_body():
    arrays = [RNG.standard_normal((3, 3)) * 0.6, RNG.standard_normal(3)]

    def step(h, W, static):
        if static:
            return sg.cond(h.sum() > 0, lambda v: (v @ W).tanh(), lambda v: v * W.sum() * 0.3, h)
        return (h @ W).tanh() if bool(h.sum() > 0) else h * W.sum() * 0.3

    with sg.Graph():
        W = sg.placeholder((3, 3), "float64", name="W")
        h0 = sg.placeholder((3,), "float64", name="h0")
        _, h = sg.while_loop(lambda i, h: i < 5, lambda i, h: (i + 1, step(h, W, True)),
                             (sg.constant(np.int64(0)), h0), maximum_iterations=3)
        dW, dh0 = sg.gradients((h * h).sum(), [W, h0])
        gg = sg.gradients((dW * dW).sum() + (dh0 * dh0).sum(), [W, h0])
        got = sg.compile([dW, dh0, *gg], inputs=[W, h0], optimize=False)(*arrays)
    W_t, h0_t = ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    h = h0_t
    for _ in range(3):
        h = step(h, W_t, False)
    g = torch.autograd.grad((h * h).sum(), ts, create_graph=True)
    want = [d.detach().numpy() for d in g] + [d.numpy() for d in torch.autograd.grad((g[0] * g[0]).sum() + (g[1] * g[1]).sum(), ts)]
    for name, a, e in zip(["dW", "dh0", "gg_W", "gg_h0"], got, want):
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-11, err_msg=name)
