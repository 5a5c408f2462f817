"""Disagreements with PyTorch 2.13 that the differential fuzzer (``graphcompare.torchfuzz``)
found in its long runs, each replayed here as a regression test (float64, values, gradients,
versions and ``grad_fn`` names compared)."""

import numpy as np
import pytest

import dyngraph as dg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _facts(m, program):
    x = m.tensor([[1.0, 2.0, 3.0]], dtype=m.float64, requires_grad=True)
    y = x * 1
    exec(program, {"m": m, "y": y})  # noqa: S102  (the programs below)
    (y * m.tensor([[1.0, 2.0, 3.0]], dtype=m.float64)).sum().backward()
    return y.grad_fn.name(), y.tolist(), x.grad.tolist(), y._version


# ``x[k] = v`` is PyTorch's copy_to: full slices and ``...`` write into ``x`` itself
# (CopyBackwards / FillBackward3, not CopySlices), a 0-d value of another shape is a fill_
@pytest.mark.parametrize("program", [
    "y[...] = m.tensor(1.0)", "y[...] = 2.0", "y[:] = m.tensor([[1.0, 2.0, 3.0]])", "y[..., :] = 2.0",
    "y[0:1] = 2.0", "y[0:5] = 3.0", "y[:, ::1] = 3.0", "y[:, 0:3] = m.tensor([7.0, 8.0, 9.0])",
    "y[:, 1:] = 2.0", "y[0] = m.tensor([1.0, 2.0, 3.0])", "y[0, 0] = 5.0",
])
def test_setitem_writes_where_pytorch_writes(program):
    assert _facts(dg, program) == _facts(torch, program)


def test_a_view_written_in_place_is_regenerated_as_as_strided():
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        y = x * 1
        v, w = y[1:], y.narrow(0, 0, 2)
        v.sub_(0.5)
        return v.grad_fn.name(), w.grad_fn.name(), y.grad_fn.name()

    assert run(dg) == run(torch) == ("AsStridedBackward0", "AsStridedBackward0", "torch::autograd::CopySlices")


def test_an_in_place_op_that_casts_is_named_after_the_op():
    def run(m):
        t = m.tensor([1.5, 2.5], dtype=m.float32)
        w = m.tensor([2.0, 3.0], dtype=m.float64, requires_grad=True)
        t.mul_(w)
        t.sum().backward()
        return t.grad_fn.name(), t.dtype == m.float32, w.grad.tolist()

    assert run(dg) == run(torch)


def test_copy_slices_refuses_a_second_backward_as_pytorchs_does():
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        y = 10 - x          # RsubBackward1: saves nothing
        v = y[:2]
        v.copy_(m.tensor([4.0, 5.0], dtype=m.float64))
        v.sum().backward()  # frees the graph
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            (v * 1).sum().backward()
        return x.grad.tolist()

    assert run(dg) == run(torch)


def test_a_backward_that_failed_inside_copy_slices_fails_the_same_way_again():
    """PyTorch's CopySlices runs the write's own rule inside itself: when that rule finds a saved
    value modified in place, nothing is released, and a second backward raises the same error
    (not "backward through the graph a second time"). Found by the fuzzer after 31 programs."""
    def run(m):
        x = m.tensor([[-0.98, -1.86, 1.0], [0.58, -1.2, -1.36]], dtype=m.float64, requires_grad=True)
        t = x * 1.5
        (t * (t * 1.0).exp()).sum().backward()
        t[1:].mul_(t[1:])  # saves t[1:], then modifies it
        seen = []
        for retain in (False, True, False):
            with pytest.raises(RuntimeError) as err:
                t.sum().backward(retain_graph=retain)
            seen.append("modified by an inplace operation" in str(err.value))
        return seen

    assert run(dg) == run(torch) == [True, True, True]


def test_a_write_through_a_detached_alias_regenerates_the_views():
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        v = x[::2]
        x.detach()[m.tensor([0, 0])] = 2.0   # bumps the shared version
        (v * 2).sum().backward()
        return v.grad_fn.name(), v._version, x.grad.tolist()

    assert run(dg) == run(torch)


def test_an_empty_view_has_no_overlapping_elements():
    def run(m):
        t = m.tensor([[[-1, 0, 1]], [[-3, 0, -2]]])
        e = t.narrow(2, 1, 1).diagonal(1, 1, 2)  # shape (2, 0)
        e.copy_(m.tensor(2))
        return tuple(e.shape), t.tolist(), t._version

    assert run(dg) == run(torch)


@pytest.mark.parametrize("start, length", [(-1, 1), (-3, 1), (3, 0), (1, 2)])
def test_narrow_counts_a_negative_start_from_the_end(start, length):
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        y = x.narrow(0, start, length)
        (y * 2).sum().backward()
        return y.tolist(), x.grad.tolist()

    assert run(dg) == run(torch)


@pytest.mark.parametrize("size, start", [(0, -1), (3, 4), (3, -4)])
def test_narrow_refuses_a_start_out_of_range(size, start):
    for m in (torch, dg):
        with pytest.raises(IndexError, match=r"start out of range \(expected to be in range of"):
            m.zeros(size).narrow(0, start, 1)


@pytest.mark.parametrize("name, shape, dim", [("max", (0, 3), 0), ("min", (3, 0), 1)])
def test_max_along_an_empty_dim_is_refused_as_pytorch_does(name, shape, dim):
    for m in (torch, dg):
        with pytest.raises(IndexError, match=rf"{name}\(\): Expected reduction dim {dim} to have non-zero size"):
            getattr(m.zeros(*shape), name)(dim)
    assert tuple(dg.zeros(0, 3).max(1).values.shape) == tuple(torch.zeros(0, 3).max(1).values.shape)


def test_narrow_past_the_end_is_a_runtime_error_as_in_pytorch():
    for m in (torch, dg):
        with pytest.raises(RuntimeError, match=r"start \(2\) \+ length \(5\) exceeds dimension size \(4\)"):
            m.arange(4.0).narrow(0, 2, 5)


@pytest.mark.parametrize("make", [
    "m.tensor([1, 2, 3], dtype=m.int8).prod()", "m.tensor([True, False, True]).prod()",
    "m.tensor([[1, 2], [3, 4]], dtype=m.int32).prod(0)", "m.tensor([100] * 10, dtype=m.int8).prod()",
    "m.tensor([[True], [True]]).prod(1, keepdim=True)",
])
def test_integer_and_bool_products_are_int64(make):
    """PyTorch's prod accumulates integers and bools in int64 (as its sum); staticgraph's
    declared dtype says the same."""
    import staticgraph as sg

    t, d = (eval(make, {"m": m}) for m in (torch, dg))  # noqa: S307  (our own expressions)
    assert str(d.dtype).endswith(str(t.dtype).split(".")[-1]) and d.tolist() == t.tolist()
    src = eval(make.split(".prod")[0], {"m": dg})  # noqa: S307
    with sg.Graph():
        node = sg.placeholder(tuple(src.shape), dtype=src._dtype_name)
        out = eval("node.prod" + make.split(".prod")[1], {"node": node})  # noqa: S307
        assert out._dtype_name == "int64"
