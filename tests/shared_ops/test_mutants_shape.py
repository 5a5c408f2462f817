"""Shape ops' paths the op suite's examples never reached (surviving mutants): transpose's
rule on three or more axes, reshape's inference with a free dimension, squeeze's grad_fn
names beside PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import shared_ops as so
from shared_ops import Spec, testing


@pytest.mark.parametrize("axes", [(2, 0, 1), (1, 2, 0), (-1, 0, 1), (0, 2, 1, 3)], ids=str)
def test_transpose_rule_on_three_and_four_axes(axes):
    shape = (2, 3, 4, 5)[:len(axes)]
    x = np.random.default_rng(len(axes)).standard_normal(shape)
    testing.check_vjp("transpose", (x,), {"axes": axes})


def test_reshape_with_a_free_dimension_keeps_the_known_ones():
    spec = so.get_op("reshape").infer(Spec((None, 6), "float32"), shape=(-1, 2, 3))
    assert spec == Spec((None, 2, 3), "float32")


@pytest.mark.torch
def test_squeeze_grad_fn_names_are_pytorchs_for_one_and_several_axes():
    torch = pytest.importorskip("torch")
    x, t = dg.zeros(1, 3, 1, requires_grad=True), torch.zeros(1, 3, 1, requires_grad=True)
    for axis in (0, (0, 2)):
        assert x.squeeze(axis).grad_fn.name() == t.squeeze(axis).grad_fn.name()


@pytest.mark.torch
def test_transpose_and_index_grad_fn_names_are_pytorchs():
    torch = pytest.importorskip("torch")
    x, t = dg.zeros(2, 3, 4, requires_grad=True), torch.zeros(2, 3, 4, requires_grad=True)
    cases = [lambda v: v.transpose(0, 1), lambda v: v.transpose(2, 0), lambda v: v.permute(2, 0, 1),
             lambda v: v[1:], lambda v: v[0], lambda v: v[None], lambda v: v[:, 1:3], lambda v: v[..., 0],
             lambda v: v[:, :], lambda v: v[[0, 1]]]
    for k, f in enumerate(cases):
        assert f(x).grad_fn.name() == f(t).grad_fn.name(), k


def test_reshape_refuses_a_free_dimension_that_does_not_divide():
    with pytest.raises(so.ShapeError, match="cannot reshape"):
        so.get_op("reshape").infer(Spec((6,), "float32"), shape=(-1, 4))


@pytest.mark.parametrize("index", [2, -1, (slice(None), -2), (-3, slice(1, None)), (2, [0, 1, 3]), ([0, 2], -1)],
                         ids=str)
def test_integer_indices_past_one_and_negative_select_as_numpy(index):
    """Alone and beside an index array (the advanced path normalises them itself)."""
    data = np.arange(12.0).reshape(3, 4)
    x = dg.tensor(data, requires_grad=True)
    y = x[index]
    assert y.detach().numpy().tobytes() == data[index].tobytes()
    y.sum().backward()
    want = np.zeros_like(data)
    want[index] = 1.0
    assert x.grad.numpy().tobytes() == want.tobytes()


FULL = ("s", None, None, None)


@pytest.mark.parametrize("spec,key", [
    ((("a",), ("i", 2)), lambda a: (a, 2)),
    ((("a",), ("i", -1)), lambda a: (a, -1)),
    ((("i", -2), ("a",)), lambda a: (-2, a)),
    ((("a",), FULL, ("i", 3)), lambda a: (a, slice(None), 3)),
], ids=["array,2", "array,-1", "-2,array", "array,:,3"])
def test_the_getitem_op_with_integers_beside_index_arrays_follows_numpy(spec, key):
    """The op itself (NumPy semantics; the surface splits such an index PyTorch's way before it
    gets here): integers beside an index array are advanced indices, normalised by the op."""
    data = np.arange(60.0).reshape(3, 4, 5)
    idx = np.array([2, 0, 1])
    x = dg.tensor(data, requires_grad=True)
    y = dg.apply_op("getitem", x, dg.tensor(idx), index=spec)
    assert y.detach().numpy().tobytes() == data[key(idx)].tobytes()
    y.sum().backward()
    want = np.zeros_like(data)
    np.add.at(want, key(idx), 1.0)
    assert x.grad.numpy().tobytes() == want.tobytes()


@pytest.mark.parametrize("n_given", [1, 3])
def test_getitem_refuses_fewer_or_more_index_arrays_than_its_spec_uses(n_given):
    """Too few arrays would fail later with a bare StopIteration, too many would be ignored."""
    x = Spec((3, 4), "float32")
    arrays = [Spec((2,), "int64")] * n_given
    with pytest.raises(so.ShapeError, match=f"uses 2 array\\(s\\) but {n_given} were given"):
        so.get_op("getitem").infer(x, *arrays, index=(("a",), ("a",)))


@pytest.mark.parametrize("shapes", [((2, 3), (2, 4)), ((2, 3), (3,)), ((2, 3), (2, 3), (2, 3, 1))], ids=str)
def test_concatenate_refuses_shapes_that_differ_outside_the_axis_in_both_front_ends(shapes):
    import staticgraph as sg

    msg = "differ outside axis 0"
    with pytest.raises(so.ShapeError, match=msg):
        so.get_op("concatenate").infer(*[Spec(s, "float32") for s in shapes], axis=0)
    with pytest.raises(so.ShapeError, match=msg):
        dg.concatenate([dg.zeros(*s) for s in shapes], axis=0)
    with sg.Graph(), pytest.raises(so.ShapeError, match=msg):
        sg.concatenate([sg.placeholder(s, "float32") for s in shapes], axis=0)
    # a free dimension matches any size
    assert so.get_op("concatenate").infer(Spec((None, 3), "float32"), Spec((2, 3), "float32"), axis=0) == \
        Spec((None, 3), "float32")
