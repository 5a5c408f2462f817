"""Results' layouts against PyTorch 2.13: an elementwise op on permuted, strided, expanded,
broadcast or mixed inputs gives its result TensorIterator's layout, ``clone``/``.to()``/
``*_like``/``flip`` keep their input's (``dyngraph.result_layout``). Compared: ``stride()``,
``storage_offset()``, ``is_contiguous()``, whether ``view(-1)`` is refused, and the same after
a follow-on view, op and in-place write on the result; values and gradients too.

Each program is one line of Python run with ``m`` bound to torch and to dyngraph, so a failure
prints its own reproducer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dyngraph as dg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _fresh(shape, rng, dtype="float64"):
    n = math.prod(shape)
    return f"((m.arange({n}, dtype=m.{dtype}) % 7 - 3) * {float(rng.choice([0.5, -0.25, 1.0]))}).reshape({', '.join(map(str, shape)) or '()'})"


def _input(shape, rng, depth=0) -> str:
    """An expression of a tensor of ``shape``, laid out at random: fresh, permuted, strided,
    expanded, unsqueezed, a diagonal, a detach, or itself an elementwise result of those."""
    nd = len(shape)
    kind = rng.choice(["fresh", "perm", "perm", "strided", "expand", "unsqueeze", "diag", "detach", "result", "t"])
    if kind == "result" and depth < 2:
        return f"({_input(shape, rng, depth + 1)} * 2)"
    if kind == "detach" and depth < 2:
        return f"{_input(shape, rng, depth + 1)}.detach()"
    if kind == "t" and nd == 2:
        return f"{_input(shape[::-1], rng, depth + 1)}.t()" if depth < 2 else f"{_fresh(shape[::-1], rng)}.t()"
    if kind == "expand" and nd and any(d > 1 for d in shape):
        k = int(rng.choice([i for i, d in enumerate(shape) if d > 1]))
        small = shape[:k] + (1,) + shape[k + 1:]
        return f"{_input(small, rng, depth + 1) if depth < 2 else _fresh(small, rng)}.expand({', '.join(map(str, shape))})"
    if kind == "unsqueeze" and 1 in shape:
        k = shape.index(1)
        return f"{_input(shape[:k] + shape[k + 1:], rng, depth + 1) if depth < 2 else _fresh(shape[:k] + shape[k + 1:], rng)}.unsqueeze({k})"
    if kind == "diag" and nd >= 1:
        n = shape[-1]
        return f"{_fresh(shape[:-1] + (n, n + 1), rng)}.diagonal(0, {nd - 1}, {nd})"
    if kind == "strided" and nd:
        k = int(rng.integers(nd))
        big = shape[:k] + (2 * shape[k],) + shape[k + 1:]
        key = ", ".join("::2" if i == k else ":" for i in range(nd))
        return f"{_input(big, rng, depth + 1) if depth < 2 else _fresh(big, rng)}[{key}]"
    if kind == "perm" and nd >= 2:
        perm = [int(p) for p in rng.permutation(nd)]
        inv = [int(i) for i in np.argsort(perm)]
        base = tuple(shape[p] for p in perm)
        return f"{_input(base, rng, depth + 1) if depth < 1 else _fresh(base, rng)}.permute({', '.join(map(str, inv))})"
    return _fresh(shape, rng)


def _broadcast_variant(shape, rng):
    s = list(shape)
    if s and rng.random() < 0.3:
        s[int(rng.integers(len(s)))] = 1
    if s and rng.random() < 0.25:
        s = s[int(rng.integers(len(s) + 1)):]
    return tuple(s)


UNARY = ["{0}.exp()", "-{0}", "{0}.abs()", "{0}.sigmoid()", "{0}.tanh()", "{0}.relu()", "{0} * 1.5", "{0} + 1",
         "10 - {0}", "{0} / 2", "{0}.clone()", "{0}.float()", "{0}.double()", "m.zeros_like({0})",
         "{0}.flip(0)", "{0} ** 2", "({0} > 0)", "{0}.clamp(-1, 1)", "{0}.sin()"]
BINARY = ["{0} + {1}", "{0} * {1}", "{0} - {1}", "{0} / ({1}.abs() + 1)", "m.maximum({0}, {1})", "{0}.float() * {1}",
          "{0} * {1}.float()", "m.where({0} > 0, {0}, {1})", "m.where({1} > 0, {0}, {1})", "{0} ** {1}.abs()"]
TERNARY = ["m.where({0} > 0, {1}, {2})", "{0} * {1} + {2}", "{0}.clamp({1}, {2})"]


def _programs(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        shape = tuple(int(s) for s in rng.choice([1, 2, 3, 4], size=int(rng.integers(1, 5))))
        k = int(rng.choice([1, 1, 2, 2, 2, 3]))
        ins = [_input(shape, rng)] + [_input(_broadcast_variant(shape, rng), rng) for _ in range(k - 1)]
        if rng.random() < 0.5:
            ins = ins[::-1]  # the broadcast input first: the order of the inputs decides ties
        yield str(rng.choice({1: UNARY, 2: BINARY, 3: TERNARY}[k])).format(*ins)


PROGRAMS = list(_programs(400, 0))


def _facts(m, expr):
    """What PyTorch exposes of the layout of ``expr``'s result, a view and a result of it, and
    of the result after an in-place write."""
    r = eval(expr, {"m": m})  # noqa: S307  (our own program)
    out = [tuple(r.shape), tuple(r.stride()), r.storage_offset(), r.is_contiguous()]
    for follow in ("r.view(-1)", "r.view(*reversed(r.shape))" if r.ndim > 1 else "r.view(1, -1)"):
        try:
            eval(follow, {"r": r})  # noqa: S307
            out.append("ok")
        except RuntimeError as exc:
            assert "view size is not compatible" in str(exc)
            out.append("refused")
    for follow in ("r.transpose(0, -1) + 1" if r.ndim else "r + 1", "r[..., :1] * r", "r.detach().clone()"):
        f = eval(follow, {"r": r})  # noqa: S307
        out.append((follow, tuple(f.stride()), f.is_contiguous()))
    if r.dtype.is_floating_point:
        before = tuple(r.stride())
        try:
            r.mul_(2).add_(r.detach().clone())
            out.append(tuple(r.stride()) == before)
        except RuntimeError as exc:  # the result is an input itself (x.double() of a float64 x)
            assert "more than one element of the written-to tensor" in str(exc)
            out.append("refused")
    return out, r


@pytest.mark.parametrize("k", range(0, len(PROGRAMS), 50))
def test_result_layouts_agree_with_pytorch(k):
    for expr in PROGRAMS[k:k + 50]:
        theirs, t = _facts(torch, expr)
        mine, d = _facts(dg, expr)
        assert mine == theirs, f"m = dg / torch; {expr}\n{mine}\n{theirs}"
        tol = 1e-5 if "float()" in expr else 1e-12
        np.testing.assert_allclose(d.detach().numpy().astype(float), t.detach().numpy().astype(float), rtol=tol, atol=tol)


def test_the_examples_of_the_layout_rule():
    x = dg.arange(6.0).reshape(2, 3)
    y = x.t() + 1
    assert y.stride() == (1, 3) and not y.is_contiguous()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        y.view(-1)
    assert y.reshape(-1).is_contiguous()  # a copy, as PyTorch's
    assert y.t().is_contiguous() and y.t().view(-1).tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert y.contiguous().stride() == (2, 1) and y.contiguous().grad_fn is None
    # broadcast: the first input that orders two dimensions decides
    assert (x.t() + dg.ones(2)).stride() == (1, 3)
    assert (dg.ones(3, 1) + x.t()).stride() == (1, 3)
    assert (x.t() + x.t().contiguous()).stride() == (1, 3)
    assert (x.t().contiguous() + x.t()).stride() == (2, 1)


def test_gradients_through_laid_out_results_agree_with_pytorch():
    rng = np.random.default_rng(3)
    a0, b0 = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    grads = []
    for m in (torch, dg):
        a = m.tensor(a0, requires_grad=True)
        b = m.tensor(b0, requires_grad=True)
        y = a.t() * b[:, None]  # column-major
        z = y.clone()
        z[1:].mul_(y[:-1])  # a write through a view of a laid-out result
        w = z.t().reshape(-1) * 2  # z.t() is row-major: a view
        (w.sum() + (z * z).sum()).backward()
        grads.append((a.grad.numpy().copy(), b.grad.numpy().copy(), z.stride(), z.is_contiguous(), w._base is not None))
    (ta, tb, *tl), (da, db, *dl) = grads
    np.testing.assert_allclose(da, ta, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, tb, rtol=1e-12, atol=1e-12)
    assert tl == dl


def test_an_expanded_write_into_a_laid_out_result_lands_where_pytorch_puts_it():
    for m in (torch, dg):
        y = m.arange(6.0).reshape(2, 3).t() * 1  # (3, 2), column-major
        y[:, :1].expand(3, 4)  # a view whose elements share memory
        y[:1].expand(2, 2).fill_(7.0)
        y.t()[1:].zero_()
        if m is torch:
            want = y.tolist()
        else:
            assert y.tolist() == want


OTHER_OPS = ["x.sort(0).values", "x.sort(0).indices", "x.sort(1, descending=True).values", "x.argsort(0)",
             "x[:, ::2].sort(0).values", "x.topk(2, 0).values", "x.topk(4, 0).values", "x.topk(2, 0).indices",
             "x.topk(2).indices", "x.masked_fill(x > 5, 1.0)",
             "x.masked_fill(m.tensor([True, False, True]), 1.0)", "x[::2].clone()", "x.flip(1)",
             "x.index_add(0, m.tensor([0]), m.ones(1, 3, dtype=m.float64))", "x.softmax(0)", "x.cumsum(0)",
             "x.sum(0, keepdim=True)", "x.max(0).values", "m.cat([x, x])", "x @ x.t()", "x.tril()", "x.float()"]


@pytest.mark.parametrize("expr", OTHER_OPS)
def test_other_ops_lay_out_their_results_as_pytorch(expr):
    """``sort`` keeps its input's layout (preserve_format), ``topk``, ``masked_fill`` and
    ``index_add`` give contiguous results, as do the reductions and the matmul; ``topk``'s
    indices are a tensor of their own, not a view of the full order."""
    out = []
    for m in (torch, dg):
        x = m.arange(1.0, 13.0, dtype=m.float64).reshape(3, 4).t()
        r = eval(expr, {"x": x, "m": m})  # noqa: S307  (our own expression)
        out.append((tuple(r.stride()), r.storage_offset(), r.is_contiguous(), r._base is None, r.tolist()))
    assert out[1] == out[0]


@pytest.mark.parametrize("leaf", ["m.ones(3, 2, dtype=m.float64).t()", "(m.ones(3, 2, dtype=m.float64).t() * 1)",
                                  "m.ones(2, 6, dtype=m.float64)[:, ::2]", "m.ones(4, 1, dtype=m.float64).t()"])
def test_a_laid_out_leafs_grad_takes_its_layout_as_pytorch(leaf):
    out = []
    for m in (torch, dg):
        t = eval(f"{leaf}.detach().requires_grad_()", {"m": m})  # noqa: S307  (our own expression)
        (t * 2 + t.exp()).sum().backward()
        out.append((tuple(t.grad.stride()), t.grad.is_contiguous(), np.round(t.grad.numpy(), 12).tolist()))
    assert out[1] == out[0]
