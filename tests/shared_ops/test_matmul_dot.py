"""matmul's NumPy kernels take ``ndarray.dot`` for a matrix and a matrix or vector: on
contiguous operands the bits must be the matmul ufunc's (what NumPy's ``@`` gives), and
``forward_into`` must give ``forward``'s bits for every layout (the memory plan swaps one for
the other)."""

import numpy as np
import pytest

from shared_ops.registry import REGISTRY


def _matrices(rng, m, k, dt):
    a = rng.standard_normal((m, k)).astype(dt)
    yield "C", a, True
    yield "F", np.asfortranarray(a), True
    yield "transposed", rng.standard_normal((k, m)).astype(dt).T, True
    yield "strided", rng.standard_normal((m, 2 * k)).astype(dt)[:, ::2], False


def _bits(x):
    return np.ascontiguousarray(x).view(f"u{x.itemsize}")


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_products_with_a_vector_are_the_ufuncs_on_contiguous_matrices_and_forward_into_matches(dt):
    op = REGISTRY.get("matmul")
    rng = np.random.default_rng(0)
    for m, k in ((20, 20), (20, 10), (7, 33), (1, 5), (64, 3)):
        for name, a, contiguous in _matrices(rng, m, k, dt):
            for v in (rng.standard_normal(k).astype(dt), rng.standard_normal(2 * k).astype(dt)[::2]):
                got = op.forward(np, a, v)
                if contiguous:
                    assert np.array_equal(_bits(got), _bits(np.matmul(a, v))), (name, m, k, v.strides)
                out = np.empty(m, dt)
                assert op.forward_into(np, a, v, out=out) is out
                assert np.array_equal(_bits(out), _bits(got)), (name, m, k)
            w = rng.standard_normal(m).astype(dt)  # vector @ matrix
            got = op.forward(np, w, a)
            if contiguous:
                assert np.array_equal(_bits(got), _bits(np.matmul(w, a))), (name, m, k)
            out = np.empty(k, dt)
            assert op.forward_into(np, w, a, out=out) is out and np.array_equal(_bits(out), _bits(got))


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_forward_into_gives_forwards_bits_for_matrices_of_every_layout(dt):
    op = REGISTRY.get("matmul")
    rng = np.random.default_rng(1)
    for m, k, n in ((20, 20, 1), (12, 30, 7), (3, 4, 5)):
        for name, a, _ in _matrices(rng, m, k, dt):
            b = rng.standard_normal((k, n)).astype(dt)
            got = op.forward(np, a, b)
            for out in (np.empty((m, n), dt), np.empty((n, m), dt).T):  # a C and a non-C out
                assert op.forward_into(np, a, b, out=out) is out
                assert np.array_equal(_bits(out), _bits(got)), (name, out.strides)
