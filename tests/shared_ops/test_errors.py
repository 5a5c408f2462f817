"""Bad input gives a documented error class whose message names the op, the shapes or
dtypes involved, and what to do."""

from __future__ import annotations

import numpy as np
import pytest

import shared_ops as so
from shared_ops import Spec


def infer(name, *specs, **attrs):
    op = so.get_op(name)
    return op.infer(*specs, **op.bind_attrs(attrs))


@pytest.mark.parametrize(
    "name, specs, attrs, shown",
    [
        ("add", [Spec((2, 3), "float32"), Spec((4,), "float32")], {}, ["(2, 3)", "(4,)"]),
        ("maximum", [Spec((5, 2), "float64"), Spec((3, 2), "float64")], {}, ["(5, 2)", "(3, 2)"]),
        ("matmul", [Spec((2, 3), "float32"), Spec((4, 5), "float32")], {}, ["(2, 3)", "(4, 5)", "3 != 4"]),
        ("concatenate", [Spec((2, 3), "float32"), Spec((4, 5), "float32")], {"axis": 0}, ["(2, 3)", "(4, 5)"]),
        ("stack", [Spec((2, 3), "float32"), Spec((3, 2), "float32")], {}, ["(2, 3)", "(3, 2)"]),
        ("reshape", [Spec((2, 3), "float32")], {"shape": (4,)}, ["(2, 3)", "(4,)"]),
        ("conv2d", [Spec((1, 3, 5, 5), "float32"), Spec((2, 4, 3, 3), "float32")], {}, ["(1, 3, 5, 5)", "(2, 4, 3, 3)"]),
        ("softmax_cross_entropy", [Spec((4, 3), "float32"), Spec((5,), "int64")], {}, ["(4, 3)", "(5,)"]),
        ("broadcast_to", [Spec((3,), "float32")], {"shape": (2, 4)}, ["(3,)", "(2, 4)"]),
        ("squeeze", [Spec((2, 3), "float32")], {"axis": (1,)}, ["(2, 3)"]),
    ],
)
def test_mismatched_shapes_name_the_op_and_both_shapes(name, specs, attrs, shown):
    with pytest.raises(so.ShapeError) as info:
        infer(name, *specs, **attrs)
    msg = str(info.value)
    assert name in msg and all(s in msg for s in shown), msg
    assert "docs/errors.md#shapeerror" in msg


@pytest.mark.parametrize("name, attrs", [("sum", {"axis": 2}), ("max", {"axis": (-3,)}), ("softmax", {"axis": 5}),
                                         ("mean", {"axis": (0, 0)}), ("squeeze", {"axis": 7})])
def test_bad_axis(name, attrs):
    with pytest.raises(so.AxisError, match=name):
        infer(name, Spec((2, 3), "float32"), **attrs)


def test_unknown_op_names_the_registry_and_a_close_match():
    with pytest.raises(so.UnknownOpError, match=r"unknown op 'tanhh'.*did you mean.*tanh.*all_ops"):
        so.get_op("tanhh")
    with pytest.raises(so.UnknownOpError):
        so.array_ops().softmaxx(np.ones(3))


def test_wrong_attribute():
    with pytest.raises(so.OpAttributeError, match=r"'sum' got an unexpected attribute 'axes'.*takes: axis, keepdims"):
        so.get_op("sum").bind_attrs({"axes": 1})
    with pytest.raises(so.OpAttributeError, match=r"'reshape' needs the attribute 'shape'"):
        so.get_op("reshape").bind_attrs({})
    with pytest.raises(so.OpAttributeError, match="not hashable; pass tuples"):
        so.get_op("transpose").bind_attrs({"axes": [1, 0]})
    with pytest.raises(so.OpAttributeError, match="getitem"):
        infer("getitem", Spec((2, 3), "float32"), index=[1])


def test_non_numeric_arrays_and_bad_dtypes():
    with pytest.raises(so.DTypeError, match="expected a numeric array, got str"):
        so.backend_of("abc")
    with pytest.raises(so.DTypeError, match="numeric array"):
        so.common_backend([np.ones(2), [1, 2]], "add")
    with pytest.raises(so.DTypeError, match="exp: needs floating-point input, got int64"):
        infer("exp", Spec((2,), "int64"))
    with pytest.raises(so.DTypeError, match="add: inputs have different dtypes"):
        infer("add", Spec((2,), "float32"), Spec((2,), "float64"))
    with pytest.raises(so.DTypeError, match="where: the condition must be bool"):
        infer("where", Spec((2,), "float32"), Spec((2,), "float32"), Spec((2,), "float32"))
    with pytest.raises(so.DTypeError, match="index arrays must be integers"):
        infer("getitem", Spec((2,), "float32"), Spec((2,), "float32"), index=(("a",),))
    with pytest.raises(so.DTypeError, match="labels must be integers"):
        infer("softmax_cross_entropy", Spec((2, 3), "float32"), Spec((2,), "float32"))
    with pytest.raises(so.DTypeError, match="cannot reduce a bool"):
        infer("max", Spec((2,), "bool"))
    assert infer("sum", Spec((2,), "bool")).dtype == "int64"  # PyTorch: bool and int sums give int64
    with pytest.raises(so.DTypeError, match="mean\\(\\): could not infer output dtype.*Got: Long"):
        infer("mean", Spec((2,), "int64"))
    with pytest.raises(so.DTypeError, match="unsupported dtype"):
        so.dtype_name("complex64")


def test_out_of_bounds_indices():
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        infer("getitem", Spec((3,), "float32"), index=(("i", 5),))
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 3"):
        so.get_op("getitem").forward(np, np.ones((2, 3)), np.array([0, 3]), index=(("s", None, None, None), ("a",)))
    with pytest.raises(IndexError, match="too many indices"):
        infer("getitem", Spec((3,), "float32"), index=(("i", 0), ("i", 0)))
    with pytest.raises(IndexError, match=r"labels must be in \[0, 3\)"):
        so.array_ops().softmax_cross_entropy(np.ones((2, 3)), np.array([0, 3]))


def test_free_dimensions_are_accepted_until_run_time():
    assert infer("add", Spec((None, 3), "float32"), Spec((4, 1), "float32")).shape == (4, 3)
    assert infer("matmul", Spec((None, 3), "float32"), Spec((3, 5), "float32")).shape == (None, 5)
    assert infer("reshape", Spec((None, 3), "float32"), shape=(-1,)).shape == (None,)
    assert infer("sum_to", Spec((None, 3), "float32"), shape=(1, 3)).shape == (1, 3)
    assert infer("conv2d", Spec((None, 3, 8, 8), "float32"), Spec((4, 3, 3, 3), "float32"), stride=(2, 2)).shape == (None, 4, 3, 3)


def test_a_hand_made_index_spec_points_to_the_public_way():
    with pytest.raises(so.OpAttributeError, match=r"not an index spec.*index with x\[\.\.\.\]") as info:
        infer("getitem", Spec((3,), "float32"), index=(0,))
    assert "_parse_index" not in str(info.value) and "shared_ops.shared_ops" not in str(info.value)


def test_reshape_rule_is_one_rule_for_the_surface_and_the_op():
    """The surface's ``-1`` and the op's ``infer`` give the same shapes and the same errors."""
    import dyngraph as dg

    x = dg.tensor(np.zeros((2, 3, 4)))
    for new in [(-1,), (4, -1), (6, 4), (-1, 2, 2)]:
        assert x.reshape(new).shape == infer("reshape", Spec((2, 3, 4), "float64"), shape=new).shape
    for bad in [(-1, -1), (5, -1), (-2, 12), (7,)]:
        with pytest.raises(so.ShapeError, match="reshape:") as a:
            x.reshape(bad)
        with pytest.raises(so.ShapeError, match="reshape:"):
            infer("reshape", Spec((2, 3, 4), "float64"), shape=bad)
        assert "(2, 3, 4)" in str(a.value) or "-1" in str(a.value)
