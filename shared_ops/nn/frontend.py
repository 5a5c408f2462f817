"""How the shared modules reach a front end: each front end registers one ``FrontEnd``.

A module's parameters are values of the front end that is *current* when the module is built:
``staticgraph`` is current while a graph is being declared (inside ``with sg.Graph():``),
``dyngraph`` otherwise (and whichever is registered, when only one is). ``shared_ops`` knows
neither: ``dyngraph.nn`` and ``staticgraph.nn`` register themselves on import.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class FrontEnd:
    """What the shared modules need from a front end (subclassed by ``dyngraph.nn`` and ``staticgraph.nn``)."""

    name = "?"
    priority = 0  # the active front end with the highest priority is current

    def active(self) -> bool:
        return True

    def parameter(self, array: np.ndarray, name: str | None = None, requires_grad: bool = True) -> Any:
        """A new parameter initialised to ``array`` (a leaf tensor, a variable); ``requires_grad=False``:
        a frozen one, which is never trained but stays a parameter (``is_parameter`` is True)."""
        raise NotImplementedError

    def is_parameter(self, value: Any) -> bool:
        raise NotImplementedError

    def to_numpy(self, value: Any) -> np.ndarray:
        """The value of a parameter as a NumPy array (a variable's initial value in a static graph)."""
        raise NotImplementedError

    def load(self, param: Any, array: np.ndarray) -> None:
        """Overwrite ``param``'s value with ``array`` (same shape and dtype)."""
        raise NotImplementedError

    def convert(self, param: Any, dtype: str) -> Any:
        """``param`` in ``dtype`` (the same object where the front end allows it)."""
        raise NotImplementedError

    def generator(self) -> np.random.Generator:
        """The generator parameter initialisation draws from (the front end's seeded one)."""
        raise NotImplementedError

    def zero_grad(self, param: Any) -> None:
        """Forget the accumulated gradient (nothing to do where gradients are graph nodes)."""

    def state_value(self, param: Any) -> Any:
        """What ``state_dict()`` maps the parameter's name to."""
        return param


_FRONT_ENDS: list[FrontEnd] = []


def register_front_end(fe: FrontEnd) -> FrontEnd:
    _FRONT_ENDS[:] = [f for f in _FRONT_ENDS if f.name != fe.name] + [fe]
    return fe


def current() -> FrontEnd:
    active = [f for f in _FRONT_ENDS if f.active()]
    if not active:
        if not _FRONT_ENDS:
            raise RuntimeError("no front end is loaded: import dyngraph or staticgraph and use dg.nn / sg.nn")
        active = _FRONT_ENDS
    return max(active, key=lambda f: f.priority)


def owner(value: Any) -> FrontEnd | None:
    """The front end whose parameter ``value`` is (None for anything else)."""
    for f in _FRONT_ENDS:
        if f.is_parameter(value):
            return f
    return None
