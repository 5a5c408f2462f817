"""``passes.stack``: a loop gradient's per-step weight-gradient products formed after the loop
as one product over the stacked steps (``optimize=True``). Gradients of the rewritten loop
against PyTorch (float64), against the same loop unrolled and against ``optimize=False``
(float32, within the tolerance ``staticgraph.passes`` states), for several lengths of one
compiled function; loops whose terms are not of this form, or whose closure is also another
input, are left bit for bit as they were; second order still works; ``optimize=False`` is
still bitwise dyngraph's."""

import numpy as np
import pytest
import torch

import dyngraph as dg
import staticgraph as sg
from shared_ops import get_op
from staticgraph.passes import exact_passes, selected

RNG = np.random.default_rng(1519)
H, I, B = 5, 3, 4   # distinct sizes: a swapped axis cannot hide
NO_STACK = {"stack": False}


def close(got, want, dtype):
    """The optimised program's tolerance (``staticgraph.passes``): rtol 1e-4 (float32) or
    1e-9 (float64) of ``|want| + scale``, scale the largest magnitude compared."""
    rtol = 1e-4 if dtype == "float32" else 1e-9
    for k, (a, b) in enumerate(zip(got, want)):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        assert a.shape == b.shape, f"output {k}: shape {a.shape} != {b.shape}"
        scale = max(np.max(np.abs(b), initial=0.0), 1e-30)
        bad = np.abs(a - b) > rtol * (np.abs(b) + scale)
        assert not bad.any(), f"output {k}: max |diff| {np.max(np.abs(a - b))} at scale {scale}"


def stacked_lines(fn) -> list:
    return [ln.strip() for ln in fn.report().splitlines() if ln.strip().startswith("stack:")]


def torch_grads(step, arrays, wrt, T_loss):
    """PyTorch's gradients (float64) of ``T_loss(ts)`` w.r.t. ``ts[k] for k in wrt``."""
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    loss = T_loss(step, ts)
    grads = torch.autograd.grad(loss, [ts[k] for k in wrt], allow_unused=True, materialize_grads=True)
    return [loss.detach().numpy()] + [g.numpy() for g in grads]


# --------------------------------------------------------------------------- the cells

def mv_cell(W_h, W_x):  # the benchmark's matrix-vector RNN: h (H, 1), x (I, 1)
    return lambda h, x: ((W_x @ x + W_h @ h).tanh(), None)


def mv_scan(dtype, optimize):
    with sg.Graph():
        xs = sg.placeholder((None, I, 1), dtype, name="xs")
        h0 = sg.placeholder((H, 1), dtype, name="h0")
        W_h, W_x = sg.placeholder((H, H), dtype, name="W_h"), sg.placeholder((H, I), dtype, name="W_x")
        hT, _ = sg.scan(mv_cell(W_h, W_x), h0, xs)
        loss = (hT * hT).sum()
        return sg.compile([loss, *sg.gradients(loss, [xs, h0, W_h, W_x])], inputs=[xs, h0, W_h, W_x], optimize=optimize)


def mv_python(xs, h0, W_h, W_x, stack=None):
    h = h0
    for t in range(xs.shape[0]):
        h = (W_x @ xs[t] + W_h @ h).tanh()
    return (h * h).sum()


def mv_arrays(T, dtype="float64"):
    return [a.astype(dtype) for a in (RNG.standard_normal((T, I, 1)), RNG.standard_normal((H, 1)),
                                      RNG.standard_normal((H, H)) / np.sqrt(H), RNG.standard_normal((H, I)) / np.sqrt(I))]


@pytest.fixture(scope="module")
def mv64():
    return mv_scan("float64", True)


@pytest.mark.parametrize("T", [0, 1, 2, 3, 9])
def test_matrix_vector_rnn_against_torch(mv64, T):
    arrays = mv_arrays(T)
    want = torch_grads(None, arrays, [0, 1, 2, 3], lambda _, ts: mv_python(*ts))
    close(mv64(*arrays), want, "float64")


def test_matrix_vector_rnn_reports_both_weights_stacked(mv64):
    lines = stacked_lines(mv64)
    assert lines and lines[0].startswith("stack: 2 closure term(s)"), mv64.report()
    text = mv64.report()
    assert "matmul_nt of" in text and "carry0 (joined from the kept history)" in text and "xs0 (xs itself)" in text


@pytest.mark.parametrize("T", [1, 2, 7])
def test_matrix_vector_rnn_float32_against_plain_and_unrolled(T):
    arrays = mv_arrays(T, "float32")
    fn, plain = mv_scan("float32", True), mv_scan("float32", False)
    got, want = fn(*arrays), plain(*arrays)
    close(got, want, "float32")
    with sg.Graph():
        xs = [sg.placeholder((I, 1), "float32") for _ in range(T)]
        h0 = sg.placeholder((H, 1), "float32")
        W_h, W_x = sg.placeholder((H, H), "float32"), sg.placeholder((H, I), "float32")
        h = h0
        for x in xs:
            h = (W_x @ x + W_h @ h).tanh()
        loss = (h * h).sum()
        g = sg.gradients(loss, [h0, W_h, W_x])
        unrolled = sg.compile([loss, *g], inputs=[*xs, h0, W_h, W_x], optimize=True)
    u = unrolled(*arrays[0], *arrays[1:])
    close([got[0], *got[2:]], u, "float32")


def test_optimize_false_stays_bitwise_with_dyngraph():
    arrays = mv_arrays(6, "float32")
    got = mv_scan("float32", False)(*arrays)
    ts = [dg.tensor(a, requires_grad=True) for a in arrays]
    loss = mv_python(*ts)
    want = [loss.detach().numpy()] + [g.numpy() for g in dg.grad(loss, ts)]
    for a, b in zip(got, want):
        assert a.tobytes() == b.tobytes()


def test_the_switch_off_gives_the_plain_loop_gradient_bit_for_bit():
    arrays = mv_arrays(6, "float32")
    off = mv_scan("float32", NO_STACK)
    assert not stacked_lines(off) and stacked_lines(mv_scan("float32", ["stack"]))
    # with stack alone, only the rewritten weight gradients may move (by rounding)
    alone, plain = mv_scan("float32", ["stack"])(*arrays), mv_scan("float32", False)(*arrays)
    for k in (0, 1, 2):
        assert alone[k].tobytes() == plain[k].tobytes()
    close(alone[3:], plain[3:], "float32")


def test_stack_is_a_switch_the_checker_holds_to_the_tolerance():
    assert selected(True)["stack"] and not selected(False)["stack"]
    assert "stack" not in exact_passes() and "stack" not in exact_passes("cupy")


# --------------------------------------------------------------------------- batch RNN

def batch_cell(W, U, b):  # h (B, H), x (B, I): matmul_tn terms for W and U; b's term is a sum
    return lambda h, x: ((x @ W + h @ U + b).tanh(), h.sum(axis=1))


def test_batch_rnn_against_torch_and_the_bias_is_not_rewritten():
    with sg.Graph():
        xs = sg.placeholder((None, B, I), "float64")
        h0 = sg.placeholder((B, H), "float64")
        W, U, b = sg.placeholder((I, H), "float64"), sg.placeholder((H, H), "float64"), sg.placeholder((H,), "float64")
        hT, ys = sg.scan(batch_cell(W, U, b), h0, xs)
        loss = (hT * hT).sum() + (ys * ys).sum()
        fn = sg.compile([loss, *sg.gradients(loss, [xs, h0, W, U, b])], inputs=[xs, h0, W, U, b], optimize=True)
    assert stacked_lines(fn)[0].startswith("stack: 2 closure term(s)"), fn.report()
    assert "matmul_tn" in fn.report()

    def python(step, ts):
        xs, h, W, U, b = ts
        loss = 0
        for t in range(xs.shape[0]):
            loss = loss + (h.sum(axis=1) ** 2).sum()
            h = (xs[t] @ W + h @ U + b).tanh()
        return loss + (h * h).sum()

    for T in (1, 2, 6):
        arrays = [RNG.standard_normal((T, B, I)), RNG.standard_normal((B, H)), RNG.standard_normal((I, H)) / 2,
                  RNG.standard_normal((H, H)) / 3, RNG.standard_normal(H)]
        close(fn(*arrays), torch_grads(None, arrays, range(5), python), "float64")


# --------------------------------------------------------------------------- other shapes

def test_two_weights_through_ys_and_a_weight_used_outside_the_loop():
    """``V`` maps the carry to ys (its term's seed is the ys cotangent); ``A`` is also used
    after the loop, so its gradient adds a term outside the loop to the stacked one."""
    with sg.Graph():
        xs = sg.placeholder((None, H, 1), "float64")
        h0 = sg.placeholder((H, 1), "float64")
        A, V = sg.placeholder((H, H), "float64"), sg.placeholder((I, H), "float64")
        hT, ys = sg.scan(lambda h, x: ((A @ h + x).tanh(), V @ h), h0, xs)
        loss = (ys * ys).sum() + (A @ hT).sum()
        fn = sg.compile([loss, *sg.gradients(loss, [h0, A, V])], inputs=[xs, h0, A, V], optimize=True)
    assert stacked_lines(fn)[0].startswith("stack: 2 closure term(s)"), fn.report()

    def python(step, ts):
        xs, h, A, V = ts
        loss = 0
        for t in range(xs.shape[0]):
            loss = loss + ((V @ h) ** 2).sum()
            h = (A @ h + xs[t]).tanh()
        return loss + (A @ h).sum()

    for T in (0, 1, 2, 5):
        arrays = [RNG.standard_normal((T, H, 1)), RNG.standard_normal((H, 1)), RNG.standard_normal((H, H)) / 2,
                  RNG.standard_normal((I, H))]
        close(fn(*arrays), torch_grads(None, arrays, [1, 2, 3], python), "float64")


def test_a_two_layer_cell_reads_a_residual_from_the_kept_history():
    """``W2``'s term multiplies the step's cotangent by ``u``, a forward value the loop keeps
    per step (a residual): stacked from the history, not written again per step."""
    with sg.Graph():
        xs = sg.placeholder((None, H, 1), "float64")
        h0 = sg.placeholder((I, 1), "float64")
        W1, W2 = sg.placeholder((H, I), "float64"), sg.placeholder((I, H), "float64")
        hT, _ = sg.scan(lambda h, x: ((W2 @ (W1 @ h + x).tanh()).tanh(), None), h0, xs)
        loss = (hT * hT).sum()
        fn = sg.compile([loss, *sg.gradients(loss, [xs, h0, W1, W2])], inputs=[xs, h0, W1, W2], optimize=True)
    assert stacked_lines(fn)[0].startswith("stack: 2 closure term(s)") and "a residual" in fn.report(), fn.report()

    def python(step, ts):
        xs, h, W1, W2 = ts
        for t in range(xs.shape[0]):
            h = (W2 @ (W1 @ h + xs[t]).tanh()).tanh()
        return (h * h).sum()

    for T in (1, 2, 6):
        arrays = [RNG.standard_normal((T, H, 1)), RNG.standard_normal((I, 1)), RNG.standard_normal((H, I)) / 2,
                  RNG.standard_normal((I, H)) / 2]
        close(fn(*arrays), torch_grads(None, arrays, range(4), python), "float64")


def test_each_rule_of_the_table_against_torch():
    """A body calling ``matmul_nt`` (its weight's term is a ``matmul``), ``@`` on the left
    (``matmul_nt`` terms) and on the right (``matmul_tn``), with contracted dimensions above
    1, so that each rule's joined axes are exercised."""
    K = 2
    with sg.Graph():
        xs = sg.placeholder((None, H, K), "float64")
        h0 = sg.placeholder((H, K), "float64")
        P, Q, R = (sg.placeholder(s, "float64") for s in ((H, K), (H, H), (K, K)))

        def cell(h, x):
            g = h.graph
            a = g.apply(get_op("matmul_nt"), (g.capture(P), h), {})  # P @ h^T: (H, H); P's term: matmul
            return ((a @ x) * 0.1 + Q @ h + h @ R).tanh(), None

        hT, _ = sg.scan(cell, h0, xs)
        loss = (hT * hT).sum()
        fn = sg.compile([loss, *sg.gradients(loss, [xs, h0, P, Q, R])], inputs=[xs, h0, P, Q, R], optimize=True)
    text = fn.report()
    for op in ("matmul of", "matmul_nt of", "matmul_tn of"):
        assert op in text, text

    def python(step, ts):
        xs, h, P, Q, R = ts
        for t in range(xs.shape[0]):
            h = (((P @ h.T) @ xs[t]) * 0.1 + Q @ h + h @ R).tanh()
        return (h * h).sum()

    for T in (1, 2, 5):
        arrays = [RNG.standard_normal((T, H, K)), RNG.standard_normal((H, K)), RNG.standard_normal((H, K)) / 2,
                  RNG.standard_normal((H, H)) / 3, RNG.standard_normal((K, K)) / 2]
        close(fn(*arrays), torch_grads(None, arrays, range(5), python), "float64")


def test_a_bounded_while_loop_is_rewritten_too():
    with sg.Graph():
        n = sg.placeholder((), "int64")
        h0 = sg.placeholder((H, 1), "float64")
        W = sg.placeholder((H, H), "float64")
        _, hT = sg.while_loop(lambda i, h: i < n, lambda i, h: (i + 1, (W @ h).tanh() + h),
                              (sg.constant(np.int64(0)), h0), maximum_iterations=6)
        loss = (hT * hT).sum()
        fn = sg.compile([loss, *sg.gradients(loss, [h0, W])], inputs=[n, h0, W], optimize=True)
    assert stacked_lines(fn), fn.report()

    def python(steps):
        def f(_, ts):
            h, W = ts
            for _ in range(steps):
                h = (W @ h).tanh() + h
            return (h * h).sum()
        return f

    for steps in (0, 1, 4):
        arrays = [RNG.standard_normal((H, 1)), RNG.standard_normal((H, H)) / 2]
        close(fn(np.int64(steps), *arrays), torch_grads(None, arrays, [0, 1], python(steps)), "float64")


NOT_STACKED = {  # closure terms that are not a product of two step-dependent matrices
    "elementwise": ((H, 1), lambda h, x, W, c: (c * h + x).tanh() + (W * 0.5).sum()),      # mul, sum terms
    "invariant operand": ((H, 1), lambda h, x, W, c: (W @ c + h * 0.5 + x).tanh()),  # W @ c: c the same each step
    "batched": ((2, H, 1), lambda h, x, W, c: (W @ h + c).tanh() + x),               # 3-D operands
}


@pytest.mark.parametrize("name", list(NOT_STACKED))
def test_terms_not_of_the_form_are_left_bit_for_bit(name):
    shape, cell = NOT_STACKED[name]

    def build(optimize):
        with sg.Graph():
            xs = sg.placeholder((None,) + shape, "float32")
            h0 = sg.placeholder(shape, "float32")
            W, c = sg.placeholder((H, H), "float32"), sg.placeholder((H, 1), "float32")
            hT, _ = sg.scan(lambda h, x: (cell(h, x, W, c), None), h0, xs)
            loss = (hT * hT).sum()
            return sg.compile([loss, *sg.gradients(loss, [h0, W, c])], inputs=[xs, h0, W, c], optimize=optimize)

    on, off = build(True), build(NO_STACK)
    assert not stacked_lines(on), on.report()
    arrays = [RNG.standard_normal((5,) + shape), RNG.standard_normal(shape), RNG.standard_normal((H, H)) / 2,
              RNG.standard_normal((H, 1))]
    arrays = [a.astype("float32") for a in arrays]
    for a, b in zip(on(*arrays), off(*arrays)):
        assert a.tobytes() == b.tobytes()


def test_a_closure_that_is_also_the_init_is_left_as_it_is():
    """One outer value as the carry's init and as a closure: its terms are merged in step
    order with the carry's (``merge``), which the rewrite leaves alone."""
    def build(optimize):
        with sg.Graph():
            xs = sg.placeholder((None, H, H), "float32")
            M = sg.placeholder((H, H), "float32")
            hT, _ = sg.scan(lambda h, x: ((M @ h + x).tanh(), None), M, xs)
            loss = (hT * hT).sum()
            return sg.compile([loss, sg.gradients(loss, M)], inputs=[xs, M], optimize=optimize)

    on, off = build(True), build(NO_STACK)
    assert not stacked_lines(on)
    arrays = [RNG.standard_normal((4, H, H)).astype("float32"), (RNG.standard_normal((H, H)) / 2).astype("float32")]
    for a, b in zip(on(*arrays), off(*arrays)):
        assert a.tobytes() == b.tobytes()


# --------------------------------------------------------------------------- second order

def test_second_order_through_a_rewritten_scan_against_torch():
    with sg.Graph():
        xs = sg.placeholder((None, I, 1), "float64")
        h0 = sg.placeholder((H, 1), "float64")
        W_h, W_x = sg.placeholder((H, H), "float64"), sg.placeholder((H, I), "float64")
        hT, _ = sg.scan(mv_cell(W_h, W_x), h0, xs)
        loss = (hT * hT).sum()
        dW_h, dW_x = sg.gradients(loss, [W_h, W_x])
        second = (dW_h * dW_h).sum() + (dW_x * dW_x).sum()
        gg = sg.gradients(second, [h0, W_h, W_x])
        fn = sg.compile([loss, dW_h, dW_x, second, *gg], inputs=[xs, h0, W_h, W_x], optimize=True)
    assert stacked_lines(fn), fn.report()
    for T in (1, 2, 5):
        arrays = mv_arrays(T)
        ts = [torch.tensor(a, requires_grad=True) for a in arrays]
        loss_t = mv_python(*ts)
        g = torch.autograd.grad(loss_t, ts[2:], create_graph=True)
        second_t = (g[0] * g[0]).sum() + (g[1] * g[1]).sum()
        gg_t = torch.autograd.grad(second_t, ts[1:])
        want = [loss_t.detach().numpy(), *(d.detach().numpy() for d in g), second_t.detach().numpy(), *(d.numpy() for d in gg_t)]
        close(fn(*arrays), want, "float64")


@pytest.mark.parametrize("optimize", [False, True], ids=["plain", "optimized"])
def test_a_scan_gradient_runs_on_array_api_strict(optimize):
    """Rows of xs are indexed where iterating an array is not allowed, and the rewrite uses
    the array API's names (``concat``, ``permute_dims``, ``t, ...`` indices)."""
    xp = pytest.importorskip("array_api_strict")
    arrays = mv_arrays(5)
    fn = mv_scan("float64", optimize)
    got, want = fn(*[xp.asarray(a) for a in arrays]), fn(*arrays)
    assert all(type(o).__module__.startswith("array_api_strict") for o in got)
    if optimize:
        close([np.asarray(o) for o in got], want, "float64")
    else:
        assert all(np.asarray(o).tobytes() == w.tobytes() for o, w in zip(got, want))


def test_the_checker_holds_pass_stack_to_the_tolerance_on_an_rnn(monkeypatch):
    """The equivalence checker on an RNN scan (every way: bitwise ones, each pass alone, the
    optimised program, finite differences): ``pass:stack`` and ``optimized`` really rewrite it,
    and agree within the tolerance."""
    from graphcompare import controlflow as CF
    from graphcompare.equivalence import check_model
    from staticgraph.passes import stack

    plans = []
    monkeypatch.setattr(stack, "plan", lambda *a, _plan=stack.plan: plans.append(_plan(*a)) or plans[-1])

    def rnn(F, xs, h0, W_h, W_x):
        hT, ys = CF.scan(F, lambda h, x: ((W_x @ x + W_h @ h).tanh(), h.sum()), h0, xs)
        return [hT, ys]

    X = [a.astype("float32") for a in (RNG.standard_normal((6, I, 1)), RNG.standard_normal((H, 1)),
                                        RNG.standard_normal((H, H)) / 2, RNG.standard_normal((H, I)) / 2)]
    res = check_model(rnn, X)
    assert res.ok, res.report()
    assert "pass:stack" in res.used and "optimized" in res.used
    assert any(p is not None and len(p.terms) == 2 for p in plans)
