"""Finite differences in float64: the one gradient checker every part of the project uses.

- ``central_difference(phi, h)``: ``d phi / dt`` at 0, optionally Richardson-extrapolated.
- ``numerical_vjp`` / ``numerical_gradient``: element by element, for small inputs.
- ``check_directional``: a gradient against directional derivatives along random directions
  (two function evaluations per direction instead of two per element), for large inputs.
- ``check_gradient``: one of the two by size; raises ``AssertionError`` naming the input and
  element (or the direction) that disagrees.

``shared_ops.testing`` (an op's rule) and ``graphcompare`` (a whole program's loss) call
these; they are re-exported by ``shared_ops.testing``.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["central_difference", "numerical_vjp", "numerical_gradient", "check_directional", "check_gradient"]


def _f64(x):
    x = np.asarray(x)
    return x.astype(np.float64) if x.dtype.kind == "f" else x


def central_difference(phi: Callable[[float], float], h: float, richardson: bool = False) -> float:
    """``d phi / dt`` at ``t = 0`` from ``(phi(h) - phi(-h)) / 2h`` (error O(h^2)); with
    ``richardson``, extrapolated from steps ``h`` and ``h / 2`` (error O(h^4), twice the calls).

    >>> round(central_difference(lambda t: (1.0 + t) ** 3, 1e-4, richardson=True), 9)
    3.0
    """
    def D(step):
        return (phi(step) - phi(-step)) / (2 * step)

    return (4 * D(h / 2) - D(h)) / 3 if richardson else D(h)


def numerical_vjp(f: Callable[..., Any], inputs, cotangent, *, eps: float = 1e-6, wrt=None,
                  richardson: bool = False) -> list:
    """``cotangent``-weighted central differences of ``f`` at ``inputs``, in float64: the
    vector-Jacobian product a gradient rule must give, one element at a time (two calls of ``f``
    per element, so for small inputs).

    Args:
        f: a function of the arrays ``inputs``, returning an array.
        inputs: the point, one array per argument of ``f`` (converted to float64).
        cotangent: the weights of ``f``'s output (its shape, or broadcastable to it).
        eps: the step.
        wrt: the positions of the inputs to differentiate (default: every float input).
        richardson: extrapolate from steps ``eps`` and ``eps / 2`` (more exact, twice the calls).

    Returns:
        One float64 array per input, ``None`` for the inputs not in ``wrt``.

    Examples:
        >>> from shared_ops.testing import numerical_vjp
        >>> g, = numerical_vjp(lambda x: x * x, [np.array([1.0, 2.0])], np.array([1.0, 1.0]))
        >>> np.round(g, 6)
        array([2., 4.])
    """
    xs = [_f64(x) for x in inputs]
    u = np.asarray(cotangent, dtype=np.float64)
    wrt = [i for i, x in enumerate(xs) if x.dtype.kind == "f"] if wrt is None else list(wrt)
    grads: list = [None] * len(xs)
    for i in wrt:
        gi = np.zeros_like(xs[i])
        flat = xs[i].reshape(-1)
        for j in range(flat.size):
            old = flat[j]

            def phi(t):
                flat[j] = old + t
                try:
                    return np.sum(u * np.asarray(f(*xs), dtype=np.float64))
                finally:
                    flat[j] = old

            gi.reshape(-1)[j] = central_difference(phi, eps, richardson)
        grads[i] = gi
    return grads


def numerical_gradient(f: Callable[..., Any], inputs, *, eps: float = 1e-6, wrt=None, richardson: bool = False) -> list:
    """The gradient of a scalar-valued ``f`` by central differences in float64.

    Args:
        f: a function of the arrays ``inputs``, returning a scalar.
        inputs: the point, one array per argument of ``f``.
        eps: the step.
        wrt: the positions of the inputs to differentiate (default: every float input).
        richardson: extrapolate from steps ``eps`` and ``eps / 2``.

    Returns:
        One float64 array per input, ``None`` for the inputs not in ``wrt``.

    Examples:
        >>> from shared_ops.testing import numerical_gradient
        >>> g, = numerical_gradient(lambda x: np.sum(x ** 3), [np.array([1.0, -2.0])])
        >>> np.round(g, 5)
        array([ 3., 12.])
    """
    return numerical_vjp(f, inputs, np.float64(1.0), eps=eps, wrt=wrt, richardson=richardson)


def check_directional(fn: Callable[..., float], arrays: Sequence, grads: Sequence, *, directions: int = 2,
                      seed: int = 0, h: float = 1e-5, rtol: float = 1e-6, label: str = "finite differences",
                      what: str = "the function") -> None:
    """``grads`` (``None``: zero) against the directional derivatives of scalar ``fn`` along
    random directions ``v`` (entries of random sign, magnitude in [0.5, 1]), by Richardson
    central differences in float64: ``|d/dt fn(x + t v) - sum_i <grads_i, v_i>| <= rtol *
    sum |grads_i v_i| + 1e-9 (1 + |fn(x)|)``. Two calls of ``fn`` per direction, whatever the
    inputs' size.

    Args:
        fn: a scalar function of the arrays.
        arrays: the point.
        grads: the gradient to check, one array (or ``None``) per input.
        directions: how many random directions.
        seed: the directions' seed.
        h: the step.
        rtol: the relative tolerance.
        label: what the message calls the check.
        what: what the message calls ``fn``.

    Raises:
        AssertionError: along some direction the derivative and ``grads`` disagree (the message
            names the direction and both numbers).

    Examples:
        >>> from shared_ops.testing import check_directional
        >>> x = np.linspace(-1.0, 1.0, 1000)
        >>> check_directional(lambda x: float(np.sum(np.sin(x))), [x], [np.cos(x)])
        >>> check_directional(lambda x: float(np.sum(np.sin(x))), [x], [np.sin(x)])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        AssertionError: finite differences: along random direction 0 the function changes at rate ...
    """
    xs = [np.asarray(a, dtype=np.float64) for a in arrays]
    rng = np.random.default_rng(seed)
    for d in range(directions):
        vs = [rng.choice((-1.0, 1.0), size=x.shape) * rng.uniform(0.5, 1.0, size=x.shape) for x in xs]
        fd = central_difference(lambda t: fn(*[x + t * v for x, v in zip(xs, vs)]), h, richardson=True)
        terms = [np.asarray(g, dtype=np.float64) * v for g, v in zip(grads, vs) if g is not None]
        gv = float(sum(float(np.sum(t)) for t in terms))
        bound = rtol * float(sum(float(np.sum(np.abs(t))) for t in terms)) + 1e-9 * (1.0 + abs(fn(*xs)))
        if not abs(fd - gv) <= bound:
            raise AssertionError(
                f"{label}: along random direction {d} {what} changes at rate {fd!r}, but gradient . direction "
                f"= {gv!r} (allowed difference {bound!r})"
            )


def check_gradient(fn: Callable[..., float], arrays: Sequence, grads: Sequence, *, max_elements: int = 64,
                   rtol: float = 1e-6, seed: int = 0, h: float = 1e-5) -> None:
    """Raise ``AssertionError`` unless ``grads`` is the gradient of scalar ``fn`` at ``arrays``:
    element by element (Richardson central differences) when the inputs have at most
    ``max_elements`` entries in all, else along random directions (``check_directional``).

    Args:
        fn: a scalar function of the arrays.
        arrays: the point.
        grads: the gradient to check, one array (or ``None``: zero) per input.
        max_elements: above this many entries in all, check along random directions.
        rtol: the relative tolerance.
        seed: the directions' seed.
        h: the step.

    Raises:
        AssertionError: an element (or a direction) where ``grads`` and finite differences
            disagree, named with both numbers.

    Examples:
        >>> from shared_ops.testing import check_gradient
        >>> check_gradient(lambda x: float(np.sum(x ** 2)), [np.array([1.0, -3.0])], [np.array([2.0, -6.0])])
        >>> check_gradient(lambda x: float(np.sum(x ** 2)), [np.array([1.0, -3.0])], [np.array([2.0, 6.0])])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        AssertionError: input 0 element (1,): gradient 6.0, finite differences -5.99...
    """
    if sum(int(np.size(a)) for a in arrays) > max_elements:
        check_directional(fn, arrays, grads, seed=seed, rtol=rtol, h=h)
        return
    fd = numerical_gradient(fn, [np.asarray(a, dtype=np.float64) for a in arrays], eps=h, richardson=True)
    for i, (n, g) in enumerate(zip(fd, grads)):
        g = np.zeros_like(n) if g is None else np.asarray(g, dtype=np.float64)
        bound = rtol * (np.abs(n) + np.max(np.abs(n), initial=0.0)) + 1e-8
        bad = np.abs(g - n) > bound
        if bad.any():
            k = tuple(int(j) for j in np.argwhere(bad)[0])
            raise AssertionError(f"input {i} element {k}: gradient {float(g[k])!r}, finite differences {float(n[k])!r}")
