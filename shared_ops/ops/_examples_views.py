"""Example inputs of the ops of ``views.py`` and of the reductions with indices (see
``_examples.py`` for the conventions: distinct dimension sizes, no ties where a tie is a kink)."""

from __future__ import annotations

import numpy as np

from ..examples import example
from ._examples import _dims, _distinct, _normal

_FULL = ("s", None, None, None)


@example("flip")
def _flip(rng, dtype):
    x = _normal(rng, _dims(rng, 3), dtype)
    return [((x,), {"dims": (0,)}), ((x,), {"dims": (2, 0)})]


@example("fill")
def _fill(rng, dtype):
    x = _normal(rng, _dims(rng, 2), dtype)
    return [((x,), {"value": 1.5}), ((x,), {"value": 0.0, "kind": "zero"})]


@example("copy")
def _copy(rng, dtype):
    a, b = _dims(rng, 2)
    return [
        ((_normal(rng, (a, b), dtype), _normal(rng, (b,), dtype)), {}),
        ((_normal(rng, (a, b), dtype), _normal(rng, (a, 1), dtype)), {}),
    ]


@example("diagonal")
def _diagonal(rng, dtype):
    return [
        ((_normal(rng, (3, 4), dtype),), {"offset": 1}),
        ((_normal(rng, (2, 3, 4), dtype),), {"offset": -1, "dim1": 2, "dim2": 0}),
        ((_normal(rng, (4, 2), dtype),), {}),
    ]


@example("diagonal_scatter")
def _diagonal_scatter(rng, dtype):
    return [
        ((_normal(rng, (3,), dtype),), {"shape": (3, 4), "offset": 1}),
        ((_normal(rng, (3, 2), dtype),), {"shape": (2, 3, 4), "offset": -1, "dim1": 2, "dim2": 0}),
    ]


def _step(name, **attrs):
    return (name, tuple(sorted(attrs.items())))


@example("view_scatter")
def _view_scatter(rng, dtype):
    base = _normal(rng, (3, 4), dtype)
    return [
        ((base, _normal(rng, (2, 4), dtype)), {"chain": (_step("getitem", index=(("s", 1, None, None),)),)}),
        ((base, _normal(rng, (4,), dtype)), {"chain": (_step("getitem", index=(("i", 1),)),)}),
        ((base, _normal(rng, (3,), dtype)), {"chain": (_step("transpose", axes=(1, 0)), _step("diagonal", offset=0, dim1=0, dim2=1))}),
        ((base, _normal(rng, (2, 3), dtype)),
         {"chain": (_step("getitem", index=(_FULL, ("s", 0, None, 2))), _step("transpose", axes=(1, 0)),
                    _step("getitem", index=(("s", 0, 2, None),)))}),
    ]


@example("index_put")
def _index_put(rng, dtype):
    # distinct positions: with a repeat the overwritten value has no gradient in truth, while
    # PyTorch's rule (and this one) give it the gradient of the position
    x = _normal(rng, (5, 3), dtype)
    return [
        ((x, _normal(rng, (3,), dtype), rng.permutation(5)[:2]), {"index": (("a",),)}),
        ((x, _normal(rng, (1,), dtype), rng.permutation(5)[:2], rng.permutation(3)[:2]), {"index": (("a",), ("a",))}),
        ((x, _normal(rng, (), dtype), rng.permutation(3)[:2]), {"index": (("s", 1, 4, None), ("a",))}),
    ]


def _arg_cases(rng, dtype, with_none=True):
    x = _distinct(rng, _dims(rng, 3), dtype)
    cases = [((x,), {"axis": 1}), ((x,), {"axis": -1, "keepdims": True})]
    return cases + ([((x,), {"axis": None})] if with_none else [])


for _name in ("argmax", "argmin"):
    example(_name)(lambda rng, dtype: _arg_cases(rng, dtype))
for _name, _find in (("max_dim", np.argmax), ("min_dim", np.argmin)):
    example(_name)((lambda f: lambda rng, dtype: [
        ((x, f(x, axis=a["axis"], keepdims=a.get("keepdims", False))), a) for (x,), a in _arg_cases(rng, dtype, False)])(_find))


@example("index_mask")
def _index_mask(rng, dtype):
    x = _normal(rng, _dims(rng, 3), dtype)
    return [((x, rng.integers(0, x.shape[a], tuple(1 if i == a % 3 else d for i, d in enumerate(x.shape)))), {"axis": a})
            for a in (0, 2, -1)]
