"""Per-op example inputs: the table the op suite draws from, and the decorator that fills it.

``shared_ops/ops/_examples.py`` registers the library's own generators; ``shared_ops.testing``
loads it and re-exports ``example`` and ``example_inputs`` for users' ops.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from .registry import OpDef

__all__ = ["EXAMPLES", "Case", "example", "example_inputs"]

Case = tuple  # (inputs: tuple of NumPy arrays, attrs: dict)
EXAMPLES: dict[str, Callable[[np.random.Generator, str], list]] = {}
"""op name -> ``fn(rng, dtype) -> [(inputs, attrs), ...]``; ``example`` adds to it."""


def example(name: str):
    """Register the example generator of op ``name`` (a user's op included): ``check_op`` and
    the library's op suite draw from it.

    Args:
        name: the op's name.

    Returns:
        A decorator for ``fn(rng, dtype) -> [(inputs, attrs), ...]``, which it returns as it is.

    Examples:
        >>> from shared_ops.testing import EXAMPLES, example, example_inputs
        >>> @example("cube")
        ... def _(rng, dtype):
        ...     return [((rng.standard_normal((2, 3)).astype(dtype),), {})]
        >>> [x.shape for (x,), attrs in example_inputs("cube")]
        [(2, 3)]
        >>> del EXAMPLES["cube"]  # an example for an op that is not registered: leave no trace
    """

    def deco(fn):
        EXAMPLES[name] = fn
        return fn

    return deco


def example_inputs(op: OpDef | str, rng: np.random.Generator | int = 0, dtype: str = "float64") -> Iterator[Case]:
    """Yield ``(inputs, attrs)`` examples of ``op`` with float inputs of ``dtype``.

    Dimension sizes are distinct (square inputs hide swapped axes), broadcasting is exercised,
    domains keep finite differences meaningful. An op without a generator is an error, so a
    newly registered op cannot silently go untested.

    Args:
        op: the op or its name.
        rng: a generator or a seed.
        dtype: the float inputs' dtype.

    Yields:
        ``(inputs, attrs)``: a tuple of NumPy arrays and the attributes to call the op with.

    Raises:
        LookupError: the op has no example generator (the message says how to add one).

    Examples:
        >>> from shared_ops.testing import example_inputs
        >>> inputs, attrs = next(example_inputs("sum", 1))
        >>> sorted(attrs)
        ['axis', 'keepdims']
    """
    name = op if isinstance(op, str) else op.name
    if name not in EXAMPLES:
        raise LookupError(
            f"no example inputs for op {name!r}: add a generator with "
            f"@shared_ops.testing.example({name!r}) (see shared_ops/ops/_examples.py)"
        )
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    yield from EXAMPLES[name](rng, dtype)
