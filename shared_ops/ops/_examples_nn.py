"""Example inputs of the ops added for models (special, logical, scatter, norm, pool, ...).

Same conventions as ``_examples.py``: distinct dimension sizes, domains away from kinks.
"""

from __future__ import annotations

import numpy as np

from ..testing import example
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
