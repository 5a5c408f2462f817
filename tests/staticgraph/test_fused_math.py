"""The fused kernels' float32 ``exp`` and ``tanh`` (``shared_ops.fusion_spec.INLINE``, evaluated
in float32): the same bits in both CPU tiers on every kind of input; within 1 ulp (exp) and
3 ulp (tanh) of the correctly rounded result and of PyTorch's float32 functions; W4's
gradients against PyTorch. ``benchmarks/bench_fused_math.py`` measures the same bounds over
every float32 input (``--stride 3``: every third, 1.4e9 inputs, found exp at most 1 ulp from
the correctly rounded result, tanh at most 3, and 2 or more for 0.03% of inputs)."""

import numpy as np
import pytest
import torch

import staticgraph as sg
from shared_ops.fusion_cpu import KernelSpec, Output, Step, build
from shared_ops.fusion_numpy import interpreter
from shared_ops.fusion_spec import step_code, weak

BOUND = {"exp": 1, "tanh": 3}  # ulp, against the correctly rounded result and against torch

# where the range reduction, the clamps, the subnormal split or the overflow change regime
EDGES = np.array([0.0, 1e-45, 1.1754942e-38, 1.1754944e-38, 1e-30, 1e-8, 1e-4, 0.1732868, 0.1732868 * 2, 0.5,
                  1.0, 8.66, 9.0, 10.0, 10.5, 20.0, 87.33654, 88.0, 88.72283, 88.72284, 89.0, 89.5, 103.27893,
                  103.97208, 104.0, 104.5, 1e30, 3.4028235e38], np.float32)


def _inputs() -> np.ndarray:
    rng = np.random.default_rng(19)
    edges = np.concatenate([EDGES, -EDGES])
    with np.errstate(over="ignore"):
        near = np.concatenate([np.nextafter(edges, np.float32(np.inf)), np.nextafter(edges, np.float32(-np.inf))])
    bits = rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    sign = rng.choice(np.array([-1.0, 1.0], np.float32), 100_000)
    return np.concatenate([
        edges, near, np.float32([np.inf, -np.inf, np.nan, -np.nan]),
        bits,                                                          # every exponent, subnormals, NaN payloads
        rng.uniform(-110.0, 95.0, 100_000).astype(np.float32),         # exp's whole range
        (sign * 10.0 ** rng.uniform(-45, 3, 100_000)).astype(np.float32),  # tiny to large magnitudes
    ])


X = _inputs()


def _spec(op):
    return KernelSpec((None,), (("float32", (0,)),), (Step(op, (0,), (), "float32"),), (Output(1, (), "float32"),))


def _ulps(a, b):
    def key(v):
        i = v.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(key(a) - key(b))


@pytest.fixture(scope="module")
def fused():
    out = {}
    for op in ("exp", "tanh"):
        a, b = np.empty_like(X), np.empty_like(X)
        interpreter(_spec(op))(X, a)
        build(_spec(op))[0](X, b)
        out[op] = (a, b)
    return out


@pytest.mark.parametrize("op", ["exp", "tanh"])
def test_both_tiers_give_the_same_bits_on_every_kind_of_input(fused, op):
    a, b = fused[op]
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("op", ["exp", "tanh"])
def test_within_the_stated_ulp_of_the_correctly_rounded_result_and_of_torch(fused, op):
    got = fused[op][1]
    with np.errstate(all="ignore"):
        ref = getattr(np, op)(X.astype(np.float64)).astype(np.float32)  # correctly rounded but for ties
    tch = getattr(torch, op)(torch.from_numpy(X)).numpy()
    for want in (ref, tch):
        fin = np.isfinite(want)
        assert np.isfinite(got[fin]).all()
        d = _ulps(got[fin], want[fin])
        assert d.max() <= BOUND[op], (op, X[fin][np.argmax(d)], d.max())
        np.testing.assert_array_equal(got[~fin], want[~fin])  # inf where it overflows, NaN for NaN
        zero = want == 0
        assert (np.signbit(got[zero]) == np.signbit(want[zero])).all()  # tanh(-0.0) = -0.0
    if op == "exp":  # subnormal results are rounded once, not flushed
        sub = (ref != 0) & (np.abs(ref) < np.float32(1.1754944e-38))
        assert sub.sum() > 1000 and (got[sub] != 0).all()


def test_tanh_does_not_cancel_near_zero():
    x = np.float32(10.0) ** -np.arange(1, 38, dtype=np.float32)
    x = np.concatenate([x, -x, np.float32([1e-45, 3e-42, 1e-39, -1e-40])])
    got = np.empty_like(x)
    build(_spec("tanh"))[0](x, got)
    want = np.tanh(x.astype(np.float64)).astype(np.float32)
    assert (_ulps(got, want) <= BOUND["tanh"]).all()
    e = np.exp(2 * x)  # (e - 1) / (e + 1) in float32 loses every bit there: what the form avoids
    assert (_ulps((e - 1) / (e + 1), want) > 1000).sum() > 40


def test_a_float32_step_computes_its_literals_in_float32_only_when_every_input_is_float32():
    spec = KernelSpec((None,), (("float32", (0,)), ("float64", (0,))),
                      (Step("tanh_grad", (0, 0), (), "float32"), Step("tanh_grad", (0, 1), (), "float32")),
                      (Output(2, (), "float32"), Output(3, (), "float32")))
    assert weak(spec, spec.steps[0]) and not weak(spec, spec.steps[1])
    assert step_code(spec.steps[0], ["g", "y"], weak=True)[1] == "_f32(g * (_f32(1.0) - y * y))"
    assert step_code(spec.steps[1], ["g", "y"])[1] == "_f32(g * (1.0 - y * y))"
    g, y = np.float32([0.75, 3.0]), np.float32([0.999, 0.1234567])
    a = [np.empty(2, np.float32), np.empty(2, np.float32)]
    b = [np.empty(2, np.float32), np.empty(2, np.float32)]
    interpreter(spec)(g, y.astype(np.float64), *a)
    build(spec)[0](g, y.astype(np.float64), *b)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    np.testing.assert_array_equal(a[0], g * (1 - g * g))  # the unfused float32 NumPy kernel's bits


def _w4_inputs(n=200_000):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    y = (rng.standard_normal(n) * 3).astype(np.float32)
    k = n // 10
    x[:k] = (rng.choice([-1.0, 1.0], k) * 10.0 ** rng.uniform(-40, 2, k)).astype(np.float32)  # tiny to large
    y[k:2 * k] = (rng.choice([-1.0, 1.0], k) * 10.0 ** rng.uniform(-40, 1.2, k)).astype(np.float32)
    x[2 * k:2 * k + 4], y[2 * k:2 * k + 4] = [0.0, -0.0, 1e-45, -1e-45], [-0.0, 1e-45, 0.0, 9.5]  # zeros, subnormals
    return x, y


def test_w4_gradients_agree_with_torch():
    x, y = _w4_inputs()
    with sg.Graph():
        px, py = sg.placeholder(x.shape, name="x"), sg.placeholder(y.shape, name="y")
        loss = ((px * py + px).tanh() * (-(py * py)).exp()).sum()
        gx, gy = sg.gradients(loss, [px, py])
    fn = sg.compile([loss, gx, gy], inputs=[px, py], optimize=True)
    assert fn.wait_compiled()
    got = [np.asarray(v) for v in fn(x, y)]
    for dtype in (torch.float32, torch.float64):
        tx, ty = (torch.tensor(v, dtype=dtype, requires_grad=True) for v in (x, y))
        tl = (torch.tanh(tx * ty + tx) * torch.exp(-(ty * ty))).sum()
        tl.backward()
        want = [tl.detach().numpy(), tx.grad.numpy(), ty.grad.numpy()]
        # a few float32 ulp (6e-8) of each gradient's largest term, times exp(-y*y)'s condition
        # (the rounding of y*y moves it by y*y ulp, in torch's float32 too); below 1e-37 the
        # float32 results are subnormal or zero where float64's are not
        y64, a = y.astype(np.float64), np.abs(x.astype(np.float64))
        e, cond = np.exp(-y64 * y64), 6 + 2 * y64 * y64
        scale = [np.abs(want[0]) * 10, e * (1 + np.abs(y64)) * cond, e * (a + 2 * np.abs(y64) * (1 + a)) * cond]
        for g, w, s in zip(got, want, scale):
            err = np.abs(g - w)
            assert np.all(err <= 6e-8 * s + 1e-37), (dtype, np.max(err / (s + 1e-300)))
    assert np.isfinite(got[1]).all() and np.isfinite(got[2]).all()
