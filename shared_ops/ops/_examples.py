"""Example inputs of every op, for ``shared_ops.testing.example_inputs`` (one table).

Each generator takes ``(rng, dtype)`` and returns ``[(inputs, attrs), ...]``. Dimension
sizes are distinct; domains keep finite differences away from kinks and poles (``log`` and
``sqrt`` positive, ``relu``/``abs`` away from 0, ``maximum`` operands never tied, ...).
"""

from __future__ import annotations

import numpy as np

from ..examples import example

_FULL = ("s", None, None, None)


def _dims(rng, k):
    return tuple(int(d) for d in rng.choice(np.arange(2, 7), size=k, replace=False))


def _shape(rng, lo=0, hi=3):
    return _dims(rng, int(rng.integers(lo, hi + 1)))


def _normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _uniform(rng, shape, dtype, lo, hi):
    return rng.uniform(lo, hi, shape).astype(dtype)


def _away(rng, shape, dtype, gap=0.1):
    """Values with |x| >= gap (no kink at 0 within a finite-difference step)."""
    return (rng.choice([-1.0, 1.0], shape) * rng.uniform(gap, 2.0, shape)).astype(dtype)


def _distinct(rng, shape, dtype):
    """All-distinct values 0.1 apart (no ties for max/min), shuffled."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 - n * 0.05).reshape(shape).astype(dtype)


def _bshapes(rng, n=2):
    """``n`` shapes that broadcast together (some dims 1 or missing), distinct sizes."""
    base = _shape(rng, 0, 3)
    out = []
    for _ in range(n):
        drop = int(rng.integers(0, len(base) + 1))
        s = [1 if rng.random() < 0.3 else d for d in base[drop:]]
        out.append(tuple(s))
    out[int(rng.integers(n))] = base  # one operand has the full shape
    return out


# --------------------------------------------------------------------------- elementwise


def _binary(gen_a, gen_b):
    def make(rng, dtype):
        sa, sb = _bshapes(rng)
        return [((gen_a(rng, sa, dtype), gen_b(rng, sb, dtype)), {})]

    return make


for _name in ("add", "sub", "mul"):
    example(_name)(_binary(_normal, _normal))
example("div")(_binary(_normal, lambda rng, s, d: _away(rng, s, d, 0.5)))
example("pow")(_binary(lambda rng, s, d: _uniform(rng, s, d, 0.5, 2.0), lambda rng, s, d: _uniform(rng, s, d, -2.0, 2.0)))


def _grid(rng, shape, dtype, offset=0.0):
    return (rng.integers(-4, 5, shape) * 0.5 + offset).astype(dtype)


# operands on two interleaved grids, 0.25 apart: never tied, so the kink is never crossed
for _name in ("maximum", "minimum"):
    example(_name)(_binary(_grid, lambda rng, s, d: _grid(rng, s, d, 0.25)))
# comparisons on one grid, so eq/ne/le/ge see real ties
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    example(_name)(_binary(_grid, _grid))


@example("where")
def _where(rng, dtype):
    sc, sx, sy = _bshapes(rng, 3)
    return [((rng.random(sc) < 0.5, _normal(rng, sx, dtype), _normal(rng, sy, dtype)), {})]


def _unary(gen):
    def make(rng, dtype):
        return [((gen(rng, _shape(rng), dtype),), {})]

    return make


for _name in ("neg", "exp", "tanh", "sigmoid", "ones_like", "zeros_like"):
    example(_name)(_unary(_normal))
# the gradients of tanh / sigmoid from their output: (g, y) with y in the output's range
example("tanh_grad")(_binary(_normal, lambda rng, s, d: _uniform(rng, s, d, -0.95, 0.95)))
example("sigmoid_grad")(_binary(_normal, lambda rng, s, d: _uniform(rng, s, d, 0.05, 0.95)))
for _name in ("log", "sqrt"):
    example(_name)(_unary(lambda rng, s, d: _uniform(rng, s, d, 0.5, 3.0)))
for _name in ("relu", "abs", "sign"):
    example(_name)(_unary(_away))


@example("pow_scalar")
def _pow_scalar(rng, dtype):
    x = _uniform(rng, _shape(rng), dtype, 0.5, 2.0)
    return [((x,), {"exponent": float(rng.choice([2.0, 3.0, 0.5, -1.5, 0.0, 1.0]))})]


@example("clip")
def _clip(rng, dtype):
    x = _normal(rng, _shape(rng, 1), dtype)
    x = np.where(np.abs(np.abs(x) - 0.5) < 0.05, x * 1.3, x).astype(dtype)  # not at a bound
    bounds = [{"min": -0.5, "max": 0.5}, {"min": -0.5}, {"max": 0.5}][int(rng.integers(3))]
    return [((x,), bounds)]


@example("clamp")
def _clamp(rng, dtype):
    x = _normal(rng, (3, 4), dtype)
    lo, hi = _normal(rng, (4,), dtype) - 0.5, _normal(rng, (3, 1), dtype) + 0.5
    lo, hi = (np.where(np.abs(x - b).min() < 0.05, b + 0.1, b).astype(dtype) for b in (lo, hi))  # off the kinks
    zero = np.zeros((), dtype)
    return [((x, lo, hi), {}), ((x, lo, zero), {"upper": False}), ((x, zero, hi), {"lower": False})]


@example("astype")
def _astype(rng, dtype):
    x = _normal(rng, _shape(rng), dtype)
    # widening only: a narrowing cast is not differentiable at float64 finite-difference steps
    return [((x,), {"dtype": dtype})] + ([((x,), {"dtype": "float64"})] if dtype != "float64" else [])


@example("add_n")
def _add_n(rng, dtype):
    s = _shape(rng)
    return [(tuple(_normal(rng, s, dtype) for _ in range(int(rng.integers(1, 4)))), {})]


# --------------------------------------------------------------------------- reductions


def _axis_attrs(rng, ndim):
    if ndim == 0 or rng.random() < 0.3:
        axis = None
    else:
        k = int(rng.integers(1, ndim + 1))
        axis = tuple(sorted(int(a) for a in rng.choice(ndim, size=k, replace=False)))
    return {"axis": axis, "keepdims": bool(rng.random() < 0.5)}


def _reduction(gen):
    def make(rng, dtype):
        s = _shape(rng, 0, 3)
        return [((gen(rng, s, dtype),), _axis_attrs(rng, len(s)))]

    return make


for _name in ("sum", "mean", "logsumexp"):
    example(_name)(_reduction(_normal))
for _name in ("max", "min"):
    example(_name)(_reduction(_distinct))


# --------------------------------------------------------------------------- shapes


@example("broadcast_to")
def _broadcast_to(rng, dtype):
    target = _shape(rng, 1, 3)
    k = int(rng.integers(0, len(target) + 1))
    small = tuple(1 if rng.random() < 0.5 else d for d in target[k:])
    return [((_normal(rng, small, dtype),), {"shape": target})]


@example("sum_to")
def _sum_to(rng, dtype):
    s = _shape(rng, 1, 3)
    k = int(rng.integers(0, len(s) + 1))
    target = tuple(1 if rng.random() < 0.5 else d for d in s[k:])
    return [((_normal(rng, s, dtype),), {"shape": target})]


@example("reshape")
def _reshape(rng, dtype):
    s = _dims(rng, 3)
    targets = [(s[0] * s[1], s[2]), (s[2], -1), (-1,), (s[1], s[0] * s[2]), (1, s[0], s[1] * s[2])]
    return [((_normal(rng, s, dtype),), {"shape": targets[int(rng.integers(len(targets)))]})]


@example("transpose")
def _transpose(rng, dtype):
    s = _shape(rng, 1, 4)
    perm = tuple(int(a) for a in rng.permutation(len(s)))
    return [((_normal(rng, s, dtype),), {"axes": perm}), ((_normal(rng, s, dtype),), {"axes": None})]


@example("squeeze")
def _squeeze(rng, dtype):
    s = list(_dims(rng, 2))
    ones = sorted(int(a) for a in rng.choice(4, size=2, replace=False))
    for a in ones:
        s.insert(a, 1)
    axis = tuple(ones) if rng.random() < 0.5 else (ones[0],)
    return [((_normal(rng, tuple(s), dtype),), {"axis": axis})]


@example("expand_dims")
def _expand_dims(rng, dtype):
    s = _shape(rng, 0, 2)
    axis = int(rng.integers(-len(s) - 1, len(s) + 1)) if rng.random() < 0.5 else (0, len(s) + 1)
    return [((_normal(rng, s, dtype),), {"axis": axis})]


def _index_cases(rng, x_shape):
    """(spec, arrays) pairs covering basic, integer-array and mixed indexing."""
    d0, d1, d2 = x_shape
    idx = lambda n, k: rng.integers(-n, n, size=k)  # noqa: E731  (repeats and negatives)
    return [
        ((("s", 1, None, None),), []),
        ((("i", -1), ("s", None, None, -2)), []),
        ((("n",), ("e",), ("s", 0, d2 - 1, 2)), []),
        ((("a",),), [idx(d0, 5)]),
        ((_FULL, ("a",)), [idx(d1, (2, 3))]),
        ((("a",), ("a",)), [idx(d0, 4), idx(d1, 4)]),
        ((("a",), _FULL, ("a",)), [idx(d0, 3), idx(d2, 3)]),
        ((_FULL, ("a",), ("i", 1)), [idx(d1, 2)]),
        ((("i", 0), _FULL, ("a",)), [idx(d2, 6)]),
    ]


@example("getitem")
def _getitem(rng, dtype):
    s = _dims(rng, 3)
    x = _normal(rng, s, dtype)
    return [((x, *arrays), {"index": spec}) for spec, arrays in _index_cases(rng, s)]


@example("index_scatter")
def _index_scatter(rng, dtype):
    s = _dims(rng, 3)
    x = np.zeros(s)
    out = []
    for spec, arrays in _index_cases(rng, s):
        from ..ops._index import gather

        g = _normal(rng, gather(np, x, spec, arrays).shape, dtype)
        out.append(((g, *arrays), {"index": spec, "shape": s}))
    return out


@example("concatenate")
def _concatenate(rng, dtype):
    s = list(_dims(rng, 3))
    axis = int(rng.integers(-3, 3))
    xs = []
    for k in range(int(rng.integers(1, 4))):
        s[axis] = k + 1
        xs.append(_normal(rng, tuple(s), dtype))
    return [(tuple(xs), {"axis": axis})]


@example("stack")
def _stack(rng, dtype):
    s = _shape(rng, 0, 2)
    xs = tuple(_normal(rng, s, dtype) for _ in range(int(rng.integers(1, 4))))
    return [(xs, {"axis": int(rng.integers(-len(s) - 1, len(s) + 1))})]


# --------------------------------------------------------------------------- linalg, nn


@example("matmul")
def _matmul(rng, dtype):
    n, k, m, b = _dims(rng, 4)
    pairs = [
        ((k,), (k,)), ((n, k), (k, m)), ((k,), (k, m)), ((n, k), (k,)),
        ((b, 1, n, k), (3, k, m)), ((k,), (b, k, m)), ((b, n, k), (k,)),
    ]
    sa, sb = pairs[int(rng.integers(len(pairs)))]
    return [((_normal(rng, sa, dtype), _normal(rng, sb, dtype)), {})]


def _transposed_matmul(ta, tb):
    def make(rng, dtype):
        n, k, m, b = _dims(rng, 4)
        pairs = [((n, k), (k, m)), ((b, 1, n, k), (3, k, m)), ((b, n, k), (k, m)), ((n, k), (b, k, m))]
        sa, sb = pairs[int(rng.integers(len(pairs)))]
        sa = sa[:-2] + (sa[-1], sa[-2]) if ta else sa
        sb = sb[:-2] + (sb[-1], sb[-2]) if tb else sb
        return [((_normal(rng, sa, dtype), _normal(rng, sb, dtype)), {})]

    return make


example("matmul_nt")(_transposed_matmul(False, True))
example("matmul_tn")(_transposed_matmul(True, False))


@example("softmax")
def _softmax(rng, dtype):
    s = _shape(rng, 1, 3)
    return [((_normal(rng, s, dtype),), {"axis": int(rng.integers(-len(s), len(s)))})]


example("log_softmax")(_softmax)


@example("softmax_cross_entropy")
def _sce(rng, dtype):
    n, c = _dims(rng, 2)
    return [((_normal(rng, (n, c), dtype) * 2, rng.integers(0, c, n)), {})]


@example("one_hot")
def _one_hot(rng, dtype):
    c = int(rng.integers(2, 6))
    return [((rng.integers(0, c, _shape(rng, 0, 2)),), {"num_classes": c, "dtype": dtype})]
