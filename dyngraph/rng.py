"""The random generator behind ``rand``/``randn``/``uniform_``/``normal_``: one NumPy
``Generator`` seeded by ``manual_seed``; numbers are drawn on the CPU and moved to the
backend, so a seed gives the same values on every backend."""

from __future__ import annotations

import numpy as np

_GEN = [np.random.default_rng(0)]


def manual_seed(seed: int) -> None:
    """Seed the generator (as ``torch.manual_seed``).

    ``dg.rand``, ``dg.randn``, ``uniform_``, ``normal_``, ``dg.nn``'s initialisers and dropout
    draw from it, the same numbers on every backend.

    Parameters:
        seed: an int.

    Examples:
        >>> dg.manual_seed(3); a = dg.rand(2)
        >>> dg.manual_seed(3); bool((dg.rand(2) == a).all())
        True
    """
    _GEN[0] = np.random.default_rng(int(seed))


def uniform(shape, dtype: str, low=0.0, high=1.0) -> np.ndarray:
    g = _GEN[0]
    if dtype in ("float32", "float64"):
        a = g.random(shape, dtype=np.dtype(dtype))
    else:
        a = g.random(shape).astype(dtype)
    if low != 0.0 or high != 1.0:
        a = (a * (high - low) + low).astype(dtype, copy=False)
    return a


def normal(shape, dtype: str, mean=0.0, std=1.0) -> np.ndarray:
    g = _GEN[0]
    if dtype in ("float32", "float64"):
        a = g.standard_normal(shape, dtype=np.dtype(dtype))
    else:
        a = g.standard_normal(shape).astype(dtype)
    if mean != 0.0 or std != 1.0:
        a = (a * std + mean).astype(dtype, copy=False)
    return a
