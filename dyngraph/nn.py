"""``dg.nn``: the shared modules (``shared_ops.nn``) with dyngraph tensors as parameters.

``dg.nn.Linear is sg.nn.Linear``: one implementation. Here a parameter is a leaf tensor that
requires grad, initialised from dyngraph's generator (``dg.manual_seed``); ``state_dict()``
gives detached tensors; ``dg.nn.functional.dropout`` draws its mask seed from the same
generator.
"""

from __future__ import annotations

import weakref

import numpy as np

from shared_ops.functions_nn import SEED_SOURCES
from shared_ops.nn import *  # noqa: F401,F403  (the shared classes are dg.nn's)
from shared_ops.nn import FrontEnd, functional, init, register_front_end  # noqa: F401

from . import rng
from .grad_mode import no_grad
from .tensors import Tensor


_PARAMS: dict = {}  # id -> weak reference of each tensor Parameter made (an id alone may be reused)


class DynFrontEnd(FrontEnd):
    name = "dyngraph"
    priority = 0

    def parameter(self, array, name=None, requires_grad=True):
        from .creation import tensor

        t = tensor(array, requires_grad=requires_grad)
        key = id(t)
        _PARAMS[key] = weakref.ref(t, lambda ref: _PARAMS.pop(key, None) if _PARAMS.get(key) is ref else None)
        return t

    def is_parameter(self, value) -> bool:
        # a leaf that requires grad, or one made by Parameter and frozen since (requires_grad_(False))
        if not isinstance(value, Tensor):
            return False
        ref = _PARAMS.get(id(value))
        return (ref is not None and ref() is value) or (value.is_leaf and value.requires_grad)

    def to_numpy(self, value) -> np.ndarray:
        return np.array(value.detach().numpy())

    def load(self, param, array) -> None:
        with no_grad():
            param.copy_(np.asarray(array, dtype=param._dtype_name))

    def convert(self, param, dtype):
        if param._dtype_name != dtype:
            param.data = self.to_numpy(param).astype(dtype)
            param.grad = None
        return param

    def generator(self):
        return rng._GEN[0]

    def zero_grad(self, param) -> None:
        param.grad = None

    def state_value(self, param):
        return param.detach()


register_front_end(DynFrontEnd())
SEED_SOURCES[Tensor] = lambda x: int(rng._GEN[0].integers(2**62))
