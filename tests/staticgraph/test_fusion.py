"""Fused kernels: generated code (CPU and GPU, as text), numerics of the generated float32
math, the compile cache, the reference fallback, and forward+backward regions."""

import numpy as np
import pytest

import staticgraph as sg
from shared_ops import fusion_cpu, fusion_gpu
from shared_ops.fusion_cpu import KernelSpec, Output, Step, generate_source
from staticgraph.fusion import FusedKernel

SPEC = KernelSpec(
    (None, 3),
    (("float32", (0, 1)), ("float32", (1,)), ("float32", ())),
    (Step("add", (0, 1), (), "float32"), Step("tanh", (3,), (), "float32"), Step("mul", (4, 2), (), "float32")),
    (Output(5, (), "float32"), Output(4, (0,), "float32")),
)


def test_cpu_source_is_one_loop_nest_with_a_reduction():
    src = generate_source(SPEC)
    lines = src.splitlines()
    assert lines[0] == "def kernel(in0, in1, in2, out0, out1):"
    assert "    n0 = in0.shape[0]" in lines and "    n1 = in0.shape[1]" in lines
    assert "    if in1.shape[0] != n1: raise ValueError('shape')" in lines
    assert "    acc1 = np.zeros((1, n1,), np.float64)" in lines
    assert "    v2 = _get0(in2)" in lines  # a scalar is read once, before the loops
    assert "            v1 = in1[j1]" in lines  # the broadcast input's index map
    assert "            v5 = _f32(v4 * v2)" in lines
    assert "            acc1[0, j1] += v4" in lines and lines[-1] == "    out1[...] = acc1"
    assert sum(ln.strip().startswith("for ") for ln in lines) == 2


def test_gpu_source_is_an_elementwise_kernel():
    assert fusion_gpu.generate(SPEC) == (
        "float v0, float v1, float v2",
        "float out0, float out1",
        "float v3 = (float)((v0 + v1));\nfloat v4 = (float)(tanh(v3));\nfloat v5 = (float)((v4 * v2));\n"
        "out0 = v5;\nout1 = v4;",
        "gc_fused",
    )
    assert fusion_gpu.to_c("(math.exp(a) if a >= 0 else b ** 2.0)") == "((a >= 0) ? exp(a) : pow(b, 2.0))"
    assert fusion_gpu.to_c("max(x, 0.0)") == "max(x, 0.0)"


def test_generated_float32_exp_and_tanh_are_within_two_ulp_of_numpy():
    x = np.concatenate([np.linspace(-110, 95, 200001), [0.0, -0.0, 1e-30, -1e-8, np.inf, -np.inf, np.nan]]).astype(np.float32)
    for op in ("exp", "tanh"):
        spec = KernelSpec((None,), (("float32", (0,)),), (Step(op, (0,), (), "float32"),), (Output(1, (), "float32"),))
        out = np.empty_like(x)
        fusion_cpu.compile_kernel(spec)(x, out)
        with np.errstate(all="ignore"):
            want = getattr(np, op)(x)
        finite = np.isfinite(want)
        ulp = np.abs(out.view(np.int32).astype(np.int64) - want.view(np.int32))[finite]
        assert ulp.max() <= 2, op
        np.testing.assert_array_equal(out[~finite], want[~finite])
        if op == "tanh":
            assert np.signbit(out[x == 0]).tolist() == np.signbit(x[x == 0]).tolist()  # tanh(-0.0) = -0.0


def test_fused_kernel_equals_its_reference_path():
    fk = FusedKernel(SPEC, [type("I", (), {"op": None, "drop": ()})(), type("I", (), {"op": "sum", "attrs": (("axis", (0,)), ("keepdims", True)), "drop": ()})()], [], "")
    rng = np.random.default_rng(0)
    x, b, c = rng.standard_normal((5, 3), np.float32), rng.standard_normal(3, np.float32), np.float32(1.5)
    got = fk.kernel(np, x, b, np.asarray(c))
    want = fk.reference(np, x, b, np.asarray(c))
    np.testing.assert_allclose(got[0], want[0], rtol=3e-7)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


def w4(n=1000):
    with sg.Graph():
        x = sg.placeholder((n,), name="x")
        y = sg.placeholder((n,), name="y")
        loss = ((x * y + x).tanh() * (-(y * y)).exp()).sum()
        gx, gy = sg.gradients(loss, [x, y])
    return [loss, gx, gy], [x, y]


def test_forward_and_backward_fuse_into_one_kernel():
    outs, ins = w4()
    fn = sg.compile(outs, ins)
    fused = [n for n in fn.program.nodes if isinstance(n.payload, FusedKernel)]
    assert len(fused) == 1 and len(fused[0].payload.outputs) == 3
    ref = sg.compile(outs, ins, optimize=False)
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(1000).astype(np.float32) for _ in range(2)]
    for a, b in zip(fn(*args), ref(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.max(np.abs(b)))


def test_second_compile_shares_the_first_ones_build():
    outs, ins = w4(777)
    first = sg.compile(outs, ins)
    second = sg.compile(outs, ins)
    (a,), (b,) = first.regions(), second.regions()
    assert a is not b and a.job is b.job  # one numba build per region spec and process
    assert second.wait_compiled() and first.tiers() == {n: "numba" for n in first.tiers()}


def test_free_dimension_that_breaks_the_pattern_falls_back_to_op_by_op():
    with sg.Graph():
        x = sg.placeholder((None, 3), dtype="float64", name="x")
        y = sg.placeholder((None, 3), dtype="float64", name="y")
        out = (x * y).tanh() + x
        fn = sg.compile([out], [x, y])
        ref = sg.compile([out], [x, y], optimize=False)
    (node,) = [n for n in fn.program.nodes if isinstance(n.payload, FusedKernel)]
    a, b = np.arange(3.0).reshape(1, 3), np.arange(15.0).reshape(5, 3)  # x's free dim is 1 here
    np.testing.assert_array_equal(fn(a, b)[0], ref(a, b)[0])
    assert node.payload.fallbacks == 1
    np.testing.assert_allclose(fn(b, b)[0], ref(b, b)[0], rtol=1e-12)
    assert node.payload.fallbacks == 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transposed_and_expanded_inputs_fold_into_index_maps(dtype):
    with sg.Graph():
        a = sg.placeholder((4,), dtype=dtype, name="a")
        b = sg.placeholder((3,), dtype=dtype, name="b")
        W = sg.placeholder((3, 4), dtype=dtype, name="W")
        out = (a.reshape((4, 1)) @ b.reshape((1, 3))) * W.transpose() + 1.0
        fn = sg.compile([out], [a, b, W])
        ref = sg.compile([out], [a, b, W], optimize=False)
    (node,) = [n for n in fn.program.nodes if isinstance(n.payload, FusedKernel)]
    assert (1, 0) in [inp[1] for inp in node.payload.spec.inputs]  # W read through its transpose
    rng = np.random.default_rng(2)
    args = [rng.standard_normal(s).astype(dtype) for s in ((4,), (3,), (3, 4))]
    np.testing.assert_array_equal(fn(*args)[0], ref(*args)[0])


def test_a_fresh_process_loads_the_kernel_from_the_disk_cache(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np, shared_ops\n"
        "from shared_ops.fusion_cpu import KernelSpec, Output, Step, build\n"
        "spec = KernelSpec((None,), (('float64', (0,)),), (Step('mul', (0, 0), (), 'float64'),"
        " Step('add', (1, 0), (), 'float64')), (Output(2, (), 'float64'),))\n"
        "k, _ = build(spec); x = np.arange(5.0); o = np.empty(5); k(x, o)\n"
        "assert (o == x * x + x).all()\n"
        "print(sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values()))\n"
    )
    env = {**os.environ, "GRAPHCOMPARE_CACHE": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert runs[0].stdout.split() == ["0", "1"]  # compiled, written to disk
    assert runs[1].stdout.split() == ["1", "0"]  # machine code loaded, nothing compiled
    assert len(list(tmp_path.glob("*/gc_fused_*.py"))) == 1


def test_sum_to_its_own_symbolic_shape_is_dropped_and_the_chain_is_one_region():
    with sg.Graph():
        x = sg.placeholder((None, 4), name="x")
        y = x
        for _ in range(5):
            y = (y * 1.0001 + 0.001).tanh()
        (g,) = sg.gradients(y.sum(), [x])
        fn = sg.compile([y, g], [x])
        ref = sg.compile([y, g], [x], optimize=False)
    assert "sum_to" in ref.text() and "sum_to" not in fn.text()
    assert "to the value's own (symbolic) shape dropped" in fn.report()
    (region,) = fn.regions()
    assert len(region.outputs) == 2
    a = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    for got, want in zip(fn(a), ref(a)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
