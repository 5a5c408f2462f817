"""The two interpreters of gradient rules that dyngraph runs.

- ``EagerOps``: the array interpreter (``shared_ops.ArrayOps``) for ordinary ``backward()``,
  with each op's call function built once and cached (the base class builds a closure on
  every attribute access), one instance per thread and backend, so ``needs_input_grad`` set
  for one rule is never seen by another thread's.
- ``DynamicOps``: the dynamic interpreter for ``create_graph=True``: every call applies the
  op to tensors, so it is recorded as a new node and the gradient can be differentiated again.
"""

from __future__ import annotations

import threading

from shared_ops import ArrayOps, OpsNamespace

from shared_ops.dtypes import FLOATING_SET as _FLOATS, weak_scalar_dtype

from . import _accel
from .node import dtype_name_of
from .record import const_array
from .tensors import Tensor, init, new

_SCALARS = (int, float, bool)


_NO = object()


class EagerOps(ArrayOps):
    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        op = self.registry.get(name)
        call = OP_CALL(name, op, self.xp, self._lift_scalars, self._scalar)
        self.__dict__[name] = call  # built once per (thread, backend)
        return call

    def sum_to(self, x, shape):
        """``x`` itself when already ``shape`` (tuples compare directly on NumPy), else ``sum_to``."""
        xs = x.shape
        if xs == shape or tuple(xs) == tuple(shape):
            return x
        # self.call("sum_to", ...) without its scalar scan and apply's frame (x is an array):
        # 57 opcodes fewer per summing call (bench_dyngraph_opcodes W3)
        return self.registry.get("sum_to").kernel(self.xp, x, shape=tuple(shape))

    def _scalar(self, value, like):
        """A Python scalar as a constant array of the weak dtype it takes beside ``like``."""
        name = dtype_name_of(like.dtype)
        if value.__class__ is not float or name not in _FLOATS:
            name = weak_scalar_dtype(value, name)
        return const_array(self.backend, value, name)

    def _lift_scalars(self, inputs: tuple) -> tuple:
        like = next((x for x in inputs if x.__class__ not in _SCALARS), None)
        if like is None:
            raise TypeError("an op needs at least one array input besides Python scalars")
        return tuple(self._scalar(x, like) if x.__class__ in _SCALARS else x for x in inputs)


def _py_call(name, op, xp, lift, scalar):
    """The caller of one op that ``EagerOps`` keeps: ``op.kernel(xp, *inputs, **attrs)``, a
    Python scalar operand first lifted to a constant array of the other operand's dtype.
    ``dyngraph/_cops.c`` (``OpCall``) is its compiled twin, used where it is built."""

    # one or two array inputs and no attributes is the common case: no *args/**kwargs packing
    def call(a, b=_NO, /, *rest, **attrs):
        if b is _NO:  # one input
            if a.__class__ in _SCALARS:
                a = lift((a,))[0]  # TypeError: no array to take a dtype from
            return op.kernel(xp, a, **attrs) if attrs else op.kernel(xp, a)
        if rest:  # add_n and other many-input ops: lift only when a scalar is there
            args = (a, b) + rest
            for x in args:
                if x.__class__ in _SCALARS:
                    args = lift(args)
                    break
            return op.kernel(xp, *args, **attrs)
        if a.__class__ in _SCALARS:
            a = scalar(a, b)
        elif b.__class__ in _SCALARS:
            b = scalar(b, a)
        return op.kernel(xp, a, b, **attrs) if attrs else op.kernel(xp, a, b)

    call.__name__ = call.__qualname__ = name  # errors name the op
    return call


_COPS = _accel.load("_cops")
# a gradient rule's ``ops.<name>``: the compiled caller where it is built (a W2 backward makes
# about 260 of these calls; the closure's frame is about 0.4 us of each), else the closure
OP_CALL = _COPS.OpCall if _COPS is not None else _py_call


class _PerThread(threading.local):
    def __init__(self):
        self.eager = {}


_TLS = _PerThread()


def eager_ops(backend) -> EagerOps:
    ops = _TLS.eager.get(id(backend))
    if ops is None:
        ops = _TLS.eager[id(backend)] = EagerOps(backend)
    return ops


class DynamicOps(OpsNamespace):
    """Gradient rules run on tensors: each op call is recorded (when grad mode is on)."""

    def apply(self, op, *inputs, **attrs):
        return Tensor._apply_op(op, inputs, attrs)

    def constant(self, value, dtype, like):
        return init(new(Tensor), const_array(like._be, value, dtype), like._be)
