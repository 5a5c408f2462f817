"""Compile tiers: a fused region runs at once on its NumPy tier and later on its numba loop,
and the two give the same bytes; background builds end cleanly at exit; the on-disk cache is
shared safely by processes and rebuilds a damaged entry.

The suite runs with ``GRAPHCOMPARE_JIT=off`` (tests/conftest.py): nothing is compiled unless a
test asks (``use_tier("numba")``, ``wait_compiled()``), so only these tests pay for numba.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import staticgraph as sg
from graphcompare._runners import loss
from graphcompare.program import compile_model
from graphcompare.strategies import programs
from shared_ops import fusion_jit, fusion_numpy
from shared_ops.fusion_cpu import build
from shared_ops.fusion_numpy import interpreter
from shared_ops.fusion_spec import KernelSpec, Output, Step

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# each example compiles its regions with numba: a few in CI, many under `thorough`
EXAMPLES = 8 if settings.default.max_examples <= 40 else settings.default.max_examples


def _bytes(values) -> list:
    return [np.ascontiguousarray(v).tobytes() for v in values]


def _compile_program(prog):
    model = compile_model(prog.model_source())
    X = prog.inputs()
    with sg.Graph():
        ps = [sg.placeholder(a.shape, a.dtype.name) for a in X]
        total, outs = loss(sg, model, ps, prog.weights)
        gs = [g for g in sg.gradients(total, ps) if g is not None]
        fn = sg.compile(list(outs) + gs, inputs=ps, optimize=True)
    return fn, X


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=6))
def test_every_tier_gives_the_same_bytes_on_random_programs(prog):
    fn, X = _compile_program(prog)
    fn.use_tier("numpy")  # a region seen before may already have its loop
    first = _bytes(fn(*X))
    fn.use_tier("numba")  # switch mid-run
    assert set(fn.tiers().values()) <= {"numba"}
    assert _bytes(fn(*X)) == first
    fn.use_tier("numpy")
    assert _bytes(fn(*X)) == first
    old = fusion_numpy.ELEMENTS
    fusion_numpy.ELEMENTS = 1  # the NumPy tier one row per block: sums carried across blocks
    try:
        assert _bytes(fn(*X)) == first
    finally:
        fusion_numpy.ELEMENTS = old


def _spec(op, dtype, *extra_steps):
    steps = (Step(op, (0,), (), dtype),) + extra_steps
    return KernelSpec((None,), ((dtype, (0,)),), steps, (Output(len(steps), (), dtype),))


SPECIAL = [0.0, -0.0, 1e-300, -1e-300, 1e-8, 0.5, 1.0, -1.0, 88.0, 89.5, -104.5, 710.0, -750.0, 1e30, -1e30,
           np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid", "sqrt", "abs", "relu", "sign", "neg"])
def test_each_ops_scalar_code_is_bitwise_equal_in_both_tiers(op, dtype):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(3000) * 30, rng.standard_normal(3000), SPECIAL]).astype(dtype)
    spec = _spec(op, dtype)
    a, b = np.empty_like(x), np.empty_like(x)
    interpreter(spec)(x, a)
    build(spec)[0](x, b)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("exponent", [0.5, 2.0, 3.0, -1.0, 1.7])
def test_pow_with_a_constant_exponent_is_bitwise_equal_in_both_tiers(exponent):
    x = np.concatenate([np.random.default_rng(4).uniform(-3, 3, 4000), SPECIAL])
    spec = KernelSpec((None,), (("float64", (0,)),), (Step("pow_scalar", (0,), (("exponent", exponent),), "float64"),),
                      (Output(1, (), "float64"),))
    a, b = np.empty_like(x), np.empty_like(x)
    interpreter(spec)(x, a)
    build(spec)[0](x, b)
    assert a.tobytes() == b.tobytes()


# the NumPy tier runs blocks of rows (fusion_numpy.ELEMENTS elements): the larger shapes span
# many blocks, with a short last one
@pytest.mark.parametrize("shape, reduce", [((5000,), (0,)), ((3, 2100), (0, 1)), ((7, 300), (1,)), ((40, 3, 9), (0, 2)),
                                           ((50001,), (0,)), ((5, 9001), (0, 1)), ((20001, 3), (0,)), ((20001, 3), (1,)),
                                           ((3001, 4, 5), (0, 2)), ((3001, 4, 5), (1,))])
def test_sums_accumulate_in_the_same_order_in_both_tiers(shape, reduce):
    x = (np.random.default_rng(5).standard_normal(shape) * 1e3).astype(np.float32)
    dims = tuple(range(len(shape)))
    spec = KernelSpec((None,) * len(shape), (("float32", dims),), (Step("tanh", (0,), (), "float32"),),
                      (Output(1, reduce, "float32"),))
    out_shape = tuple(1 if d in reduce else n for d, n in enumerate(shape))
    a, b = np.empty(out_shape, np.float32), np.empty(out_shape, np.float32)
    interpreter(spec)(x, a)
    build(spec)[0](x, b)
    assert a.tobytes() == b.tobytes()
    np.testing.assert_allclose(a, np.tanh(x.astype(np.float64)).sum(axis=reduce, keepdims=True), rtol=1e-5, atol=1e-3)


def test_blocks_of_rows_read_broadcast_inputs_whole():
    # in1 runs along loop dim 1 only (broadcast over the blocked dim 0), in2 is a scalar
    rng = np.random.default_rng(7)
    x, w, c = rng.standard_normal((9001, 3)), rng.standard_normal(3), np.array(0.25)
    spec = KernelSpec((None, None), (("float64", (0, 1)), ("float64", (1,)), ("float64", ())),
                      (Step("mul", (0, 1), (), "float64"), Step("add", (3, 2), (), "float64")),
                      (Output(4, (), "float64"), Output(4, (0,), "float64"), Output(4, (0, 1), "float64")))
    outs = [[np.empty((9001, 3)), np.empty((1, 3)), np.empty((1, 1))] for _ in range(2)]
    interpreter(spec)(x, w, c, *outs[0])
    build(spec)[0](x, w, c, *outs[1])
    assert _bytes(outs[0]) == _bytes(outs[1])
    np.testing.assert_allclose(outs[0][0], x * w + c, rtol=1e-15)
    np.testing.assert_allclose(outs[0][1], (x * w + c).sum(0, keepdims=True), rtol=1e-12)


def test_a_layout_without_machine_code_runs_on_the_numpy_tier_meanwhile():
    with sg.Graph():
        x = sg.placeholder((4, 6), dtype="float64", name="x")
        out = (x * x + 1.0).tanh()
        fn = sg.compile([out], [x], block=True)
    assert set(fn.tiers().values()) == {"numba"}
    a = np.random.default_rng(6).standard_normal((6, 4)).T  # not C-contiguous: no machine code yet
    ref = sg.compile([out], [x], optimize=False)
    fn.use_tier("numpy")
    want = fn(a)[0].tobytes()
    fn.use_tier("numba")
    assert fn(a)[0].tobytes() == want
    np.testing.assert_allclose(fn(a)[0], ref(a)[0], rtol=1e-12)


def test_compile_returns_before_numba_and_the_report_names_each_tier():
    old = fusion_jit.set_mode("off")
    try:
        with sg.Graph():
            x = sg.placeholder((3,), name="x")
            fn = sg.compile([((x * 2.5 + 1.0).tanh() * x).sum()], [x], optimize={"whole_step": False})
        rep = fn.report()
        assert "runs on numpy; numpy tier built in" in rep and "built when waited for" in rep
        assert fn.wait_compiled() and "runs on numba" in fn.report() and "numba built in" in fn.report()
    finally:
        fusion_jit.set_mode(old)


def _python(code: str, cache, jit="background", timeout=600):
    env = {**os.environ, "GRAPHCOMPARE_CACHE": str(cache), "GRAPHCOMPARE_JIT": jit, "PYTHONPATH": ROOT}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


CHAIN = textwrap.dedent("""
    import numpy as np, staticgraph as sg
    with sg.Graph():
        x = sg.placeholder((8,), name="x")
        y = x
        for k in range({n}):
            y = (y * 1.0001 + 0.001).tanh()
        (g,) = sg.gradients(y.sum(), [x])
        fn = sg.compile([y, g], [x], block={block}, optimize={{"whole_step": False}})
    out = fn(np.linspace(-1, 1, 8, dtype=np.float32))
    print(sorted(set(fn.tiers().values())), np.concatenate(out).tobytes().hex())
""")


def test_background_builds_end_cleanly_when_the_interpreter_exits(tmp_path):
    # exits while numba is building many regions: no hang, no warning, no traceback
    p = _python(CHAIN.format(n=150, block=False), tmp_path)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0 and err == "", err
    assert out.startswith("['numpy']")


def test_processes_share_one_cache_and_a_truncated_entry_is_rebuilt(tmp_path):
    code = CHAIN.format(n=2, block=True)
    procs = [_python(code, tmp_path) for _ in range(2)]  # at once, on an empty cache
    runs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in runs]
    assert runs[0][0] == runs[1][0] and runs[0][0].startswith("['numba']")
    machine_code = sorted(tmp_path.glob("*/__pycache__/gc_fused_*.nbc"))
    assert machine_code
    damaged = machine_code[0]
    size = os.path.getsize(damaged)
    with open(damaged, "r+b") as f:
        f.truncate(size // 3)
    p = _python(code, tmp_path)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    assert out == runs[0][0]                  # the same bytes, from the rebuilt kernel
    assert os.path.getsize(damaged) == size   # deleted and written again, never loaded


def test_a_corrupt_entry_is_deleted_before_numba_reads_it(tmp_path, monkeypatch):
    from shared_ops import fusion_cache, fusion_cpu

    monkeypatch.setenv("GRAPHCOMPARE_CACHE", str(tmp_path))
    spec = _spec("exp", "float64", Step("mul", (1, 1), (), "float64"))
    fusion_cpu.build(spec)
    d, stem = fusion_cpu._CACHE[spec][1]
    files = fusion_cache._numba_files(d, stem)
    assert files and os.path.exists(os.path.join(d, stem + ".ok"))
    with open(files[-1], "r+b") as f:  # flip one byte: still a whole file, but not the one written
        f.seek(os.path.getsize(files[-1]) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))
    before = fusion_cpu.cache_info()["rebuilt"]
    fusion_cache.verify(d, stem, open(os.path.join(d, stem + ".py")).read())
    assert fusion_cpu.cache_info()["rebuilt"] == before + 1
    assert fusion_cache._numba_files(d, stem) == []


def test_on_another_array_namespace_a_region_runs_its_ops_own_kernels():
    """Tiers are a NumPy matter: on another namespace (array-api-strict here, standing in for
    any backend but CuPy, which has its own generated kernel) a fused region runs each of its
    ops' own kernels in order, which is what the graph without fusion computes."""
    xp = pytest.importorskip("array_api_strict")
    with sg.Graph():
        x = sg.placeholder((5, 3), dtype="float64", name="x")
        y = ((x * 2.0 + 1.0).tanh() * x).exp()
        (gx,) = sg.gradients(y.sum(), [x])
        fused = sg.compile([y, gx], [x])
        unfused = sg.compile([y, gx], [x], optimize={"fuse": False})
    assert fused.regions()
    a = np.random.default_rng(8).standard_normal((5, 3))
    out = fused(xp.asarray(a))
    assert all(type(o).__module__.startswith("array_api_strict") for o in out)
    assert _bytes(np.asarray(o) for o in out) == _bytes(unfused(a))


def test_a_call_that_finds_compiling_disabled_mid_layout_runs_on_the_numpy_tier():
    # numba raises RuntimeError("compilation disabled") when a call waited for a layout being
    # added in the background (compiling enabled meanwhile) and found it disabled again
    with sg.Graph():
        x = sg.placeholder((4, 6), dtype="float64", name="x")
        fn = sg.compile([(x * x + 1.0).tanh()], [x], optimize={"whole_step": False})
    (region,) = fn.regions()
    a = np.random.default_rng(9).standard_normal((4, 6))
    want = fn(a)[0].tobytes()

    def racing(*args):
        raise RuntimeError("compilation disabled")

    def broken(*args):
        raise RuntimeError("something else")

    region._K[0] = racing
    assert fn(a)[0].tobytes() == want
    region._K[0] = broken
    with pytest.raises(RuntimeError, match="something else"):
        fn(a)
