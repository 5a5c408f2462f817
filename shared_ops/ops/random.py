"""``dropout(x, seed, p=)``: a seeded mask, so both front ends drop the same elements for the
same seed. The mask keeps each element with probability ``1 - p`` (drawn by NumPy's PCG64 from
``seed`` on the CPU, then moved to the backend, so every backend gets the same mask) and scales
kept elements by ``1 / (1 - p)``, as ``torch.nn.functional.dropout`` (whose generator differs,
so the masks are not PyTorch's). The op is linear in ``x`` and its own adjoint: the gradient is
``dropout(g, seed, p=p)``, the same mask again.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import INTEGER
from ..errors import DTypeError, OpAttributeError
from ..registry import REQUIRED, Spec, register
from ._infer import require_float


def keep_mask(seed: int, shape: tuple, p: float) -> np.ndarray:
    """The mask ``dropout`` uses: True where an element is kept."""
    return np.random.default_rng(int(seed)).random(shape) >= p


def _dropout_forward(xp, x, seed, *, p):
    if p >= 1.0:
        return xp.zeros_like(x)
    keep = xp.asarray(keep_mask(int(seed), tuple(x.shape), p))
    return xp.where(keep, x * (1.0 / (1.0 - p)), xp.zeros_like(x))


def _dropout_infer(x: Spec, seed: Spec, *, p) -> Spec:
    require_float("dropout", x)
    if seed.dtype not in INTEGER or seed.ndim != 0:
        raise DTypeError(f"dropout: the seed must be a 0-d integer, got shape {seed.shape} {seed.dtype}")
    if not 0.0 <= p <= 1.0:
        raise OpAttributeError(f"dropout: p must be in [0, 1], got {p}")
    return Spec(x.shape, x.dtype)


register(
    "dropout",
    doc="Each element kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``, the mask drawn from ``seed``; the gradient is the same mask applied to ``g``.",
    forward=_dropout_forward,
    infer=_dropout_infer,
    vjp=lambda ops, g, inputs, output, *, p: (ops.dropout(g, inputs[1], p=p), None),
    attrs={"p": REQUIRED}, linear=True, nondiff=frozenset({1}), save_inputs=(1,),
    torch_name="NativeDropoutBackward0",
)
