"""sg.gradients: the shared VJP rules run symbolically, summed in consumer order."""

import sys

import numpy as np

import staticgraph as sg
from shared_ops import instrument


def _run(outputs, *arrays):
    return sg.compile(outputs, optimize=False)(*arrays)


def test_unconnected_inputs_get_none_and_structure_is_kept():
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        z = sg.placeholder((3,), name="z")
        y = (x * x).sum()
        assert sg.gradients(y, [x, z])[1] is None
        assert isinstance(sg.gradients(y, (x, z)), tuple)
        assert sg.gradients(y, x).shape == (3,)


def test_contributions_summed_by_one_add_n_in_consumer_order():
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        a = x * 3.0        # consumer 1 of x
        b = x.exp()        # consumer 2
        y = (a + b + x).sum()   # consumer 3 (the add)
        gx = sg.gradients(y, x)
    assert gx.op == "add_n"
    t_mul, t_exp, t_add = gx.inputs
    # in the creation order of x's consumers (mul, exp, add), not of the terms themselves:
    # the terms were created in another order (the walk visits later consumers first)
    assert t_mul.op == "mul" and any(i.op == "constant" for i in t_mul.inputs)
    assert t_exp.op == "mul" and any(i is b for i in t_exp.inputs)
    assert t_add.op == "broadcast_to" and t_add.id < t_exp.id < t_mul.id  # the walk made them in reverse
    xs = np.array([0.5, -1.0, 2.0], np.float32)
    out = _run(gx, xs)
    assert np.allclose(out, 3.0 + np.exp(xs) + 1.0)


def test_only_inputs_on_a_path_to_xs_get_gradient_work():
    with sg.Graph() as g:
        x = sg.placeholder((3, 4), name="x")
        w = sg.placeholder((4, 2), name="w")
        y = (x @ w).sum()
        before = len(g)
        gw = sg.gradients(y, w)
        made = [n.op for n in g.nodes[before:]]
    # d/dw needs x^T @ g (matmul's rule spells it matmul_tn); nothing computes d/dx (g @ w^T)
    products = [op for op in made if op in ("matmul", "matmul_nt", "matmul_tn")]
    assert products == ["matmul_tn"]
    assert gw.shape == (4, 2)


def test_second_order_gradients():
    with sg.Graph():
        x = sg.placeholder((4,), "float64", name="x")
        y = (x.tanh() * x).sum()
        gx = sg.gradients(y, x)
        hx = sg.gradients(gx.sum(), x)
    v = np.array([0.1, 0.5, -1.0, 2.0])
    t = np.tanh(v)
    g_expected = t + v * (1 - t * t)
    h_expected = 2 * (1 - t * t) - 2 * v * t * (1 - t * t)
    g_out, h_out = _run([gx, hx], v)
    assert np.allclose(g_out, g_expected, rtol=1e-12)
    assert np.allclose(h_out, h_expected, rtol=1e-12)


def test_gradient_of_a_gradient_graph_can_be_compiled_without_pruning_surprises():
    with sg.Graph():
        x = sg.placeholder((None,), "float64", name="x")
        y = (x * x * x).sum()
        (gx,) = sg.gradients(y, [x])
        (hx,) = sg.gradients(gx.sum(), [x])
    v = np.array([1.0, 2.0, -3.0])
    assert np.allclose(_run(hx, v), 6 * v)


def test_grad_ys_scales_the_seed():
    with sg.Graph():
        x = sg.placeholder((3,), "float64", name="x")
        y = x * x
        gx = sg.gradients(y, x, grad_ys=np.array([1.0, 2.0, 3.0]))
    assert np.allclose(_run(gx, np.ones(3)), [2.0, 4.0, 6.0])


def test_integer_inputs_and_comparisons_get_no_gradient():
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        mask = x > 0.0
        y = sg.where(mask, x * 2.0, x * 0.5).sum()
        gx, gm = sg.gradients(y, [x, mask])
    assert gm is None
    assert np.array_equal(_run(gx, np.array([1.0, -1.0, 2.0], np.float32)), np.array([2.0, 0.5, 2.0], np.float32))


def test_twenty_thousand_nodes_declare_differentiate_and_compile_without_recursion():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(250)
    try:
        with sg.Graph() as g:
            x = sg.placeholder((2,), "float64", name="x")
            h = x
            for i in range(10_000):
                h = h * 1.0001 if i % 2 else h + 0.001
            y = h.sum()
            gx = sg.gradients(y, x)
            assert len(g) >= 20_000
            fn = sg.compile([y, gx], optimize=False)
            out_y, out_g = fn(np.array([1.0, 2.0]))
    finally:
        sys.setrecursionlimit(old)
    assert np.isfinite(out_y) and np.allclose(out_g, 1.0001 ** 5000)


def test_the_executable_runs_each_gradient_kernel_through_the_dispatch_point():
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        y = (x * x).sum()
        gx = sg.gradients(y, x)
    fn = sg.compile([y, gx], optimize=False)
    fn(np.ones(3, np.float32))
    with instrument() as stats:
        fn(np.ones(3, np.float32))
    ops = {k: v.calls for k, v in stats.per_op.items()}
    assert ops["mul"] >= 3 and ops["sum"] == 1 and stats.calls == len(fn.executable())
    with instrument() as stats2:
        pass
    fn(np.ones(3, np.float32))  # kernels swapped back: runs without counting
    assert stats2.calls == 0


def test_free_dims_broadcast_at_run_time_are_summed_back():
    """(?, 3) * (?, 3) fed (1, 3) and (5, 3): equal static shapes, a broadcast at run time."""
    with sg.Graph():
        x = sg.placeholder((None, 3), "float64", name="x")
        y = sg.placeholder((None, 3), "float64", name="y")
        gx, gy = sg.gradients((x * y).sum(), [x, y])
    fn = sg.compile([gx, gy], optimize=False)
    b = np.arange(15.0).reshape(5, 3)
    out_x, out_y = fn(np.ones((1, 3)), b)
    assert out_x.shape == (1, 3) and np.array_equal(out_x, b.sum(axis=0, keepdims=True))
    assert out_y.shape == (5, 3) and np.array_equal(out_y, np.ones((5, 3)))
    same_x, same_y = fn(np.full((5, 3), 2.0), b)
    assert np.array_equal(same_x, b) and np.array_equal(same_y, np.full((5, 3), 2.0))
