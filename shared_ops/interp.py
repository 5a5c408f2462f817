"""The ``ops`` namespaces that gradient rules run on, and the array interpreter.

A gradient rule calls ``ops.mul(g, b)``, ``ops.sum_to(x, shape=...)``. What that does depends on
the namespace it was handed:

- ``ArrayOps`` (here): run the kernel on arrays now. dyngraph's ordinary ``backward()``.
- dyngraph's dynamic interpreter: record a new graph node. ``backward(create_graph=True)``.
- staticgraph's symbolic interpreter: declare a node. ``sg.gradients``.

Every namespace is an ``OpsNamespace``: it implements ``apply(op, *inputs, **attrs)`` and
``constant(value, like)``; this base class turns attribute access into op calls, lifts Python
scalars (weakly typed, NEP 50), and short-circuits ``sum_to`` when there is nothing to sum.
"""

from __future__ import annotations

from typing import Any

from .backend import Backend, backend_of
from .dtypes import dtype_name, weak_scalar_dtype
from .registry import REGISTRY, OpDef, Registry

_SCALARS = (int, float, bool)


class _AllTrue:
    __slots__ = ()

    def __getitem__(self, i: int) -> bool:
        return True

    def __repr__(self) -> str:
        return "all True"


ALL_TRUE = _AllTrue()


class ShapeOnly:
    """Stand-in for a value a node did not save: only its static description."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: tuple, dtype: Any):
        self.shape = tuple(shape)
        self.dtype = dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"ShapeOnly({self.shape}, {self.dtype})"


class OpsNamespace:
    """Base of the three interpreters of gradient rules."""

    registry: Registry = REGISTRY
    needs_input_grad: Any = ALL_TRUE

    def apply(self, op: OpDef, *inputs: Any, **attrs: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def constant(self, value: Any, dtype: str, like: Any) -> Any:  # pragma: no cover
        """A constant ``value`` of ``dtype`` in this interpreter's domain, beside ``like``."""
        raise NotImplementedError

    # -- conveniences shared by every interpreter ------------------------------------
    def call(self, name: str, *inputs: Any, **attrs: Any) -> Any:
        op = self.registry.get(name)
        if any(type(x) in _SCALARS for x in inputs):
            inputs = self._lift_scalars(inputs)
        return self.apply(op, *inputs, **attrs)

    def _lift_scalars(self, inputs: tuple) -> tuple:
        like = next((x for x in inputs if type(x) not in _SCALARS), None)
        if like is None:
            raise TypeError("an op needs at least one array input besides Python scalars")
        base = dtype_name(like.dtype)
        return tuple(
            self.constant(x, weak_scalar_dtype(x, base), like) if type(x) in _SCALARS else x for x in inputs
        )

    def sum_to(self, x: Any, shape: tuple) -> Any:
        """Sum ``x`` down to ``shape`` (undo broadcasting); ``x`` itself when already that shape."""
        shape = tuple(shape)
        if tuple(x.shape) == shape:
            return x
        return self.call("sum_to", x, shape=shape)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        self.registry.get(name)  # UnknownOpError with a hint for a typo

        def op_call(*inputs, **attrs):
            return self.call(name, *inputs, **attrs)

        op_call.__name__ = name
        return op_call


class ArrayOps(OpsNamespace):
    """The array interpreter: each call runs the kernel now, on one backend."""

    def __init__(self, backend: Backend | None = None, registry: Registry = REGISTRY):
        self.backend = backend
        self.registry = registry
        self.xp = backend.xp if backend is not None else None

    def apply(self, op: OpDef, *inputs: Any, **attrs: Any) -> Any:
        xp = self.xp
        if xp is None:
            xp = backend_of(next(x for x in inputs if x is not None)).xp
        return op.kernel(xp, *inputs, **attrs)

    def constant(self, value: Any, dtype: str, like: Any) -> Any:
        xp = self.xp if self.xp is not None else backend_of(like).xp
        return xp.asarray(value, dtype=getattr(xp, dtype))

    def __getattr__(self, name: str):
        # Build each op's caller once and keep it on the instance: a gradient rule's
        # ``ops.mul(g, b)`` is then one closure call and the kernel call, nothing more.
        if name.startswith("_") or self.xp is None:
            return OpsNamespace.__getattr__(self, name)
        op = self.registry.get(name)
        xp = self.xp
        lift = self._lift_scalars

        def op_call(*inputs, **attrs):
            for x in inputs:
                if type(x) in _SCALARS:
                    inputs = lift(inputs)
                    break
            return op.kernel(xp, *inputs, **attrs)

        op_call.__name__ = name
        self.__dict__[name] = op_call
        return op_call


_ARRAY_OPS: dict[int, ArrayOps] = {}


def array_ops(backend: Backend | None = None) -> ArrayOps:
    """The array interpreter for ``backend`` (``None``: whatever backend the arrays are on)."""
    key = id(backend)
    ns = _ARRAY_OPS.get(key)
    if ns is None:
        ns = _ARRAY_OPS[key] = ArrayOps(backend)
    return ns
