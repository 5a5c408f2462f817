"""``x[indices] = v`` and ``masked_fill_`` into an expanded tensor, against PyTorch 2.13: both
warn that it is deprecated ("Please clone() the tensor") and write; where several elements are
one memory location, the last written lands there; a backward through the write is refused
(``dyngraph.inplace_index``)."""

from __future__ import annotations

import warnings

import pytest

import dyngraph as dg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

PROGRAMS = {
    "a repeated index, a number": "x = m.zeros(1, 3).expand(2, 3)\nx[m.tensor([0, 0])] = 2.0\nr = x",
    "rows, the last written wins": "x = m.zeros(1, 3).expand(2, 3)\nx[m.tensor([0, 1])] = m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])\nr = x",
    "rows in reverse": "x = m.zeros(1, 3).expand(2, 3)\nx[m.tensor([1, 0])] = m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])\nr = x",
    "columns of an expanded column": "x = m.zeros(3, 1).expand(3, 4)\nx[:, m.tensor([0, 2])] = m.tensor([7.0, 8.0])\nr = x",
    "an integer then an index": "x = m.arange(3.0).reshape(3, 1).expand(3, 4)\nx[1, m.tensor([3])] = -1.0\nr = x",
    "a mask and a number": "x = m.zeros(1, 3).expand(2, 3)\nx[m.tensor([[True, False, True], [False, True, False]])] = 5.0\nr = x",
    "float32, an expanded new dimension": "x = m.ones(3)[None].expand(4, 3)\nx[m.tensor([2])] = m.tensor([[1.5, 2.5, 3.5]])\nr = x",
    "masked_fill_": "x = m.zeros(1, 3, dtype=m.float64).expand(2, 3)\nx.masked_fill_(m.tensor([True, False, True]), 1.0)\nr = x",
    "masked_fill_, a mask of one row": "x = m.zeros(3, 1, dtype=m.float64).expand(3, 2)\nx.masked_fill_(m.tensor([[False, True], [False, False], [True, False]]), 4.0)\nr = x",
    "with history: the write happens": (
        "a = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)\nb = a * 1\nx = b.expand(2, 3)\n"
        "x[m.tensor([0])] = 2.0\nr = b.detach()"),
    "with history: backward refused": (
        "a = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)\nb = a * 1\nx = b.expand(2, 3)\n"
        "x[m.tensor([0])] = 2.0\nb.sum().backward()\nr = a.grad"),
    "a value that requires grad: backward refused": (
        "a = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)\n"
        "v = m.tensor([[9.0, 8.0, 7.0]], dtype=m.float64, requires_grad=True)\nb = a * 1\nx = b[None].expand(2, 3)\n"
        "x[m.tensor([1])] = v\n(b * b).sum().backward()\nr = v.grad"),
    "masked_fill_ with history: backward refused": (
        "a = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)\nb = a * 1\nx = b.expand(2, 3)\n"
        "x.masked_fill_(m.tensor([True, False, False]), 0.5)\nb.sum().backward()\nr = a.grad"),
}


def _run(m, program):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ns = {"m": m}
        try:
            exec(program, ns)  # noqa: S102  (our own program)
            result = ("ok", ns["r"].tolist())
        except RuntimeError as exc:
            result = ("raised", str(exc).split(".")[0])
    said = [str(w.message).split(" (Triggered internally")[0] for w in caught if w.category is UserWarning]
    return result, said


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_writes_into_expanded_tensors_warn_and_write_as_pytorch(name):
    theirs, their_warnings = _run(torch, PROGRAMS[name])
    mine, my_warnings = _run(dg, PROGRAMS[name])
    assert mine == theirs
    assert my_warnings == their_warnings and my_warnings  # PyTorch's deprecation, word for word


def test_a_write_of_the_whole_expanded_tensor_is_still_refused():
    for m in (torch, dg):
        x = m.zeros(1, 3).expand(2, 3)
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            x[...] = m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            x.add_(1)
