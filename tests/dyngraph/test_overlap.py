"""In-place ops that read a tensor sharing memory with the one written, against PyTorch 2.13
(float64): PyTorch refuses a partial overlap (``t.sub_(t[0])``, ``t[1:].add_(t[:-1])``) and
allows full overlap (``t.add_(t)``), disjoint parts, and operands it cannot check cheaply
(expanded or strided). Runs on NumPy and array-api-strict (``conftest.BOTH``): the overlap is
read from the views' storage bookkeeping, not from the array library."""

import numpy as np
import pytest

import dyngraph as dg
from dyngraph import views

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

WORDS = "some elements of the input tensor and the written-to tensor refer to a single memory location"

# Each program runs with ``m`` = torch or dyngraph; ``t`` ends as the tensor compared.
REFUSED = [
    "t = m.arange(6.0).reshape(2, 3); t.sub_(t[0])",           # the case the fuzzer found
    "t = m.arange(6.0); t[1:].add_(t[:-1])",
    "t = m.arange(6.0); t[1:].copy_(t[:-1])",
    "t = m.arange(4.0).reshape(2, 2); t.add_(t.t())",            # same memory, other strides
    "t = m.arange(4.0).reshape(2, 2); t.copy_(t.t())",
    "t = m.arange(4.0); t.add_(t[0])",
    "t = m.arange(4.0); t.mul_(t[1:2])",
    "t = m.arange(4.0); t[0].add_(t)",
    "t = m.arange(4.0); t.add_(t[0], alpha=2)",                  # alpha does not hide the operand
    "t = m.arange(4.0); t += t[0]",
    "t = m.arange(4.0); t.div_(t[1:2])",
    "t = m.arange(4.0); u = t.detach(); t[1:].add_(u[:-1])",    # detach() shares the storage
    "t = m.arange(4.0)[None]; t.add_(t.squeeze(0))",            # same elements, other shape
    "t = m.arange(6.0).reshape(2, 3); t[0].add_(t[0][None])",
    "t = m.arange(6.0).reshape(2, 3); t.add_(t.view(-1)[:3])",
    "t = m.arange(4.0); t[1:] = t[:-1]",                         # setitem of the same shape is copy_
    "t = m.arange(4.0); t[m.tensor([0, 0])] = t[1]",             # index_put_: any overlap
    "t = m.arange(4.0); t[m.tensor([0, 1, 2, 3])] = t",
    "t = m.arange(4.0); t.index_add_(0, m.tensor([0, 1]), t[2:])",
    "t = m.arange(4.0); t.index_add_(0, m.tensor([0, 1, 2, 3]), t)",
    "b = m.tensor([True, False, True, False]); b[:2].masked_fill_(b[1:3], False)",
    "t = m.arange(4.0); m.add(t[1:2], t, out=t)",
    "t = m.arange(4.0); m.add(t[1:3], 1, out=t[:2])",
    "t = m.arange(6.0).reshape(3, 2); a = t.view(-1); a.div_(a[1:2])",
    "x = m.arange(4.0, requires_grad=True); t = x * 1; t.sub_(t[0])",  # recorded, too
]

ALLOWED = [
    "t = m.arange(6.0); t.add_(t)",
    "t = m.arange(6.0); t.mul_(t)",
    "t = m.arange(6.0); t[:3].add_(t[3:])",                      # disjoint
    "t = m.arange(6.0); t[:3].copy_(t[3:])",
    "t = m.arange(6.0).reshape(2, 3); t[0].add_(t[1])",
    "t = m.arange(6.0).reshape(2, 3); t.add_(t.t().t())",
    "t = m.arange(4.0).reshape(2, 2); t.view(-1).add_(t.reshape(4))",
    "t = m.arange(4.0).reshape(2, 2); t[0].add_(t[0])",
    "t = m.arange(4.0); a = t[0:2]; b = t[0:2]; a.add_(b)",      # two views, the same elements
    "t = m.arange(6.0).reshape(2, 3); t.copy_(t[:, None][:, 0])",
    "t = m.arange(6.0).reshape(2, 3); t[0].copy_(t[0])",
    "t = m.arange(4.0).reshape(2, 2); t[0].add_(t[:, 0])",       # strided: PyTorch does not check
    "t = m.arange(4.0).reshape(2, 2); t.add_(t.diagonal())",
    "t = m.arange(4.0); t.copy_(t.flip(0))",                     # flip is a copy
    "t = m.arange(4.0); t.fill_(t[1])",                          # fill_ reads the 0-d value first
    "t = m.arange(4.0); t[0] = t[1]",
    "t = m.arange(4.0); t[...] = t[0]",                          # a 0-d value is a fill
    "t = m.arange(4.0); t[1:] = t[0]",
    "t = m.arange(4.0); t[...] = t",
    "t = m.arange(4.0).reshape(2, 2); t.masked_fill_(t > 1, t[0, 0])",
    "t = m.tensor([True, False, True, False]); t.masked_fill_(t, False)",
    "t = m.arange(4.0); t.mul_(t.detach())",
    "t = m.arange(4.0); t[:0].add_(t[:0])",                      # empty
    "t = m.arange(4.0); m.add(t, t, out=t)",
    "t = m.arange(4.0); m.add(t[:2], 1, out=t[2:])",
    "t = m.arange(4.0); t.index_add_(0, m.tensor([0]), t[1:2].clone())",
]


def _run(program, m):
    ns = {"m": m}
    exec(program, ns)  # noqa: S102  (the programs above)
    return ns["t"] if "t" in ns else ns["b"]


@pytest.mark.parametrize("program", REFUSED)
def test_a_partial_overlap_is_refused_as_pytorch_does(program):
    with pytest.raises(RuntimeError, match=WORDS):
        _run(program, torch)
    with pytest.raises(RuntimeError) as info:
        _run(program, dg)
    assert WORDS in str(info.value) and "clone()" in str(info.value)


@pytest.mark.parametrize("program", ALLOWED)
def test_full_overlap_and_no_overlap_are_allowed_as_pytorch_does(program):
    t, d = _run(program, torch), _run(program, dg)
    np.testing.assert_array_equal(np.asarray(d.detach().numpy()), t.detach().numpy())
    assert d._version == t._version


def test_gradients_through_allowed_overlaps_match_pytorch():
    def grads(m):
        x = m.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
        y = x * 1
        y.add_(y)                    # full overlap: 2 y
        y[0].add_(y[1])              # disjoint rows
        y.add_(y.t().t())            # full overlap through two views
        (y * y).sum().backward()
        return y.detach().numpy(), x.grad.numpy()

    (ty, tg), (dy, dgr) = grads(torch), grads(dg)
    np.testing.assert_allclose(np.asarray(dy), ty, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(dgr), tg, rtol=1e-12)


def test_a_refused_write_changes_nothing():
    t = dg.arange(6.0).reshape(2, 3)
    with pytest.raises(RuntimeError, match="clone"):
        t.sub_(t[0])
    assert t._version == 0 and t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    t.sub_(t[0].clone())  # what the message says to do
    assert t.tolist() == [[0.0, 0.0, 0.0], [3.0, 3.0, 3.0]]


def test_overlap_status_names_pytorchs_four_cases():
    t = dg.arange(12.0).reshape(3, 4)
    assert views.overlap(t, t) == "full"
    assert views.overlap(t, t[...]) == "full"
    assert views.overlap(t, t[0]) == "partial"
    assert views.overlap(t[0], t[1]) == "no"
    assert views.overlap(t, t[:, 0]) == "too hard"       # strided
    assert views.overlap(t, t.diagonal()) == "too hard"  # a gathering kernel, still located
    assert views.overlap(t[:1].diagonal(), t[1:]) == "no"
    assert views.overlap(t, dg.arange(12.0).reshape(3, 4)) == "no"  # another storage


SPREAD = [  # views whose elements share memory (expanded): only a write of one value is allowed
    "t = m.tensor([[1.0, 2.0, 3.0]]); t.expand(2, 3).fill_(5.0)",
    "t = m.tensor([[1.0, 2.0, 3.0]]); t.t().expand(3, 2).zero_()",
    "t = m.tensor([[1.0, 2.0, 3.0]]); t.expand(2, 3)[:, 1:].fill_(7.0)",
    "t = m.tensor([[1.0, 2.0, 3.0]]); t.expand(2, 3)[1].add_(1.0)",  # one row: no shared memory
]


@pytest.mark.parametrize("program", SPREAD)
def test_fill_and_zero_write_into_an_expanded_view_as_pytorch_does(program):
    t, d = _run(program, torch), _run(program, dg)
    np.testing.assert_array_equal(np.asarray(d.numpy()), t.numpy())
    assert d._version == t._version


@pytest.mark.parametrize("write", ["add_(1.0)", "mul_(2.0)", "copy_(m.ones(2, 3))", "fill_(m.tensor(1.0))"])
def test_other_writes_into_an_expanded_view_are_refused(write):
    for m in (torch, dg):
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            exec(f"m.tensor([[1.0, 2.0, 3.0]]).expand(2, 3).{write}", {"m": m})  # noqa: S102


def test_a_fill_through_an_expanded_view_records_and_refuses_backward_as_pytorch_does():
    def run(m):
        x = m.tensor([[1.0, 2.0, 3.0]], dtype=m.float64, requires_grad=True)
        y = x * 1
        y.expand(2, 3).fill_(5.0)
        facts = (y.tolist(), y.grad_fn.name(), y._version)
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            (y * 2).sum().backward()
        return facts

    assert run(dg) == run(torch)
