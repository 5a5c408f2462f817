"""matmul, matmul_nt and matmul_tn take the matmul ufunc instead of ``ndarray.dot`` for large
matrix products (dot zeroes its output before the gemm). The bits must stay those of the dot
spelling the kernels used before, over dtypes, sizes on both sides of the switch, every operand
layout, a matrix times its own transpose (syrk), special values (with dot's floating-point
reports), and ``forward_into``'s buffers."""

import warnings

import numpy as np
import pytest

from shared_ops.ops import linalg
from shared_ops.registry import REGISTRY


def _bits(x):
    return np.ascontiguousarray(x).view(f"u{x.itemsize}")


def _layouts(rng, shape, dt):
    a = rng.standard_normal(shape).astype(dt)
    yield "C", a
    yield "F", np.asfortranarray(a)
    yield "transposed", np.ascontiguousarray(a.T).T
    yield "strided", rng.standard_normal((shape[0], 2 * shape[1])).astype(dt)[:, ::2]
    yield "row slice", rng.standard_normal((shape[0], shape[1] + 3)).astype(dt)[:, :shape[1]]
    raw = np.zeros(a.nbytes + 1, np.uint8)[1:]  # an unaligned copy of a
    raw[:] = a.view(np.uint8).ravel()
    yield "unaligned", raw.view(dt).reshape(shape)


SHAPES = [  # (m, k, n): large outputs take the ufunc, small ones and unit dimensions stay on dot
    (150, 40, 120), (128, 10, 512), (160, 1, 130), (1, 60, 17000), (17000, 3, 1), (40, 50, 30),
    (linalg._UFUNC_MIN // 128, 7, 128),
]
# each op's operand shapes for an (m, k) @ (k, n) product, and its old spelling: ndarray.dot on
# the (transposed) operands
OPERANDS = {
    "matmul": (lambda m, k, n: ((m, k), (k, n)), lambda a, b: a.dot(b)),
    "matmul_nt": (lambda m, k, n: ((m, k), (n, k)), lambda a, b: a.dot(b.T)),
    "matmul_tn": (lambda m, k, n: ((k, m), (k, n)), lambda a, b: a.T.dot(b)),
}


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("name", list(OPERANDS))
def test_large_products_keep_the_bits_of_the_dot_spelling(dt, name):
    op = REGISTRY.get(name)
    shapes, old = OPERANDS[name]
    rng = np.random.default_rng(3)
    took_ufunc = 0
    for m, k, n in SHAPES:
        sa, sb = shapes(m, k, n)
        for la, a in _layouts(rng, sa, dt):
            for lb, b in _layouts(rng, sb, dt):
                got, want = op.forward(np, a, b), old(a, b)
                assert got.dtype == want.dtype and got.shape == want.shape, (name, m, k, n, la, lb)
                assert got.flags.c_contiguous, (name, m, k, n, la, lb)
                assert np.array_equal(_bits(got), _bits(want)), (name, m, k, n, la, lb)
                took_ufunc += m * n >= linalg._UFUNC_MIN and min(m, k, n) > 1
    assert took_ufunc  # the switch is exercised, not only dot


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_a_matrix_times_its_own_transpose_keeps_dots_bits(dt):
    rng = np.random.default_rng(4)
    for m, k in ((200, 90), (130, 129)):
        a = rng.standard_normal((m, k)).astype(dt)
        for x, y in ((a, a.T), (a.T, a)):  # one operand the other's transposed view: syrk
            assert np.array_equal(_bits(REGISTRY.get("matmul").forward(np, x, y)), _bits(x.dot(y)))
        assert np.array_equal(_bits(REGISTRY.get("matmul_nt").forward(np, a, a)), _bits(a.dot(a.T)))
        assert np.array_equal(_bits(REGISTRY.get("matmul_tn").forward(np, a, a)), _bits(a.T.dot(a)))


def test_w3s_products_keep_the_bits_of_the_dot_spelling():
    rng = np.random.default_rng(5)
    x, g = rng.standard_normal((128, 784)).astype("float32"), rng.standard_normal((128, 512)).astype("float32")
    w = rng.standard_normal((784, 512)).astype("float32")
    assert np.array_equal(_bits(REGISTRY.get("matmul").forward(np, x, w)), _bits(x.dot(w)))
    assert np.array_equal(_bits(REGISTRY.get("matmul_tn").forward(np, x, g)), _bits(x.T.dot(g)))
    assert np.array_equal(_bits(REGISTRY.get("matmul_nt").forward(np, g, w)), _bits(g.dot(w.T)))


def _reported(f):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f()
    return out, sorted(str(w.message).split(" encountered")[0] for w in caught)


def test_special_values_keep_dots_bits_and_its_floating_point_reports():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((150, 40)).astype("float32")
    b = rng.standard_normal((40, 120)).astype("float32")
    a[0, 0], a[1, :] = np.inf, -np.inf
    b[:, 0], b[3, 3] = np.nan, 3e38
    a[2, :] = 3e38
    want, reports = _reported(lambda: a.dot(b))
    assert np.isnan(want).any() and np.isinf(want).any() and reports == ["invalid value", "overflow"]
    out = np.empty((150, 120), "float32")
    for f in (lambda: REGISTRY.get("matmul").forward(np, a, b),
              lambda: REGISTRY.get("matmul").forward_into(np, a, b, out=out),
              lambda: REGISTRY.get("matmul_nt").forward(np, a, np.ascontiguousarray(b.T))):
        got, got_reports = _reported(f)
        assert np.array_equal(_bits(got), _bits(want)) and got_reports == reports


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_forward_into_a_large_buffer_keeps_forwards_bits(dt):
    op = REGISTRY.get("matmul")
    rng = np.random.default_rng(7)
    m, k, n = 150, 40, 120
    b = rng.standard_normal((k, n)).astype(dt)
    for name, a in _layouts(rng, (m, k), dt):
        want = op.forward(np, a, b)
        for out in (np.empty((m, n), dt), np.empty((n, m), dt).T):
            assert op.forward_into(np, a, b, out=out) is out
            assert np.array_equal(_bits(out), _bits(want)), (name, out.strides)
    # an output overlapping an operand: dot's product, written once it is computed
    buf = rng.standard_normal((m, m)).astype(dt)
    bm = rng.standard_normal((k, m)).astype(dt)
    want = buf[:, :k].dot(bm)
    assert op.forward_into(np, buf[:, :k], bm, out=buf) is buf
    assert np.array_equal(_bits(buf), _bits(want))
