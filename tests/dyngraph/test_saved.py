"""Which saved values a backward checks for in-place changes, against PyTorch 2.13.

PyTorch's op saves only what the derivative formulas of the inputs that require grad read, and
an input as it was before the op's implicit dtype cast. dyngraph saves what the op's
``grad_reads`` declares for the inputs that require grad (``OpDef.saved_for``), and a copy made
by the surface's promotion answers to the version counter of the tensor it was made from. So
an in-place change of a value raises "modified by an inplace operation" on both or on neither.

Checked three ways: every declaration against its rule (a rule given stand-ins for what it does
not save computes bitwise the same gradients), a grid of programs (op x which inputs require
grad x dtypes x which tensor is changed) run on both front ends, and the forms the fuzzer found.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

import dyngraph as dg
import shared_ops as so
from shared_ops import ArrayOps, get_backend
from shared_ops.testing import example_inputs, run_vjp

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from graphcompare.torchfuzz import replay  # noqa: E402

MODIFIED = "modified by an inplace operation"
_VERSIONS = re.compile(r"is at version (\d+); expected version (\d+)")


# --------------------------------------------------------------------------- the declarations


DECLARED = [op for op in so.all_ops() if op.grad_reads is not None]


def test_the_ops_pytorch_saves_less_for_declare_it():
    assert {"mul", "div", "matmul", "matmul_nt", "matmul_tn", "einsum", "max_dim", "min_dim", "remainder"} <= {
        op.name for op in DECLARED}


@pytest.mark.parametrize("op", DECLARED, ids=[op.name for op in DECLARED])
def test_a_rule_reads_only_what_its_declaration_keeps(op):
    """For every set of inputs wanting a gradient, the rule run on what ``saved_for`` keeps (the
    rest shape-only stand-ins) gives bitwise the gradients it gives with everything."""
    be = get_backend("numpy")
    rng = np.random.default_rng(0)
    for inputs, attrs in example_inputs(op, rng, "float64"):
        diff = [i for i, x in enumerate(inputs) if i not in op.nondiff and np.asarray(x).dtype.kind == "f"]
        bound = op.bind_attrs(attrs)
        out = op.forward(np, *inputs, **bound)
        u = rng.standard_normal(np.shape(out))
        for k in range(1, len(diff) + 1):
            for wanted in itertools.combinations(diff, k):
                needs = tuple(i in wanted for i in range(len(inputs)))
                _, kept = run_vjp(op, inputs, attrs, u, needs_input_grad=needs)
                ns = ArrayOps(be)
                ns.needs_input_grad = needs
                full = op.vjp(ns, u, tuple(inputs), out, **bound)
                for i in wanted:
                    assert np.array_equal(np.asarray(kept[i]), np.asarray(full[i])), (op.name, needs, i)


def test_a_declaration_naming_an_unsaved_value_is_refused():
    reg = so.Registry()
    with pytest.raises(so.RegistryError, match="does not save"):
        reg.register("twice", forward=lambda xp, a, b: a * b, infer=lambda a, b: a,
                     vjp=lambda ops, g, inputs, output: (g, g), save_inputs=(0,), grad_reads={0: (1,)})


def test_saved_for_keeps_what_the_inputs_that_require_grad_read():
    mul, div, pow_ = so.get_op("mul"), so.get_op("div"), so.get_op("pow")
    assert mul.saved_for((True, False)) == (frozenset({1}), False)
    assert mul.saved_for((True, True)) == (frozenset({0, 1}), False)
    assert div.saved_for((False, True)) == (frozenset({0, 1}), False)
    assert pow_.saved_for((True, False)) == (frozenset({0, 1}), True)  # PyTorch saves an output always
    assert so.get_op("exp").saved_for((True,)) == (frozenset(), True)  # no declaration: what it saves


def test_dyngraph_saves_what_the_declaration_keeps():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    w = dg.tensor([3.0, 4.0])
    node = (x * w).grad_fn
    assert node.saved[1] is w and node.saved[0].__class__ is so.ShapeOnly
    assert node.saved_shapes() == [(2,)]
    r = dg.tensor([[1.0, 5.0], [3.0, 2.0]], requires_grad=True).max(1)
    assert r.values.grad_fn.saved[1] is r.indices  # the indices, as PyTorch's MaxBackward0


# --------------------------------------------------------------------------- against PyTorch


def _value(kind: str, name: str, rg: bool) -> str:
    data = {"a": "[[0.5, -1.25, 2.0], [1.5, 0.75, -0.5]]", "b": "[[1.5, 2.0, 0.25], [-0.75, 1.25, 3.0]]"}[name]
    if kind == "bool":
        return f"{name} = m.tensor([[True, True, True], [True, True, True]])"
    return f"{name} = m.tensor({data}, dtype=m.{kind}, requires_grad={rg})"


# (expression, whether b may be any dtype): each reads a, b or both in its formulas
EXPRESSIONS = {
    "mul": ("y = a * b", True),
    "div": ("y = a / b", True),
    "pow": ("y = a.abs() ** b", False),
    "matmul": ("y = a @ b.t()", False),
    "max_dim": ("y = a.max(1).values", False),
    "min_dim_keepdim": ("y = a.min(0, keepdim=True).values * b", False),
    "sort": ("y = a.sort(1).values * b", False),
    "sort_descending_dim0": ("y = a.sort(0, descending=True).values", False),
    "topk": ("y = a.topk(2, dim=1).values * b[:, :2]", False),
    "topk_smallest_dim0": ("y = a.topk(1, dim=0, largest=False).values", False),
}
CHANGES = {
    "a": "a.detach().add_(1)",
    "b": "b.detach().add_(1)",
    "y": "y.detach().mul_(2)",
}


def _programs():
    for (name, (expr, any_dtype)), (ra, rb), kind_b, changed in itertools.product(
            EXPRESSIONS.items(), ((True, False), (False, True), (True, True)), ("float64", "float32", "bool"), CHANGES):
        if kind_b != "float64" and not any_dtype:
            continue
        if kind_b == "bool" and rb:
            continue  # a bool tensor cannot require grad
        change = CHANGES[changed]
        if kind_b == "bool" and changed == "b":
            change = "b[...] = False"
        yield pytest.param("\n".join([
            _value("float64", "a", ra), _value(kind_b, "b", rb), expr, change, "y.sum().backward()"]),
            id=f"{name}-rg{int(ra)}{int(rb)}-{kind_b}-{changed}")


@pytest.mark.parametrize("program", list(_programs()))
def test_an_inplace_change_after_the_op_is_refused_as_pytorch_refuses_it(program):
    """Both raise "modified by an inplace operation" or neither; values and gradients agree;
    the message names the dtype, shape and versions PyTorch's names."""
    replay(program)
    theirs, mine = _both(program)
    if theirs is not None and MODIFIED in theirs:
        assert _named(mine) == _named(theirs), (mine, theirs)
        assert _VERSIONS.search(mine).groups() == _VERSIONS.search(theirs).groups(), (mine, theirs)


def _both(program: str):
    errors = []
    for m in (torch, dg):
        ns = {"m": m}
        try:
            exec(program, ns)  # noqa: S102  (our own program)
            errors.append(None)
        except RuntimeError as exc:
            errors.append(str(exc))
    return errors


FORMS = {
    # x changed after max(dim): PyTorch saved the indices, not x
    "max(dim), x changed": ("""
t0 = m.tensor([[0.05, 1.8], [-0.75, -0.31]], dtype=m.float64, requires_grad=True)
r = t0.max(0)
t0.detach().fill_(-1.0)
r.values.sum().backward()
""", False),
    "max(dim), indices changed": ("""
t0 = m.tensor([[0.05, 1.8], [-0.75, -0.31]], dtype=m.float64, requires_grad=True)
r = t0.max(0)
r.indices.zero_()
r.values.sum().backward()
""", True),
    "min(dim, keepdim), indices changed twice": ("""
t0 = m.tensor([[0.05, 1.8], [-0.75, -0.31]], dtype=m.float64, requires_grad=True)
r = t0.min(1, keepdim=True)
r.indices.zero_()
r.indices.add_(1)
r.values.sum().backward()
""", True),
    # x changed after sort/topk: PyTorch's SortBackward0/TopkBackward0 saved the indices only
    "sort, x changed": ("""
t0 = m.tensor([[0.05, 1.8, -0.4], [-0.75, -0.31, 2.5]], dtype=m.float64, requires_grad=True)
t1 = t0 * 1
r = t1.sort(1, descending=True)
t1.add_(1)
(r.values * m.tensor([1.0, 2.0, 3.0], dtype=m.float64)).sum().backward()
""", False),
    "topk in float32, x changed twice": ("""
t0 = m.tensor([[0.05, 1.8, -0.4], [-0.75, -0.31, 2.5]], requires_grad=True)
t1 = t0 * 1
r = t1.topk(2, dim=0, largest=False)
t1.mul_(2)
t1.zero_()
(r.values * m.tensor([[1.0, 2.0, 3.0]])).sum().backward()
""", False),
    "topk, indices changed": ("""
t0 = m.tensor([[0.05, 1.8, -0.4], [-0.75, -0.31, 2.5]], dtype=m.float64, requires_grad=True)
r = t0.topk(2)
r.indices.zero_()
r.values.sum().backward()
""", True),
    "gather still saves x": ("""
t0 = m.tensor([[0.05, 1.8, -0.4], [-0.75, -0.31, 2.5]], dtype=m.float64, requires_grad=True)
t1 = t0 * 1
r = t1.gather(1, m.tensor([[2, 0], [1, 1]]))
t1.add_(1)
r.sum().backward()
""", True),
    # self needs no grad: mul does not save other, though the write bumps other's storage
    "detach then mul_": ("""
t0 = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
t1 = t0.detach()
t1.mul_(t0)
t1.sum().backward()
""", False),
    # the bool input is what PyTorch saved, not the promoted copy
    "division by a bool tensor, then a write to it": ("""
t1 = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
t3 = m.tensor([True, True, True])
t4 = t1 / t3
t3[...] = False
t4.sum().backward()
""", True),
    "an int tensor promoted by true division, written twice": ("""
t1 = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
t3 = m.tensor([1, 2, 4])
t4 = t1 / t3
t3.add_(1)
t3.add_(1)
t4.sum().backward()
""", True),
    "float32 promoted against float64, the float32 input written": ("""
a = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
b = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
c = a * b
a.detach().add_(1)
c.sum().backward()
""", True),
}


_TORCH_TYPES = {"CPUBoolType": "bool", "torch.LongTensor": "int64", "torch.IntTensor": "int32",
                "torch.FloatTensor": "float32", "torch.DoubleTensor": "float64"}
_NAMED = re.compile(r"inplace operation: \[(\S+) \[([\d, ]*)\]\]")


def _named(message: str) -> tuple:
    """The dtype and shape the "modified by an inplace operation" message names."""
    kind, shape = _NAMED.search(message).groups()
    return _TORCH_TYPES.get(kind, kind.removeprefix("dyngraph.")), shape


@pytest.mark.parametrize("name", list(FORMS))
def test_the_forms_the_fuzzer_found(name):
    program, raises = FORMS[name]
    theirs, mine = _both(program)
    assert (theirs is not None) == raises, theirs
    assert (mine is not None) == raises, mine
    if raises:
        assert MODIFIED in theirs and MODIFIED in mine
        assert _VERSIONS.search(mine).groups() == _VERSIONS.search(theirs).groups(), (mine, theirs)
        assert _named(mine) == _named(theirs), (mine, theirs)  # the tensor PyTorch saved: the source
    else:
        replay(program)  # and the gradients agree


def test_a_promoted_copy_is_checked_at_the_version_its_source_had():
    """A source already changed in place before the op is saved at that version."""
    replay("""
t1 = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
t3 = m.tensor([1, 2, 4])
t3.add_(1)
t4 = t1 / t3
t4.sum().backward()
""")
