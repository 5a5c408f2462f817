"""Every fact about an op lives on its declaration, and the op suite checks each one."""

import dataclasses

import numpy as np
import pytest

import shared_ops as so
from shared_ops import testing


def _without(name: str, **changes) -> so.OpDef:
    """A copy of op ``name`` with some traits changed, registered in a child registry."""
    op = so.get_op(name)
    return dataclasses.replace(op, **changes)


@pytest.mark.parametrize("name", ["reshape", "transpose", "squeeze", "expand_dims", "broadcast_to", "getitem"])
def test_removing_view_of_from_an_aliasing_op_fails_the_suite(name):
    op = _without(name, view_of=(), may_alias=())
    with pytest.raises(AssertionError, match="shares memory with input 0.*declare view_of"):
        for seed in range(3):
            for inputs, attrs in testing.example_inputs(so.get_op(name), seed, "float64"):
                testing.check_traits(op, inputs, attrs)


def test_view_ops_declare_view_of_and_it_implies_may_alias():
    views = {op.name for op in so.all_ops() if op.view_of}
    assert {"reshape", "transpose", "squeeze", "expand_dims", "broadcast_to", "getitem"} <= views
    for op in so.all_ops():
        assert set(op.view_of) <= set(op.may_alias), op.name


def test_a_false_commutative_claim_fails():
    op = _without("sub", commutative=True)
    with pytest.raises(AssertionError, match="declared commutative"):
        testing.check_traits(op, (np.array([1.0, 2.0]), np.array([3.0, 5.0])))


def test_a_false_reduction_claim_fails():
    op = _without("broadcast_to", reduction=True)
    with pytest.raises(AssertionError, match="declared a reduction"):
        testing.check_traits(op, (np.array([1.0, 2.0]),), {"shape": (3, 2)})


def test_a_wrong_forward_into_fails():
    op = _without("exp", forward_into=lambda xp, a, out: xp.expm1(a, out=out))
    with pytest.raises(AssertionError, match="not bitwise equal"):
        testing.check_traits(op, (np.array([0.5, 2.0]),))


def test_a_forward_into_that_ignores_out_fails():
    op = _without("exp", forward_into=lambda xp, a, out: xp.exp(a))
    with pytest.raises(AssertionError, match="returned a new array|not bitwise equal"):
        testing.check_traits(op, (np.array([0.5, 2.0]),))


@pytest.mark.parametrize("op", [op for op in so.all_ops() if op.forward_into is not None], ids=lambda op: op.name)
def test_every_forward_into_is_bitwise_forward(op):
    for seed in range(2):
        for dtype in ("float64", "float32"):
            for inputs, attrs in testing.example_inputs(op, seed, dtype):
                testing.check_traits(op, inputs, attrs)
