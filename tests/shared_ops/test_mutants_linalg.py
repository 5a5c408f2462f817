"""Paths of the gradient rules that the op suite's examples never reached (surviving mutants):
each input's gradient asked for alone, matmul at every rank combination, past the cached
transpose permutations, and the scalar-operand refusal."""

from __future__ import annotations

import numpy as np
import pytest

import shared_ops as so
from shared_ops import ShapeError, Spec, testing


def _cases(op, seeds=range(2)):
    try:
        return [case for seed in seeds for case in testing.example_inputs(op, seed, "float64")]
    except LookupError:  # no examples: the op suite fails on it
        return []


@pytest.mark.parametrize("op", [op for op in so.all_ops() if op.vjp is not None], ids=lambda op: op.name)
def test_each_gradient_asked_for_alone_is_the_same(op):
    """A rule that reads the wrong ``needs_input_grad`` entry drops (or computes for nothing)
    a gradient only when its inputs are not all wanted: ask for each one alone."""
    for inputs, attrs in _cases(op):
        n = len(inputs)
        wanted = [i for i, x in enumerate(inputs) if np.asarray(x).dtype.kind == "f" and i not in op.nondiff]
        if n < 2 or not wanted:
            continue
        _, full = testing.run_vjp(op, inputs, attrs)
        for i in wanted:
            mask = tuple(k == i for k in range(n))
            _, alone = testing.run_vjp(op, inputs, attrs, needs_input_grad=mask)
            assert (alone[i] is None) == (full[i] is None), f"{op.name}: gradient {i} asked for alone: {alone[i]!r}"
            if full[i] is not None:
                assert np.asarray(alone[i]).tobytes() == np.asarray(full[i]).tobytes(), f"{op.name}: gradient {i}"


RANKS = [((4,), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((3, 4), (4,)), ((4,), (4, 5)),
         ((3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
         # nine dimensions: past the cached transpose permutations (2 to 8 dimensions)
         ((1, 1, 1, 1, 1, 1, 2, 3, 4), (4,)), ((1, 1, 1, 1, 1, 1, 2, 3, 4), (1, 1, 1, 1, 1, 1, 2, 4, 3))]


@pytest.mark.parametrize("sa, sb", RANKS, ids=str)
def test_matmul_at_every_rank_against_numpy_and_finite_differences(sa, sb):
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out = so.get_op("matmul").forward(np, a, b)
    np.testing.assert_allclose(out, np.matmul(a, b), rtol=1e-12, atol=1e-12)
    testing.check_vjp("matmul", (a, b))


@pytest.mark.parametrize("name", ["matmul_nt", "matmul_tn"])
def test_transposed_products_past_the_cached_permutations(name):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((1, 1, 1, 1, 1, 1, 2, 3, 4))
    b = rng.standard_normal((1, 1, 1, 1, 1, 1, 2, 5, 4) if name == "matmul_nt" else (1, 1, 1, 1, 1, 1, 2, 3, 5))
    want = np.matmul(a, np.swapaxes(b, -1, -2)) if name == "matmul_nt" else np.matmul(np.swapaxes(a, -1, -2), b)
    np.testing.assert_allclose(so.get_op(name).forward(np, a, b), want, rtol=1e-12, atol=1e-12)
    testing.check_vjp(name, (a, b))


@pytest.mark.parametrize("sa, sb", [((), (3,)), ((3,), ())])
def test_matmul_refuses_a_scalar_operand_either_side(sa, sb):
    with pytest.raises(ShapeError, match="at least 1 dimension"):
        so.get_op("matmul").infer(Spec(sa, "float64"), Spec(sb, "float64"))


@pytest.mark.parametrize("sa, sb", [((3, 4), (5, 4)), ((2, 3, 4), (5, 4)), ((2, 3, 4), (2, 5, 4)), ((3, 4), (2, 5, 4))], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transposed_products_are_bitwise_the_plain_product_on_a_view(sa, sb, dtype):
    """matmul_nt / matmul_tn promise the bytes of transpose + matmul (one op fewer, same
    arithmetic): a fast path that took ndarray.dot on batched operands would round differently."""
    rng = np.random.default_rng(len(sa) + 3 * len(sb))
    a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    matmul = so.get_op("matmul").forward
    nt = so.get_op("matmul_nt").forward(np, a, b)
    assert nt.tobytes() == matmul(np, a, np.swapaxes(b, -1, -2)).tobytes()
    at = np.ascontiguousarray(np.swapaxes(a, -1, -2))  # a^T stored, so matmul_tn(at, b) = a @ b
    tn = so.get_op("matmul_tn").forward(np, at, np.swapaxes(b, -1, -2).copy())
    assert tn.tobytes() == matmul(np, np.swapaxes(at, -1, -2), np.swapaxes(b, -1, -2).copy()).tobytes()
