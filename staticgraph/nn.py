"""``sg.nn``: the shared modules (``shared_ops.nn``) with staticgraph variables as parameters.

A module built inside ``with sg.Graph():`` declares its parameters as ``sg.variable``s of that
graph, initialised from ``sg.nn.manual_seed``'s generator; ``state_dict()`` maps the names to
those variables (``sess.run(model.state_dict())`` reads them) and ``load_state_dict`` sets their
initial values (a ``Session`` opened afterwards starts from them). ``dropout`` without a seed
takes it from the graph's ``nn_step`` variable, which ``sg.train`` optimisers advance each run.
"""

from __future__ import annotations

import weakref

import numpy as np

from shared_ops.functions_nn import SEED_SOURCES
from shared_ops.nn import *  # noqa: F401,F403  (the shared classes are sg.nn's)
from shared_ops.nn import FrontEnd, functional, init, register_front_end  # noqa: F401

from .graph import Node, _stack
from .sources import variable

_GEN = [np.random.default_rng(0)]
_STEPS: dict = {}  # id(graph) -> [weak ref to the graph, its nn_step variable, dropout calls declared so far]
_FROZEN: dict = {}  # id -> weak reference of each frozen parameter variable (an id alone may be reused)


def manual_seed(seed: int) -> None:
    """Seed the generator that initialises parameters (as ``torch.manual_seed`` for ``dg.nn``)."""
    _GEN[0] = np.random.default_rng(int(seed))


class StaticFrontEnd(FrontEnd):
    name = "staticgraph"
    priority = 1

    def active(self) -> bool:
        return bool(_stack())  # a graph is being declared

    def parameter(self, array, name=None, requires_grad=True):
        v = variable(array, name=name, dtype=array.dtype.name)
        if not requires_grad:
            _freeze(v)
        return v

    def is_parameter(self, value) -> bool:
        return isinstance(value, Node) and value.op == "variable"

    def to_numpy(self, value) -> np.ndarray:
        return np.array(value.value)

    def load(self, param, array) -> None:
        param.value = np.array(array, dtype=param.dtype)
        state = getattr(param.graph, "state", None)
        if isinstance(state, dict) and param.id in state:
            state[param.id] = np.array(param.value)

    def convert(self, param, dtype):
        if param.dtype == dtype:
            return param
        with param.graph:
            v = variable(np.asarray(param.value).astype(dtype), dtype=dtype)
        if frozen(param):
            _freeze(v)
        return v

    def generator(self):
        return _GEN[0]


def _freeze(v: Node) -> None:
    key = id(v)
    _FROZEN[key] = weakref.ref(v, lambda ref: _FROZEN.pop(key, None) if _FROZEN.get(key) is ref else None)


def frozen(v: Node) -> bool:
    """True for a variable made by ``Parameter(..., requires_grad=False)`` (TF1's ``trainable=False``):
    ``minimize`` leaves it out of its default ``var_list``."""
    ref = _FROZEN.get(id(v))
    return ref is not None and ref() is v


def step_variable(graph):
    """The graph's ``nn_step`` variable (int64), created on first use; None if it has none."""
    entry = _STEPS.get(id(graph))
    return None if entry is None or entry[0]() is not graph else entry[1]


def _dropout_seed(x):
    g = x.graph
    entry = _STEPS.get(id(g))
    if entry is None or entry[0]() is not g:
        with g:
            entry = [weakref.ref(g), variable(np.int64(0), name="nn_step", dtype="int64"), 0]
        _STEPS[id(g)] = entry
    entry[2] += 1
    # one seed per (run, dropout call): the step changes each optimiser run
    return entry[1] * 1_000_003 + entry[2]


register_front_end(StaticFrontEnd())
SEED_SOURCES[Node] = _dropout_seed
