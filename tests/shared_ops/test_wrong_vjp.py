"""The suite can fail: a deliberately wrong rule in a test-only registry is caught.

The wrong ops live in ``Registry(parent=REGISTRY)``, so the global registry is untouched.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_op_suite import check_op

import shared_ops as so
from shared_ops.testing import EXAMPLES, check_infer, check_vjp, example_inputs

_REF = {"bad_tanh": np.tanh, "tanh": np.tanh, "bad_sum": lambda x: np.sum(x)}


@pytest.fixture
def child():
    reg = so.Registry(parent=so.REGISTRY)
    saved = dict(EXAMPLES)
    yield reg
    EXAMPLES.clear()
    EXAMPLES.update(saved)


def _register_bad_tanh(reg, name="bad_tanh", replace=False):
    return reg.register(
        name,
        forward=lambda xp, x: xp.tanh(x),
        infer=so.get_op("tanh").infer,
        vjp=lambda ops, g, inputs, output: (ops.mul(g, ops.sub(1.0, output)),),  # wrong: 1 - y, not 1 - y^2
        elementwise=True, save_inputs=False, save_output=True, replace=replace,
    )


def test_wrong_vjp_is_caught_by_check_vjp(child):
    op = _register_bad_tanh(child)
    with pytest.raises(AssertionError, match="bad_tanh: the vjp of input 0 disagrees with finite differences"):
        check_vjp(op, (np.array([0.3, -1.2, 0.8]),), registry=child)


def test_wrong_vjp_fails_the_registry_suite(child):
    op = _register_bad_tanh(child)
    EXAMPLES["bad_tanh"] = EXAMPLES["tanh"]
    with pytest.raises(AssertionError, match="disagrees with finite differences"):
        check_op(op, seed=0, registry=child, reference=_REF)


def test_overriding_a_builtin_in_a_child_registry_is_caught_there_only(child):
    bad = _register_bad_tanh(child, "tanh")
    assert child.get("tanh") is bad and so.get_op("tanh") is not bad
    with pytest.raises(AssertionError):
        check_op(bad, seed=1, registry=child, reference=_REF)
    check_op(so.get_op("tanh"), seed=1, reference=_REF)  # the real one still passes


def test_rule_reading_an_unsaved_input_is_caught(child):
    op = child.register(
        "leaky_exp",
        forward=lambda xp, x: xp.exp(x),
        infer=so.get_op("exp").infer,
        vjp=lambda ops, g, inputs, output: (ops.mul(g, ops.exp(inputs[0])),),  # reads x, declared unsaved
        save_inputs=False, save_output=True,
    )
    with pytest.raises((TypeError, AttributeError)):
        check_vjp(op, (np.array([0.1, 0.2]),), registry=child)


def test_wrong_infer_is_caught(child):
    op = child.register(
        "bad_sum",
        forward=lambda xp, x: xp.sum(x),
        infer=lambda x: so.Spec(x.shape, x.dtype),  # wrong: a full sum is 0-d
        vjp=None,
    )
    with pytest.raises(AssertionError, match=r"bad_sum: infer says \(2, 3\) float64 but forward returns \(\)"):
        check_infer(op, (np.ones((2, 3)),), registry=child)


def test_an_op_without_examples_fails_the_suite(child):
    op = child.register("untested", forward=lambda xp, x: x, infer=lambda x: x, vjp=lambda ops, g, i, o: (g,))
    with pytest.raises(LookupError, match=r"no example inputs for op 'untested'.*@shared_ops.testing.example"):
        list(example_inputs(op))
    with pytest.raises(AssertionError, match="no NumPy reference"):
        check_op(op, seed=0, registry=child, reference=_REF)
