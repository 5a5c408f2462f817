"""Golden table of ``grad_fn`` names: op + attrs -> PyTorch's backward-node name.

dyngraph names ``t.grad_fn.name()`` with ``OpDef.grad_fn_name(attrs)``; this table fixes the
names, and (where PyTorch is installed) checks each against what PyTorch 2.13 itself gives.
Every differentiable op must appear here.
"""

from __future__ import annotations

import pytest

import shared_ops as so
from _golden_nn import GOLDEN_NN

_FULL = ("s", None, None, None)

# (op, attrs, expected name, PyTorch expression giving that name or None where PyTorch has
# no single counterpart: the expression takes x (3, 4), y (3, 4) float64 leaves).
GOLDEN = [
    ("add", {}, "AddBackward0", lambda t, x, y: x + y),
    ("sub", {}, "SubBackward0", lambda t, x, y: x - y),
    ("mul", {}, "MulBackward0", lambda t, x, y: x * y),
    ("div", {}, "DivBackward0", lambda t, x, y: x / y),
    ("neg", {}, "NegBackward0", lambda t, x, y: -x),
    ("pow", {}, "PowBackward1", lambda t, x, y: x ** y),
    ("pow_scalar", {"exponent": 2.0}, "PowBackward0", lambda t, x, y: x ** 2.0),
    ("maximum", {}, "MaximumBackward0", lambda t, x, y: t.maximum(x, y)),
    ("minimum", {}, "MinimumBackward0", lambda t, x, y: t.minimum(x, y)),
    ("exp", {}, "ExpBackward0", lambda t, x, y: x.exp()),
    ("log", {}, "LogBackward0", lambda t, x, y: x.log()),
    ("tanh", {}, "TanhBackward0", lambda t, x, y: x.tanh()),
    ("sigmoid", {}, "SigmoidBackward0", lambda t, x, y: x.sigmoid()),
    # the gradients of tanh / sigmoid, as PyTorch's nodes of the gradient of the gradient
    ("tanh_grad", {}, "TanhBackwardBackward0",
     lambda t, x, y: t.autograd.grad(x.tanh(), x, y, create_graph=True)[0]),
    ("sigmoid_grad", {}, "SigmoidBackwardBackward0",
     lambda t, x, y: t.autograd.grad(x.sigmoid(), x, y, create_graph=True)[0]),
    ("relu", {}, "ReluBackward0", lambda t, x, y: x.relu()),
    ("sqrt", {}, "SqrtBackward0", lambda t, x, y: x.sqrt()),
    ("abs", {}, "AbsBackward0", lambda t, x, y: x.abs()),
    ("sign", {}, "SignBackward0", lambda t, x, y: x.sign()),
    ("clip", {"min": 0.0, "max": 1.0}, "ClampBackward1", lambda t, x, y: x.clamp(0.0, 1.0)),
    ("clip", {"min": 0.0}, "ClampBackward1", lambda t, x, y: x.clamp(min=0.0)),
    ("where", {}, "WhereBackward0", lambda t, x, y: t.where(x > 0, x, y)),
    ("sum", {"axis": None}, "SumBackward0", lambda t, x, y: x.sum()),
    ("sum", {"axis": (1,)}, "SumBackward1", lambda t, x, y: x.sum(1)),
    ("mean", {"axis": None}, "MeanBackward0", lambda t, x, y: x.mean()),
    ("mean", {"axis": (0,)}, "MeanBackward1", lambda t, x, y: x.mean(0)),
    ("max", {"axis": (1,)}, "AmaxBackward0", lambda t, x, y: x.amax(1)),
    ("min", {"axis": (0, 1)}, "AminBackward0", lambda t, x, y: x.amin((0, 1))),
    ("max", {"axis": None}, "MaxBackward1", lambda t, x, y: x.max()),
    ("min", {"axis": None}, "MinBackward1", lambda t, x, y: x.min()),
    ("logsumexp", {"axis": (1,)}, "LogsumexpBackward0", lambda t, x, y: x.logsumexp(1)),
    ("reshape", {"shape": (12,)}, "ViewBackward0", lambda t, x, y: x.reshape(12)),
    ("transpose", {"axes": (1, 0)}, "TransposeBackward0", lambda t, x, y: x.transpose(0, 1)),
    ("transpose", {"axes": (2, 0, 1)}, "PermuteBackward0", lambda t, x, y: x.reshape(3, 2, 2).permute(2, 0, 1)),
    ("squeeze", {"axis": (0,)}, "SqueezeBackward1", lambda t, x, y: x[None].squeeze(0)),
    ("squeeze", {"axis": (0, 2)}, "SqueezeBackward2", lambda t, x, y: x.reshape(1, 12, 1).squeeze((0, 2))),
    ("expand_dims", {"axis": 0}, "UnsqueezeBackward0", lambda t, x, y: x.unsqueeze(0)),
    ("broadcast_to", {"shape": (2, 3, 4)}, "ExpandBackward0", lambda t, x, y: x.expand(2, 3, 4)),
    ("sum_to", {"shape": (1, 4)}, "SumToBackward0", None),  # PyTorch: sum_to_size -> SumBackward1
    ("getitem", {"index": (("i", 0),)}, "SelectBackward0", lambda t, x, y: x[0]),
    ("getitem", {"index": (("s", 1, 2, None),)}, "SliceBackward0", lambda t, x, y: x[1:2]),
    ("getitem", {"index": (("i", 0), ("s", 1, 3, None))}, "SliceBackward0", lambda t, x, y: x[0, 1:3]),
    ("getitem", {"index": (("s", 1, 3, None), ("i", 0))}, "SelectBackward0", lambda t, x, y: x[1:3, 0]),
    ("getitem", {"index": (("a",),)}, "IndexBackward0", lambda t, x, y: x[t.tensor([0, 2])]),
    ("getitem", {"index": (("n",),)}, "UnsqueezeBackward0", lambda t, x, y: x[None]),
    ("getitem", {"index": (("e",),)}, "AliasBackward0", lambda t, x, y: x[...]),
    ("index_scatter", {"index": (("a",),), "shape": (3, 4)}, "IndexPutBackward0", None),
    ("index_scatter", {"index": (("s", 1, 2, None),), "shape": (3, 4)}, "SliceBackwardBackward0", None),
    ("concatenate", {"axis": 0}, "CatBackward0", lambda t, x, y: t.cat([x, y])),
    ("stack", {"axis": 0}, "StackBackward0", lambda t, x, y: t.stack([x, y])),
    ("matmul", {}, "MmBackward0", lambda t, x, y: x @ y.T),
    ("matmul_nt", {}, "MmBackward0", lambda t, x, y: x @ y.T),  # matmul's gradients
    ("matmul_tn", {}, "MmBackward0", lambda t, x, y: x.T @ y),
    ("softmax", {"axis": 1}, "SoftmaxBackward0", lambda t, x, y: x.softmax(1)),
    ("log_softmax", {"axis": 1}, "LogSoftmaxBackward0", lambda t, x, y: x.log_softmax(1)),
    ("softmax_cross_entropy", {}, "NllLossBackward0",
     lambda t, x, y: t.nn.functional.cross_entropy(x, t.tensor([0, 1, 2]))),
    ("conv2d", {}, "ConvolutionBackward0",
     lambda t, x, y: t.nn.functional.conv2d(x.reshape(1, 1, 3, 4), y.reshape(1, 1, 3, 4)[..., :2, :2])),
    ("conv2d_grad_input", {"shape": (1, 1, 3, 4)}, "ConvolutionBackwardBackward0", None),
    ("conv2d_grad_weight", {"shape": (1, 1, 2, 2)}, "ConvolutionBackwardBackward0", None),
    ("add_n", {}, "AddNBackward0", None),  # PyTorch accumulates gradients outside the graph
    ("astype", {"dtype": "float32"}, "ToCopyBackward0", lambda t, x, y: x.to(t.float32)),
    # copies, overwrites and views (shared_ops/ops/views.py), reductions with indices
    ("clone", {}, "CloneBackward0", lambda t, x, y: x.clone()),
    ("flip", {"dims": (0,)}, "FlipBackward0", lambda t, x, y: x.flip(0)),
    ("fill", {"value": 2.0}, "FillBackward2", lambda t, x, y: (x * 1).fill_(2.0)),
    ("fill", {"value": 0.0, "kind": "zero"}, "ZeroBackward0", lambda t, x, y: (x * 1).zero_()),
    ("copy", {}, "torch::autograd::CopyBackwards", lambda t, x, y: (x * 1).copy_(y)),
    ("diagonal", {}, "DiagonalBackward0", lambda t, x, y: x.diagonal()),
    ("diagonal_scatter", {"shape": (3, 4)}, "DiagonalBackwardBackward0",
     lambda t, x, y: t.autograd.grad(x.diagonal(), x, y.diagonal(), create_graph=True)[0]),
    ("view_scatter", {"chain": ()}, "torch::autograd::CopySlices", lambda t, x, y: _through_view(x * 1)),
    ("index_put", {"index": (("a",),)}, "IndexPutBackward0", lambda t, x, y: (x * 1).index_put((t.tensor([0, 2]),), y[0])),
    ("max_dim", {"axis": 1}, "MaxBackward0", lambda t, x, y: x.max(1).values),
    ("clamp", {}, "ClampBackward0", lambda t, x, y: x.clamp(y, y + 1)),
    ("min_dim", {"axis": 0}, "MinBackward0", lambda t, x, y: x.min(0)[0]),
    # the surface's spellings PyTorch names differently from the op: t() and permute are transposes
    ("transpose", {"axes": (1, 0)}, "TransposeBackward0", lambda t, x, y: x.transpose(1, 0)),
]
GOLDEN += GOLDEN_NN  # the ops added for models


def _through_view(z):
    z[1:].mul_(2)
    return z


def test_golden_names():
    for name, attrs, expected, _ in GOLDEN:
        op = so.get_op(name)
        assert op.grad_fn_name(op.bind_attrs(attrs)) == expected, (name, attrs)


def test_every_differentiable_op_is_in_the_table():
    named = {row[0] for row in GOLDEN}
    missing = [op.name for op in so.all_ops() if op.differentiable and op.name not in named]
    assert not missing, f"add these ops to GOLDEN in {__file__}: {missing}"


def test_non_differentiable_ops_have_no_vjp():
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "one_hot", "ones_like", "zeros_like"):
        assert not so.get_op(name).differentiable, name


@pytest.mark.torch
def test_golden_names_are_pytorchs():
    torch = pytest.importorskip("torch")
    x = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    y = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    for name, attrs, expected, expr in GOLDEN:
        if expr is not None:
            assert expr(torch, x, y).grad_fn.name() == expected, (name, attrs)
    # the conv gradient ops are PyTorch's double-backward node
    c = torch.rand(1, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    k = torch.rand(1, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    gi, gw = torch.autograd.grad(torch.nn.functional.conv2d(c, k).sum(), (c, k), create_graph=True)
    assert gi.grad_fn.name() == gw.grad_fn.name() == "ConvolutionBackwardBackward0"
