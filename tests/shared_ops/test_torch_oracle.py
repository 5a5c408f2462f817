"""Per op, forward and VJP against PyTorch in float64 (PyTorch as the oracle).

Uses the same example generator as the registry suite; every registered op has a PyTorch
counterpart here (one missing fails), so gradient conventions at kinks, ties and masks are
PyTorch's.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import shared_ops as so
from shared_ops.testing import example_inputs, run_vjp

torch = pytest.importorskip("torch")
F = torch.nn.functional
from _torch_table_nn import TORCH_NN  # noqa: E402


def _all_dims(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


def _key(spec, arrays):
    it = iter(arrays)
    conv = {"s": lambda e: slice(*e[1:]), "i": lambda e: e[1], "n": lambda e: None, "e": lambda e: Ellipsis, "a": lambda e: next(it)}
    return tuple(conv[e[0]](e) for e in spec)


def _index_scatter(g, *arrays, index, shape):
    # PyTorch's own adjoint of indexing, kept differentiable in g
    x = torch.zeros(shape, dtype=g.dtype, requires_grad=True)
    (out,) = torch.autograd.grad(x[_key(index, arrays)], x, g, create_graph=True)
    return out


def _expand_dims(x, axis):
    axes = so.registry.normalize_axis("expand_dims", axis, x.ndim + (1 if isinstance(axis, int) else len(axis)))
    for a in axes:
        x = x.unsqueeze(a)
    return x


TORCH = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "neg": torch.neg,
    "pow": torch.pow, "pow_scalar": lambda x, exponent: x ** exponent,
    "maximum": torch.maximum, "minimum": torch.minimum,
    "exp": torch.exp, "log": torch.log, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu,
    "sqrt": torch.sqrt, "abs": torch.abs, "sign": torch.sign,
    "tanh_grad": torch.ops.aten.tanh_backward, "sigmoid_grad": torch.ops.aten.sigmoid_backward,
    "clip": lambda x, min=None, max=None: torch.clamp(x, min, max),
    "eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le, "gt": torch.gt, "ge": torch.ge,
    "where": torch.where,
    "sum": lambda x, axis=None, keepdims=False: torch.sum(x, _all_dims(x, axis), keepdim=keepdims),
    "mean": lambda x, axis=None, keepdims=False: torch.mean(x, _all_dims(x, axis), keepdim=keepdims),
    "max": lambda x, axis=None, keepdims=False: torch.amax(x, _all_dims(x, axis), keepdim=keepdims),
    "min": lambda x, axis=None, keepdims=False: torch.amin(x, _all_dims(x, axis), keepdim=keepdims),
    "logsumexp": lambda x, axis=None, keepdims=False: torch.logsumexp(x, _all_dims(x, axis), keepdim=keepdims),
    "reshape": lambda x, shape: x.reshape(shape),
    "transpose": lambda x, axes=None: x.permute(axes if axes is not None else tuple(range(x.ndim))[::-1]),
    "squeeze": lambda x, axis: x.squeeze(axis),
    "expand_dims": _expand_dims,
    "broadcast_to": lambda x, shape: x.expand(shape),
    "sum_to": lambda x, shape: x.sum_to_size(shape).reshape(shape),
    "getitem": lambda x, *arrays, index: x[_key(index, arrays)],
    "index_scatter": _index_scatter,
    "concatenate": lambda *xs, axis=0: torch.cat(xs, axis),
    "stack": lambda *xs, axis=0: torch.stack(xs, axis),
    "matmul": torch.matmul,
    "matmul_nt": lambda a, b: torch.matmul(a, b.mT), "matmul_tn": lambda a, b: torch.matmul(a.mT, b),
    "softmax": lambda x, axis=-1: torch.softmax(x, axis),
    "log_softmax": lambda x, axis=-1: torch.log_softmax(x, axis),
    "softmax_cross_entropy": F.cross_entropy,
    "one_hot": lambda labels, num_classes, dtype="float32": F.one_hot(labels, num_classes).to(getattr(torch, dtype)),
    "conv2d": lambda x, w, stride=(1, 1), padding=(0, 0): F.conv2d(x, w, stride=stride, padding=padding),
    "conv2d_grad_input": lambda g, w, shape, stride=(1, 1), padding=(0, 0): torch.nn.grad.conv2d_input(shape, w, g, stride, padding),
    "conv2d_grad_weight": lambda x, g, shape, stride=(1, 1), padding=(0, 0): torch.nn.grad.conv2d_weight(x, shape, g, stride, padding),
    "add_n": lambda *xs: sum(xs[1:], xs[0]),
    "astype": lambda x, dtype: x.to(getattr(torch, dtype)),
    "ones_like": torch.ones_like, "zeros_like": torch.zeros_like,
}
TORCH.update(TORCH_NN)  # the ops added for models


def _view_scatter(base, src, chain):
    out = base.clone()
    v = out
    for name, attrs in chain:
        v = TORCH[name](v, **dict(attrs))  # PyTorch's own views of `out`
    v.copy_(src)
    return out


def _index_put(x, value, *arrays, index):
    out = x.clone()
    out[_key(index, arrays)] = value
    return out


TORCH.update({
    "clone": torch.clone,
    "flip": lambda x, dims: torch.flip(x, dims),
    "fill": lambda x, value, kind="fill": x.clone().fill_(value),
    "copy": lambda x, src: x.clone().copy_(src),
    "diagonal": lambda x, offset=0, dim1=0, dim2=1: torch.diagonal(x, offset, dim1, dim2),
    "diagonal_scatter": lambda g, shape, offset=0, dim1=0, dim2=1: torch.diagonal_scatter(
        torch.zeros(shape, dtype=g.dtype), g, offset, dim1, dim2),
    "view_scatter": _view_scatter,
    "index_put": _index_put,
    "argmax": lambda x, axis=None, keepdims=False: torch.argmax(x, axis, keepdims),
    "argmin": lambda x, axis=None, keepdims=False: torch.argmin(x, axis, keepdims),
    "max_dim": lambda x, index, axis, keepdims=False: torch.max(x, axis, keepdims).values,
    "min_dim": lambda x, index, axis, keepdims=False: torch.min(x, axis, keepdims).values,
    "clamp": lambda x, lo, hi, lower=True, upper=True: torch.clamp(x, lo if lower else None, hi if upper else None),
    "index_mask": lambda like, index, axis: torch.zeros_like(like, dtype=torch.bool).scatter_(axis, index, True),
})


@pytest.mark.torch
@pytest.mark.parametrize("name", [op.name for op in so.all_ops()])
@given(seed=st.integers(0, 2**32 - 1))
def test_forward_and_vjp_match_pytorch(name, seed):
    op = so.get_op(name)
    assert name in TORCH, f"op {name!r} has no PyTorch counterpart in this test's TORCH table"
    rng = np.random.default_rng(seed)
    for inputs, attrs in example_inputs(op, rng, "float64"):
        kinds = {e[0] for e in attrs.get("index", ())}
        if any(e[0] == "s" and (e[3] or 1) < 0 for e in attrs.get("index", ())) or {"a", "i"} <= kinds:
            # PyTorch has no negative slice steps, and applies integers before arrays where
            # NumPy counts them as advanced indices; the NumPy reference covers both
            continue
        ts = [torch.tensor(x, requires_grad=(x.dtype.kind == "f" and op.vjp is not None)) for x in inputs]
        expected = TORCH[name](*ts, **attrs)
        u = rng.standard_normal(tuple(expected.shape))
        out, grads = run_vjp(op, inputs, attrs, u if op.vjp is not None else None) if op.vjp else (
            op.forward(np, *inputs, **op.bind_attrs(attrs)), None)
        np.testing.assert_allclose(np.asarray(out), expected.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{name} {attrs}")
        if grads is None:
            continue
        wrt = [i for i, t in enumerate(ts) if t.requires_grad]
        if not wrt or not expected.requires_grad:
            assert all(grads[i] is None for i in wrt), name
            continue
        tgrads = torch.autograd.grad(expected, [ts[i] for i in wrt], torch.tensor(u), allow_unused=True)
        for i, tg in zip(wrt, tgrads):
            mine = np.zeros(inputs[i].shape) if grads[i] is None else np.asarray(grads[i])
            theirs = np.zeros(inputs[i].shape) if tg is None else tg.numpy()
            np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-11, err_msg=f"{name} gradient {i}, attrs {attrs}")
