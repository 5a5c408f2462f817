"""One test walks the registry: every op registered is checked, with no per-op test code.

For each op, on NumPy and on array-api-strict (which proves the kernels use only ``xp``),
with hypothesis choosing the seed of the op's example generator:

- forward against an independent NumPy reference (``_so_reference.REFERENCE``);
- ``infer`` against ``forward`` (distinct dimension sizes, broadcasting, and once more with
  a dimension declared free);
- float32 and float64 in, the same float dtype out, and gradients in the input's dtype;
- the VJP against central differences in float64 (random projection).

An op with no example generator or no reference FAILS here, so a new op is covered (or
reported) the moment it is registered.
"""

from __future__ import annotations

import numpy as np
import pytest
from _so_reference import REFERENCE
from hypothesis import given
from hypothesis import strategies as st

import shared_ops as so
from shared_ops import testing
from shared_ops.dtypes import FLOATING
from shared_ops.testing import check_infer, example_inputs

BACKENDS = ["numpy", "array_api_strict"]
DTYPE_ATTR_OPS = {"astype", "one_hot"}  # the output dtype is an attribute, not the input's


def check_op(op, seed: int, backend: str = "numpy", registry=so.REGISTRY, reference=REFERENCE) -> None:
    """Every check of the suite for one op and one seed (raises AssertionError)."""
    if op.name not in reference:
        raise AssertionError(f"op {op.name!r} has no NumPy reference: add one to tests/shared_ops/_so_reference.py")
    testing.check_op(op, seed, registry=registry, backend=backend, reference=reference[op.name])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", [op.name for op in so.all_ops()])
@given(seed=st.integers(0, 2**32 - 1))
def test_every_registered_op(name, backend, seed):
    check_op(so.get_op(name), seed, backend)


def test_float16_where_numpy_has_it():
    """float16 in, float16 out (NumPy's kernels; no gradient check at this precision)."""
    rng = np.random.default_rng(0)
    for op in so.all_ops():
        for inputs, attrs in example_inputs(op, rng, "float16"):
            spec = check_infer(op, inputs, attrs)
            if spec.dtype in FLOATING and op.name not in DTYPE_ATTR_OPS:
                assert spec.dtype == "float16", op.name


def test_integer_inputs_where_allowed():
    ints = np.array([[3, -1, 2], [0, 5, -4]], dtype=np.int32)
    for name in ("add", "sub", "mul", "neg", "abs", "sign", "relu", "maximum", "sum", "max", "transpose", "matmul"):
        op = so.get_op(name)
        inputs = (ints,) if name in ("neg", "abs", "sign", "relu", "sum", "max", "transpose") else (ints, ints if name != "matmul" else ints.T)
        spec = check_infer(op, inputs)
        assert spec.dtype == ("int64" if name == "sum" else "int32"), name  # PyTorch: integer sums give int64
    for name in ("exp", "log", "sqrt", "tanh", "sigmoid", "mean", "softmax"):
        with pytest.raises(so.DTypeError, match=name):
            so.get_op(name).infer(so.Spec((2, 3), "int32"), **({"axis": -1} if name == "softmax" else {}))
