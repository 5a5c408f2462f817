"""Example inputs of the ops added for models (special, logical, scatter, norm, pool, ...).

Same conventions as ``_examples.py``: distinct dimension sizes, domains away from kinks.
"""

from __future__ import annotations

import numpy as np

from ..examples import example
from ._examples import _away, _dims, _distinct, _normal, _shape, _uniform


def _unary(gen, **attrs_choices):
    def make(rng, dtype):
        out = [((gen(rng, _shape(rng), dtype),), {})]
        for key, values in attrs_choices.items():
            for v in values:
                out.append(((gen(rng, _shape(rng), dtype),), {key: v}))
        return out

    return make


def _wide(rng, shape, dtype):
    return (rng.standard_normal(shape) * 2.5).astype(dtype)


for _name in ("sin", "cos", "erf", "silu"):
    example(_name)(_unary(_wide))
example("gelu")(_unary(_wide, approximate=("tanh",)))
example("log1p")(_unary(lambda rng, s, d: _uniform(rng, s, d, -0.5, 3.0)))
example("expm1")(_unary(_normal))
example("rsqrt")(_unary(lambda rng, s, d: _uniform(rng, s, d, 0.5, 3.0)))


@example("softplus")
def _softplus(rng, dtype):
    s = _shape(rng, 1)
    x = _wide(rng, s, dtype)
    x = np.where(np.abs(x - 1.0) < 0.05, x + 0.2, x).astype(dtype)  # away from threshold 1 (beta 2)
    return [((x,), {}), ((x,), {"beta": 2.0, "threshold": 2.0})]


# --------------------------------------------------------------------------- logical, integer-style


def _bools(rng, shape):
    return rng.random(shape) < 0.5


@example("logical_and")
def _logical_and(rng, dtype):
    from ._examples import _bshapes

    sa, sb = _bshapes(rng)
    return [((_bools(rng, sa), _bools(rng, sb)), {})]


example("logical_or")(_logical_and)
example("logical_not")(lambda rng, dtype: [((_bools(rng, _shape(rng)),), {})])


def _bool_reduction(rng, dtype):
    from ._examples import _axis_attrs

    s = _shape(rng, 0, 3)
    return [((_bools(rng, s),), _axis_attrs(rng, len(s))), ((np.ones(s, bool),), {})]


example("all")(_bool_reduction)
example("any")(_bool_reduction)


def _division(rng, dtype):
    """a = (k + u) * b with u in [0.2, 0.8]: a / b never near an integer (no jump of floor)."""
    s = _shape(rng, 1)
    b = _away(rng, s, dtype, 0.5)
    a = ((rng.integers(-3, 4, s) + rng.uniform(0.2, 0.8, s)) * b).astype(dtype)
    return [((a, b), {}), ((a, b[..., :1]), {})] if s[-1:] != (1,) and np.all(a / b[..., :1] % 1 > 0.05) and np.all(a / b[..., :1] % 1 < 0.95) else [((a, b), {})]


example("floor_divide")(_division)
example("remainder")(_division)


@example("tril")
def _tril(rng, dtype):
    s = _shape(rng, 2, 3)
    return [((_normal(rng, s, dtype),), {"k": int(rng.integers(-1, 2))})]


example("triu")(_tril)
example("clone")(lambda rng, dtype: [((_normal(rng, _shape(rng), dtype),), {})])


# --------------------------------------------------------------------------- index ops along an axis


def _along(rng, dtype, larger_src=False):
    s = _dims(rng, 3)
    axis = int(rng.integers(-3, 3))
    a = axis % 3
    ishape = tuple(int(rng.integers(1, d + 1)) if k != a else int(rng.integers(1, 6)) for k, d in enumerate(s))
    index = rng.integers(0, s[a], ishape)
    return s, axis, index


@example("gather")
def _gather(rng, dtype):
    s, axis, index = _along(rng, dtype)
    return [((_normal(rng, s, dtype), index), {"axis": axis})]


@example("sorted_values")
def _sorted_values(rng, dtype):
    s = _dims(rng, 3)
    axis = int(rng.integers(-3, 3))
    x = _normal(rng, s, dtype)
    order = np.argsort(x, axis=axis, kind="stable")
    k = int(rng.integers(0, s[axis] + 1))
    top = np.take(order, np.arange(k), axis=axis)
    return [((x, order), {"axis": axis}), ((x, top), {"axis": axis, "kind": "topk"})]


@example("scatter_add")
def _scatter_add(rng, dtype):
    s, axis, index = _along(rng, dtype)
    big = tuple(i + int(rng.integers(0, 2)) for i in index.shape)
    return [((_normal(rng, s, dtype), index, _normal(rng, index.shape, dtype)), {"axis": axis}),
            ((_normal(rng, s, dtype), index, _normal(rng, big, dtype)), {"axis": axis})]


@example("argsort")
def _argsort(rng, dtype):
    s = _shape(rng, 1, 3)
    x = _distinct(rng, s, dtype)
    ties = np.round(_normal(rng, s, dtype)).astype(dtype)  # ties: a stable order is defined
    axis = int(rng.integers(-len(s), len(s)))
    return [((x,), {"axis": axis, "descending": bool(rng.random() < 0.5)}), ((ties,), {"axis": axis, "descending": True}),
            ((ties,), {"axis": axis})]


@example("cumsum")
def _cumsum(rng, dtype):
    s = _shape(rng, 1, 3)
    return [((_normal(rng, s, dtype),), {"axis": int(rng.integers(-len(s), len(s))), "reverse": bool(rng.random() < 0.5)})]


def _prod_values(rng, s, dtype):
    x = (rng.choice([-1.0, 1.0], s) * rng.uniform(0.5, 1.5, s)).astype(dtype)
    if x.size > 2 and rng.random() < 0.5:
        x.reshape(-1)[int(rng.integers(x.size))] = 0.0  # a zero: the rule must not divide by it
    return x


@example("prod")
def _prod(rng, dtype):
    s = _shape(rng, 0, 3)
    axis = None if not s or rng.random() < 0.3 else int(rng.integers(-len(s), len(s)))
    return [((_prod_values(rng, s, dtype),), {"axis": axis, "keepdims": bool(rng.random() < 0.5)})]


@example("prod_others")
def _prod_others(rng, dtype):
    s = _shape(rng, 1, 3)
    axis = int(rng.integers(0, len(s)))
    two_zeros = _prod_values(rng, s, dtype)
    if s[axis] > 2:  # two zeros in one lane: the second derivative is nonzero only between them
        two_zeros[(slice(None),) * axis + (slice(0, 2),)] = 0.0
    return [((_prod_values(rng, s, dtype),), {"axis": axis}), ((two_zeros,), {"axis": axis - len(s)})]


# --------------------------------------------------------------------------- einsum, pad, layer norm


_EQUATIONS = ("ij,jk->ik", "bij,bjk->bik", "ij,kj->ik", "i,j->ij", "bhqd,bhkd->bhqk", "ij,ij->i", "ij,ij->", "ijk,kj->ki")


@example("einsum")
def _einsum(rng, dtype):
    eq = _EQUATIONS[int(rng.integers(len(_EQUATIONS)))]
    letters = sorted(set(eq) - set(",->"))
    size = dict(zip(letters, _dims(rng, len(letters)) if len(letters) <= 5 else [2] * len(letters)))
    ta, tb = eq.split("->")[0].split(",")
    return [((_normal(rng, tuple(size[c] for c in ta), dtype), _normal(rng, tuple(size[c] for c in tb), dtype)), {"equation": eq})]


@example("pad")
def _pad(rng, dtype):
    s = _shape(rng, 1, 3)
    pad = tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in s)
    return [((_normal(rng, s, dtype),), {"pad": pad, "value": float(rng.choice([0.0, -1.5]))})]


def _ln_case(rng, dtype):
    s = _shape(rng, 1, 3)
    return s, {"ndim": int(rng.integers(1, len(s) + 1)), "eps": float(rng.choice([1e-5, 0.1]))}


@example("layer_norm")
def _layer_norm(rng, dtype):
    s, attrs = _ln_case(rng, dtype)
    return [((_wide(rng, s, dtype) + 0.5,), attrs)]


@example("layer_norm_grad")
def _layer_norm_grad(rng, dtype):
    s, attrs = _ln_case(rng, dtype)
    return [((_normal(rng, s, dtype), _wide(rng, s, dtype)), attrs)]


# --------------------------------------------------------------------------- pooling, dropout


def _pool_case(rng):
    kernel = (int(rng.integers(1, 4)), int(rng.integers(2, 4)))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 4)))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    dilation = (int(rng.integers(1, 3)), 1)
    n, c = (int(v) for v in rng.integers(1, 4, 2))
    h = dilation[0] * (kernel[0] - 1) + 1 + int(rng.integers(0, 4))
    w = kernel[1] + int(rng.integers(1, 5))
    return (n, c, h, w), {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}


@example("max_pool2d_indices")
def _max_pool_indices(rng, dtype):
    s, attrs = _pool_case(rng)
    return [((_distinct(rng, s, dtype),), attrs), ((np.round(_normal(rng, s, dtype)),), attrs)]


@example("avg_pool2d")
def _avg_pool(rng, dtype):
    s, attrs = _pool_case(rng)
    attrs.pop("dilation")
    return [((_normal(rng, s, dtype),), attrs)]


@example("avg_pool2d_grad")
def _avg_pool_grad(rng, dtype):
    from .pool import _avg_infer
    from ..registry import Spec

    s, attrs = _pool_case(rng)
    attrs.pop("dilation")
    out = _avg_infer(Spec(s, dtype), **attrs).shape
    return [((_normal(rng, out, dtype),), {"shape": s, **attrs})]


@example("dropout")
def _dropout(rng, dtype):
    s = _shape(rng, 1, 3)
    return [((_normal(rng, s, dtype), np.array(int(rng.integers(2**31)), dtype=np.int64)), {"p": float(p)})
            for p in rng.choice([0.0, 0.25, 0.5, 1.0], 2, replace=False)]


# --------------------------------------------------------------------------- conv2d with dilation
# (replaces the generators of _examples.py: the same cases, plus a dilation)


def _conv_case(rng):
    n, c, o = (int(v) for v in rng.integers(1, 4, 3))
    kh, kw = (int(v) for v in rng.choice([1, 2, 3], 2))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = (int(rng.integers(0, 2)), int(rng.integers(0, 2)))
    dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    h, w = dilation[0] * (kh - 1) + 1 + int(rng.integers(0, 4)), dilation[1] * (kw - 1) + 1 + int(rng.integers(1, 5))
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return (n, c, h, w), (o, c, kh, kw), (n, o, oh, ow), {"stride": stride, "padding": padding, "dilation": dilation}


@example("conv2d")
def _conv2d(rng, dtype):
    xs, ws, _, attrs = _conv_case(rng)
    return [((_normal(rng, xs, dtype), _normal(rng, ws, dtype)), attrs)]


@example("conv2d_grad_input")
def _conv2d_grad_input(rng, dtype):
    xs, ws, gs, attrs = _conv_case(rng)
    return [((_normal(rng, gs, dtype), _normal(rng, ws, dtype)), {"shape": xs, **attrs})]


@example("conv2d_grad_weight")
def _conv2d_grad_weight(rng, dtype):
    xs, ws, gs, attrs = _conv_case(rng)
    return [((_normal(rng, xs, dtype), _normal(rng, gs, dtype)), {"shape": ws, **attrs})]


@example("vector_norm")
def _vector_norm(rng, dtype):
    from ._examples import _axis_attrs

    s = _shape(rng, 1, 3)
    n = int(np.prod(s))  # |x| distinct and away from 0, either sign: no kinks, no ties
    x = ((rng.permutation(n) + 1) * 0.1 * rng.choice([-1.0, 1.0], n)).reshape(s).astype(dtype)
    out = []
    for ord_ in (1.0, 2.0, float("inf"), 3.0):
        out.append(((x,), {"ord": ord_, **_axis_attrs(rng, len(s))}))
    return out


@example("arange")
def _arange(rng, dtype):
    """Integer and float ranges, both signs of step, an empty one; ``end`` half a step past the
    last element, so the length does not hang on the rounding of ``(end - start) / step``."""
    n = int(rng.integers(1, 9))
    start = int(rng.integers(-5, 6))
    step = float(rng.choice([0.1, 0.25, 1 / 3, 1.5, -0.3, -2.0]))
    istep = int(rng.choice([1, 2, 3, -1, -4]))
    return [((), {"start": 0, "end": n, "step": 1, "dtype": "int64"}),
            ((), {"start": start, "end": start + n * istep - (1 if istep > 0 else -1), "step": istep,
                  "dtype": str(rng.choice(["int64", "int32"]))}),
            ((), {"start": start + 0.5, "end": start + 0.5 + (n - 0.5) * step, "step": step, "dtype": dtype}),
            ((), {"start": float(start), "end": float(start), "step": 1.0, "dtype": dtype})]
