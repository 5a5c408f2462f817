"""Traits declared on ops that no other test checked (mutants of ``linear`` and ``nondiff``
survived the suite): ``linear`` is measured against the op's NumPy kernel on its examples."""

from __future__ import annotations

import numpy as np
import pytest

import shared_ops as so
from shared_ops import testing


def _examples(op, seeds=range(3)):
    try:
        return [case for seed in seeds for case in testing.example_inputs(op, seed, "float64")]
    except LookupError:  # an op without examples fails the op suite, not this test
        return []


def _partner(op, k: int, arrays: list, diff: list) -> list:
    """Inputs to add to ``arrays``: each differentiable input's values taken from another
    example of ``op`` (independent of ``arrays``, signs included) and halved, the others as
    they are. Ops declare their domain by their examples (``log`` and ``rsqrt`` positive,
    ``log1p`` above -1...), and halving keeps ``x + y`` and ``1.5 x`` in it: on such a
    domain a kernel is measured where it is defined (no NaN to compare)."""
    other = _examples(op, seeds=(1000 + k,))
    donor = [np.asarray(x) for x in other[0][0]] if other else arrays
    out = []
    for i, x in enumerate(arrays):
        if i not in diff:
            out.append(x)
            continue
        v = donor[i].ravel() if i < len(donor) and donor[i].dtype.kind == "f" and donor[i].size else x.ravel()
        out.append(0.5 * np.resize(v, x.shape).astype(np.float64))
    return out


def _is_linear(op, cases) -> bool | None:
    """Whether ``op`` is linear in its differentiable inputs, jointly, on every example
    (``f(x + y) = f(x) + f(y)`` and ``f(1.5 x) = 1.5 f(x)``, ``y`` from ``_partner``); None
    when it has none."""
    seen = False
    for k, (inputs, attrs) in enumerate(cases):
        arrays = [np.asarray(x) for x in inputs]
        diff = [i for i, x in enumerate(arrays) if x.dtype.kind == "f" and i not in op.nondiff]
        if not diff:
            return None
        other = _partner(op, k, arrays, diff)
        bound = op.bind_attrs(dict(attrs))

        def f(xs):
            return np.asarray(op.forward(np, *xs, **bound), dtype=np.float64)

        both = f([x + y if i in diff else x for i, (x, y) in enumerate(zip(arrays, other))])
        scaled = f([1.5 * x if i in diff else x for i, x in enumerate(arrays)])
        a, b = f(arrays), f(other)
        seen = True
        if not (np.allclose(both, a + b, rtol=1e-9, atol=1e-12) and np.allclose(scaled, 1.5 * a, rtol=1e-9, atol=1e-12)):
            return False
    return seen or None


@pytest.mark.parametrize("op", so.all_ops(), ids=lambda op: op.name)
def test_linear_is_declared_exactly_when_the_kernel_is_linear(op):
    measured = _is_linear(op, _examples(op))
    if measured is None:
        assert not op.linear or not _examples(op), f"{op.name}: declared linear but has no differentiable input"
        return
    assert op.linear == measured, (
        f"{op.name}: declares linear={op.linear}, but its kernel is {'' if measured else 'not '}linear in its "
        f"differentiable inputs on its examples; correct the declaration")


@pytest.mark.parametrize("op", [op for op in so.all_ops() if op.nondiff], ids=lambda op: op.name)
def test_nondiff_holds_input_positions(op):
    """Positions are counted from 0 (a negative one never matches an input, so the input it
    meant would be differentiated); an op may name positions of optional trailing inputs."""
    assert all(isinstance(p, int) and p >= 0 for p in op.nondiff), f"{op.name}: nondiff={sorted(op.nondiff)}"

