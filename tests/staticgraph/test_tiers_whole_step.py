"""The whole-step tier (``staticgraph.wholestep``): a small program runs as one compiled
function; its NumPy tier gives the same bytes, switched mid-run; the result stays within the
``fuse`` tolerance of ``optimize=False`` and of PyTorch in float64; an ineligible program says
why; the compiled step is cached on disk like the fused kernels.

The suite runs with ``GRAPHCOMPARE_JIT=off``: the step is compiled only where a test asks
(``use_tier("numba")``, ``wait_compiled()``).
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

import staticgraph as sg
from graphcompare._runners import loss
from graphcompare.program import compile_model
from graphcompare.strategies import programs
from shared_ops import fusion_numpy, instrument
from staticgraph import wholestep
from staticgraph.passes import PassOptionError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = 3 if settings.default.max_examples <= 40 else settings.default.max_examples // 4
# ops whose programs (forward and gradient) have a whole-step form
OPS = ["add", "sub", "mul", "div", "maximum", "minimum", "neg", "exp", "tanh", "sigmoid", "log", "sqrt", "abs",
       "sum", "reshape", "transpose", "expand_dims", "squeeze", "broadcast_to", "matmul", "sin", "cos", "clone"]


def _bytes(values) -> list:
    return [np.ascontiguousarray(v).tobytes() for v in values]


def _compile_program(prog, optimize=True):
    model = compile_model(prog.model_source())
    X = prog.inputs()
    with sg.Graph():
        ps = [sg.placeholder(a.shape, a.dtype.name) for a in X]
        total, outs = loss(sg, model, ps, prog.weights)
        gs = [g for g in sg.gradients(total, ps) if g is not None]
        fn = sg.compile(list(outs) + gs, inputs=ps, optimize=optimize)
    return fn, X


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(programs(ops=OPS, max_steps=6, control=0))
def test_whole_step_tiers_give_the_same_bytes_on_random_programs(prog):
    fn, X = _compile_program(prog)
    assume(fn.whole_step is not None)
    fn.use_tier("numpy")
    first = _bytes(fn(*X))
    fn.use_tier("numba")  # switch mid-run: one call of the compiled step
    assert fn.executable().run is not fn.executable().python_run
    assert set(fn.tiers().values()) <= {"numba"}
    assert _bytes(fn(*X)) == first
    fn.use_tier("numpy")
    assert _bytes(fn(*X)) == first
    old = fusion_numpy.ELEMENTS
    fusion_numpy.ELEMENTS = 1
    try:
        assert _bytes(fn(*X)) == first
    finally:
        fusion_numpy.ELEMENTS = old
    # within the fuse tolerance of the unoptimised program (passes/__init__.py)
    ref, _ = _compile_program(prog, optimize=False)
    for a, b in zip(fn(*X), ref(*X)):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        rtol = 1e-4 if np.asarray(b).dtype == np.float32 or a.dtype == np.float32 else 1e-9
        scale = max(float(np.max(np.abs(b), initial=0.0)), 1.0)
        assert np.all(np.abs(a - b) <= 1e-4 * (np.abs(b) + scale)), (a, b, rtol)


def _rnn(T=6, H=5, X=3, dtype="float32"):
    rng = np.random.default_rng(11)
    Wx = (rng.standard_normal((H, X)) * 0.5).astype(dtype)
    Wh = (rng.standard_normal((H, H)) * 0.5).astype(dtype)
    xs = rng.standard_normal((T, X)).astype(dtype)
    h0 = rng.standard_normal(H).astype(dtype)
    with sg.Graph():
        p = [sg.placeholder(a.shape, dtype, name=n) for a, n in zip((Wx, Wh, xs, h0), ("Wx", "Wh", "xs", "h0"))]
        h = p[3]
        for t in range(T):
            h = (p[0] @ p[2][t] + p[1] @ h).tanh()
        total = (h * h).sum()
        grads = sg.gradients(total, [p[0], p[1], p[3]])
        fn = sg.compile([total, *grads], inputs=p)
        fn0 = sg.compile([total, *grads], inputs=p, optimize=False)
    return fn, fn0, [Wx, Wh, xs, h0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_rnn_runs_whole_step_bitwise_in_both_tiers_and_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    fn, fn0, args = _rnn(dtype=dtype)
    assert fn.whole_step is not None
    rep = fn.report()
    assert "whole step: runs on numpy" in rep and "built when waited for" in rep
    first = _bytes(fn(*args))
    assert fn.wait_compiled() and "whole step: runs on numba" in fn.report() and "numba built in" in fn.report()
    assert _bytes(fn(*args)) == first
    # PyTorch in float64 is the reference for values and gradients
    t = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in args]
    h = t[3]
    for s in range(args[2].shape[0]):
        h = torch.tanh(t[0] @ t[2][s] + t[1] @ h)
    total = (h * h).sum()
    total.backward()
    want = [total.detach().numpy(), t[0].grad.numpy(), t[1].grad.numpy(), t[3].grad.numpy()]
    tol = 1e-4 if dtype == "float32" else 1e-9
    for got, w in zip(fn(*args), want):
        np.testing.assert_allclose(np.asarray(got, np.float64), w, rtol=tol, atol=tol * max(1.0, float(np.abs(w).max())))
    for got, w in zip(fn(*args), fn0(*args)):
        np.testing.assert_allclose(got, w, rtol=tol, atol=tol)


def test_a_layout_without_machine_code_runs_the_numpy_tier_with_the_same_bytes():
    fn, _, args = _rnn()
    fn.use_tier("numba")
    want = _bytes(fn(*args))
    strided = [np.asfortranarray(args[0])] + args[1:]  # an F-ordered matrix: another numba type
    assert _bytes(fn(*strided)) == want


def test_instrumentation_sees_every_kernel_of_a_whole_step_program():
    fn, _, args = _rnn()
    fn.use_tier("numba")
    want = _bytes(fn(*args))
    with instrument() as stats:
        got = _bytes(fn(*args))  # kernel by kernel on the NumPy tier, where the counts are made
    assert got == want
    assert stats.per_op["matmul"].calls >= 6 and stats.per_op["fused"].calls >= 3
    assert _bytes(fn(*args)) == want
    assert fn.executable().run is not fn.executable().python_run  # back on the compiled step


def test_an_ineligible_program_says_why_and_runs_its_regions_tiers():
    with sg.Graph():
        x = sg.placeholder((100, 50), name="x")
        z = sg.placeholder((20, 30), name="z")
        big = sg.compile([(x.tanh() * 2.0).sum()], [x])
        small = sg.compile([sg.softmax(z[:2, :3], axis=1).sum()], [z])
        off = sg.compile([(z[:2, :3].tanh() * 2.0).sum()], [z], optimize={"whole_step": False})
        on = sg.compile([(z[:2, :3].tanh() * 2.0).sum()], [z])
    assert big.whole_step is None and "whole step: not used (%" in big.report()
    assert f"5000 elements (more than {wholestep.MAX_ELEMS})" in big.report()
    assert small.whole_step is None and "softmax: no whole-step form" in small.report()
    assert off.whole_step is None and "whole step: not used (switched off" in off.report()
    assert on.whole_step is not None
    x0 = np.random.default_rng(0).standard_normal((20, 30)).astype(np.float32)
    np.testing.assert_allclose(off(x0)[0], on(x0)[0], rtol=1e-5)
    with pytest.raises(PassOptionError, match="whole_step"):
        with sg.Graph():
            y = sg.placeholder((2,), name="y")
            sg.compile([y * 2.0], [y], optimize={"whole_step": "yes"})


def _sequential_product(a, b):
    m, k = a.shape
    out = np.zeros((m, b.shape[1]), a.dtype)
    for i in range(m):
        for j in range(b.shape[1]):
            acc = a[i, 0] * b[0, j]
            for q in range(1, k):
                acc = acc + a[i, q] * b[q, j]
            out[i, j] = acc
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_numpy_tier_products_and_sums_add_in_sequence(dtype):
    from shared_ops.fusion_step import matmul_seq, sum_seq

    rng = np.random.default_rng(2)
    for m in (1, 2, 3, 20):  # a kept size of 1 or 2 is where NumPy's reduce would add pairwise
        for k in (1, 2, 9, 20):
            for n in (1, 2, 3, 20):
                a, b = (rng.standard_normal((m, k)) * 1e3).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
                want = _sequential_product(a, b)
                assert matmul_seq(a, b).tobytes() == want.tobytes(), (m, k, n)
                assert matmul_seq(a.T.copy(), b, ta=True).tobytes() == want.tobytes()
                assert matmul_seq(a, b.T.copy(), tb=True).tobytes() == want.tobytes()
                assert matmul_seq(a[0], b).tobytes() == want[0].tobytes()
                assert matmul_seq(a, b[:, 0]).tobytes() == want[:, 0].tobytes()
    x = (rng.standard_normal((4, 5, 6)) * 1e3).astype(dtype)
    for axes in ((0, 2), (1,), (0, 1, 2)):
        keep = [d for d in range(3) if d not in axes]
        moved = np.transpose(x, keep + list(axes)).reshape(int(np.prod([x.shape[d] for d in keep])), -1)
        want = np.zeros(moved.shape[0], dtype)
        for i, row in enumerate(moved):
            acc = row[0]
            for v in row[1:]:
                acc = acc + v
            want[i] = acc
        assert sum_seq(x, axes, want.shape).tobytes() == want.tobytes(), axes


STEP = textwrap.dedent("""
    import time, numpy as np, staticgraph as sg
    with sg.Graph():
        w = sg.placeholder((4, 3), name="w")
        x = sg.placeholder((3,), name="x")
        y = ((w @ x).tanh() * 2.0).sum()
        (g,) = sg.gradients(y, [w])
        fn = sg.compile([y, g], [w, x])
    t0 = time.perf_counter()
    ok = fn.wait_compiled()
    out = fn(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), np.ones(3, np.float32))
    print(ok, fn.tiers() and sorted(set(fn.tiers().values())), np.concatenate([np.ravel(o) for o in out]).tobytes().hex())
""")


def _python(code, cache):
    env = {**os.environ, "GRAPHCOMPARE_CACHE": str(cache), "GRAPHCOMPARE_JIT": "background", "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)


def test_the_compiled_step_is_cached_on_disk_and_a_damaged_entry_is_rebuilt(tmp_path):
    first = _python(STEP, tmp_path)
    assert first.returncode == 0 and first.stdout.startswith("True ['numba']"), first.stderr
    modules = sorted(tmp_path.glob("*/gc_step_*.py"))
    assert len(modules) == 1 and modules[0].with_suffix(".ok").exists()
    machine_code = sorted(tmp_path.glob("*/__pycache__/gc_step_*.nbc"))
    assert machine_code
    again = _python(STEP, tmp_path)  # loaded from disk: the same bytes
    assert again.returncode == 0 and again.stdout == first.stdout, again.stderr
    with open(machine_code[0], "r+b") as f:
        f.truncate(os.path.getsize(machine_code[0]) // 3)
    rebuilt = _python(STEP, tmp_path)
    assert rebuilt.returncode == 0 and rebuilt.stdout == first.stdout, rebuilt.stderr
