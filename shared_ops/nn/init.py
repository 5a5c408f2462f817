"""Parameter initialisation as ``torch.nn.init`` computes it (the bounds and the formulas); the
numbers come from the current front end's seeded NumPy generator, so they are not PyTorch's."""

from __future__ import annotations

import math

import numpy as np

from .frontend import current


def uniform(shape, bound: float, dtype: str = "float32") -> np.ndarray:
    return current().generator().uniform(-bound, bound, size=tuple(shape)).astype(dtype)


def normal(shape, std: float = 1.0, dtype: str = "float32") -> np.ndarray:
    return (current().generator().standard_normal(size=tuple(shape)) * std).astype(dtype)


def fan_in(shape) -> int:
    return int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])


def kaiming_uniform(shape, dtype: str = "float32") -> np.ndarray:
    """``kaiming_uniform_(w, a=sqrt(5))``, PyTorch's default for Linear and Conv2d weights:
    U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    gain = math.sqrt(2.0 / (1 + 5))
    return uniform(shape, math.sqrt(3.0) * gain / math.sqrt(fan_in(shape)), dtype)


def xavier_uniform(shape, dtype: str = "float32") -> np.ndarray:
    """``xavier_uniform_``: U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    fan_out = shape[0] * (int(np.prod(shape[2:])) if len(shape) > 2 else 1)
    return uniform(shape, math.sqrt(6.0 / (fan_in(shape) + fan_out)), dtype)
