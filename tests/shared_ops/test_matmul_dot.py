"""matmul's NumPy kernels take ``ndarray.dot`` where it makes the same BLAS call as the matmul
ufunc: the bits must be the ufunc's, and ``forward_into`` must give ``forward``'s bits."""

import numpy as np
import pytest

from shared_ops.registry import REGISTRY


def _layouts(rng, m, k, dt):
    a = rng.standard_normal((m, k)).astype(dt)
    yield "C", a
    yield "F", np.asfortranarray(a)
    yield "transposed", rng.standard_normal((k, m)).astype(dt).T
    yield "strided", rng.standard_normal((m, 2 * k)).astype(dt)[:, ::2]


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_matrix_times_vector_is_the_matmul_ufuncs_product_bit_for_bit(dt):
    op = REGISTRY.get("matmul")
    rng = np.random.default_rng(0)
    for m, k in ((20, 20), (20, 10), (7, 33), (1, 5), (64, 3)):
        for name, a in _layouts(rng, m, k, dt):
            for v in (rng.standard_normal(k).astype(dt), rng.standard_normal(2 * k).astype(dt)[::2]):
                got = op.forward(np, a, v)
                assert got.tobytes() == np.matmul(a, v).tobytes(), (name, m, k, v.strides)
                out = np.empty(m, dt)
                assert op.forward_into(np, a, v, out=out) is out
                assert out.tobytes() == got.tobytes(), (name, m, k)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_forward_into_gives_forwards_bits_for_matrices_of_every_layout(dt):
    op = REGISTRY.get("matmul")
    rng = np.random.default_rng(1)
    for m, k, n in ((20, 20, 1), (12, 30, 7), (3, 4, 5)):
        for name, a in _layouts(rng, m, k, dt):
            b = rng.standard_normal((k, n)).astype(dt)
            got = op.forward(np, a, b)
            for out in (np.empty((m, n), dt), np.empty((n, m), dt).T):  # a C and a non-C out
                assert op.forward_into(np, a, b, out=out) is out
                assert np.array_equal(out.view(f"u{out.itemsize}"), got.view(f"u{got.itemsize}")), (name, out.strides)
