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
scalar function (``loss_fn(*arrays) -> float``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from . import _runners as R


def numerical_gradient(fn: Callable, arrays: Sequence[np.ndarray], h: float = 1e-5) -> list[np.ndarray]:
    """d fn / d arrays[i] by central differences in float64, element by element."""
    xs = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for i, x in enumerate(xs):
        g = np.zeros_like(x)
        for k in np.ndindex(x.shape):
            def D(step):
                old = x[k]
                x[k] = old + step
                up = fn(*xs)
                x[k] = old - step
                down = fn(*xs)
                x[k] = old
                return (up - down) / (2 * step)

            g[k] = (4 * D(h / 2) - D(h)) / 3
        grads.append(g)
    return grads


def projection_check(fn: Callable, arrays: Sequence[np.ndarray], grads: Sequence, directions: int = 2,
                     seed: int = 0, h: float = 1e-5, rtol: float = 1e-6) -> None:
    """Directional derivatives of ``fn`` along random directions against ``grads``."""
    rng = np.random.default_rng(seed)
    xs = [np.asarray(a, dtype=np.float64) for a in arrays]
    f0 = fn(*xs)
    for d in range(directions):
        vs = [rng.choice((-1.0, 1.0), size=x.shape) * rng.uniform(0.5, 1.0, size=x.shape) for x in xs]

        def D(step):
            return (fn(*[x + step * v for x, v in zip(xs, vs)]) - fn(*[x - step * v for x, v in zip(xs, vs)])) / (2 * step)

        fd = (4 * D(h / 2) - D(h)) / 3
        terms = [np.asarray(g, dtype=np.float64) * v for g, v in zip(grads, vs) if g is not None]
        gv = float(sum(np.sum(t) for t in terms))
        bound = rtol * float(sum(np.sum(np.abs(t)) for t in terms)) + 1e-9 * (1 + abs(f0))
        if not abs(fd - gv) <= bound:
            raise AssertionError(
                f"direction {d}: finite differences give {fd!r}, gradient . direction = {gv!r} (allowed {bound!r})"
            )


def check_gradients(fn: Callable, arrays: Sequence[np.ndarray], grads: Sequence, max_elements: int = 64,
                    rtol: float = 1e-6, seed: int = 0) -> None:
    """Raise ``AssertionError`` unless ``grads`` is the gradient of scalar ``fn`` at ``arrays``.

    Element by element when the inputs have at most ``max_elements`` entries in all, else by
    random projections.
    """
    total = sum(int(np.size(a)) for a in arrays)
    if total > max_elements:
        projection_check(fn, arrays, grads, seed=seed, rtol=rtol)
        return
    fd = numerical_gradient(fn, arrays)
    for i, (n, g) in enumerate(zip(fd, grads)):
        g = np.zeros_like(n) if g is None else np.asarray(g, dtype=np.float64)
        bound = rtol * (np.abs(n) + np.max(np.abs(n), initial=0.0)) + 1e-8
        bad = np.abs(g - n) > bound
        if bad.any():
            k = tuple(int(j) for j in np.argwhere(bad)[0])
            raise AssertionError(f"input {i} element {k}: gradient {g[k]!r}, finite differences {n[k]!r}")


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
