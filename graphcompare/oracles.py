"""Oracles that judge a gradient from outside both front ends.

- ``numerical_gradient``: central differences in float64, element by element (Richardson
  extrapolated, error O(h^4)); for small inputs.
- ``projection_check``: for large inputs, the directional derivative along a few random
  directions (two loss evaluations each instead of two per element).
- ``check_gradients``: picks one of the two by size and raises ``AssertionError`` naming
  the input and element (or direction) that disagrees.
- ``torch_reference(program)``: the program translated to PyTorch ops and differentiated by
  PyTorch in float64 (``None`` when PyTorch is not installed).

Each works on a plain Python function of NumPy float64 arrays, so a user can point it at any
scalar function (``loss_fn(*arrays) -> float``). The differences themselves are
``shared_ops.numerical``'s, the one checker the op suite uses too.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from shared_ops import numerical

from . import _runners as R


def numerical_gradient(fn: Callable, arrays: Sequence[np.ndarray], h: float = 1e-5) -> list[np.ndarray]:
    """d fn / d arrays[i] by central differences in float64, element by element (Richardson)."""
    return numerical.numerical_gradient(fn, [np.asarray(a, dtype=np.float64) for a in arrays], eps=h, richardson=True)


def projection_check(fn: Callable, arrays: Sequence[np.ndarray], grads: Sequence, directions: int = 2,
                     seed: int = 0, h: float = 1e-5, rtol: float = 1e-6) -> None:
    """Directional derivatives of ``fn`` along random directions against ``grads``."""
    numerical.check_directional(fn, arrays, grads, directions=directions, seed=seed, h=h, rtol=rtol)


def check_gradients(fn: Callable, arrays: Sequence[np.ndarray], grads: Sequence, max_elements: int = 64,
                    rtol: float = 1e-6, seed: int = 0) -> None:
    """Raise ``AssertionError`` unless ``grads`` is the gradient of scalar ``fn`` at ``arrays``.

    Element by element when the inputs have at most ``max_elements`` entries in all, else by
    random projections.
    """
    numerical.check_gradient(fn, arrays, grads, max_elements=max_elements, rtol=rtol, seed=seed)


def torch_reference(program) -> list | None:
    """Outputs and gradients of ``program`` computed by PyTorch in float64 (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    from .program import compile_model

    model = compile_model(program.model_source("torch", name="model_torch"), "model_torch", {"torch": torch})
    return R.run_torch(model, program.inputs("float64"), [np.asarray(w) for w in program.weights])


def program_loss(program) -> Callable:
    """The program's float64 loss as a function of NumPy arrays (for the checks above)."""
    from .equivalence import subject_of

    s = subject_of(program)
    return lambda *xs: R.loss_value(s.model64, list(xs), s.W64)


__all__ = ["numerical_gradient", "projection_check", "check_gradients", "torch_reference", "program_loss"]
