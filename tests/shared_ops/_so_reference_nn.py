"""NumPy references of the ops added for models (merged into ``_so_reference.REFERENCE``).

Written independently of the kernels: ``math`` functions per element, loops, plain NumPy.
"""

from __future__ import annotations

import math

import numpy as np


def _per_element(fn):
    def ref(x, **attrs):
        flat = [fn(float(v), **attrs) for v in np.asarray(x, dtype=np.float64).reshape(-1)]
        return np.array(flat, dtype=np.float64).reshape(np.shape(x)).astype(x.dtype)

    return ref


def _gelu(v, approximate="none"):
    if approximate == "tanh":
        return 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
    return 0.5 * v * (1 + math.erf(v / math.sqrt(2)))


def _softplus(v, beta=1.0, threshold=20.0):
    return v if v * beta > threshold else math.log1p(math.exp(v * beta)) / beta


REFERENCE_NN = {
    "sin": np.sin, "cos": np.cos, "log1p": np.log1p, "expm1": np.expm1,
    "rsqrt": lambda x: (1 / np.sqrt(x.astype(np.float64))).astype(x.dtype),
    "erf": _per_element(math.erf),
    "gelu": _per_element(_gelu),
    "silu": _per_element(lambda v: v / (1 + math.exp(-v))),
    "softplus": _per_element(_softplus),
}
