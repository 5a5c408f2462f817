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
    """Stand-in for a value a node did not save: only its static description. A gradient rule
    receives one for each input the op does not save (``save_inputs``), so it can read the
    input's shape but not its values.

    Args:
        shape: the value's shape.
        dtype: its dtype.

    Examples:
        >>> from shared_ops import ShapeOnly
        >>> s = ShapeOnly((2, 3), "float32")
        >>> s, s.ndim
        (ShapeOnly((2, 3), float32), 2)
    """

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
    """Base of the three interpreters of gradient rules: a gradient rule's ``ops``.

    A subclass implements ``apply`` and ``constant``; ``ops.mul(g, b)`` then looks the op up
    (``UnknownOpError`` for a typo), lifts Python scalars to constants of the array operand's
    dtype (weakly typed, as PyTorch), and applies it. ``needs_input_grad[i]`` says whether the
    rule's input ``i`` wants a gradient.

    Examples:
        An interpreter that writes each call down instead of computing it:

        >>> from shared_ops import OpsNamespace
        >>> class Printer(OpsNamespace):
        ...     def apply(self, op, *inputs, **attrs):
        ...         return f"{op.name}({', '.join(map(str, inputs))})"
        ...     def constant(self, value, dtype, like):
        ...         return f"{value}:{dtype}"
        >>> class Sym(str):
        ...     dtype, shape = "float32", (3,)
        >>> Printer().mul(Sym("g"), 2.0)
        'mul(g, 2.0:float32)'
    """

    registry: Registry = REGISTRY
    needs_input_grad: Any = ALL_TRUE

    def apply(self, op: OpDef, *inputs: Any, **attrs: Any) -> Any:  # pragma: no cover
        """Apply ``op`` to ``inputs`` in this interpreter's domain (each subclass's own).

        Args:
            op: the op.
            inputs: arrays, tensors or nodes (Python scalars already lifted by ``call``).
            attrs: the op's attributes.

        Returns:
            The result: an array, a recorded tensor or a declared node.

        Examples:
            >>> import numpy as np
            >>> from shared_ops import array_ops, get_op
            >>> array_ops().apply(get_op("add"), np.ones(2), np.ones(2))
            array([2., 2.])
        """
        raise NotImplementedError

    def constant(self, value: Any, dtype: str, like: Any) -> Any:  # pragma: no cover
        """A constant ``value`` of ``dtype`` in this interpreter's domain, beside ``like``.

        Args:
            value: a Python number.
            dtype: the dtype's name.
            like: a value of this domain the constant goes with (its device).

        Returns:
            The constant, as this domain's value.

        Examples:
            >>> import numpy as np
            >>> from shared_ops import array_ops
            >>> array_ops().constant(2.0, "float32", np.ones(2))
            array(2., dtype=float32)
        """
        raise NotImplementedError

    # -- conveniences shared by every interpreter ------------------------------------
    def call(self, name: str, *inputs: Any, **attrs: Any) -> Any:
        """Apply the op called ``name``: what ``ops.<name>(*inputs, **attrs)`` does.

        Args:
            name: the op's name.
            inputs: its inputs; Python scalars become constants of the array inputs' dtype.
            attrs: its attributes.

        Returns:
            What ``apply`` returns.

        Examples:
            >>> import numpy as np
            >>> from shared_ops import array_ops
            >>> array_ops().call("mul", np.array([1.0, 2.0], dtype="float32"), 3.0)
            array([3., 6.], dtype=float32)
        """
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
        """Sum ``x`` down to ``shape`` (undo broadcasting); ``x`` itself when already that shape.
        Every binary gradient rule undoes broadcasting with it.

        Args:
            x: a gradient of the broadcast shape.
            shape: the shape of the input that was broadcast.

        Returns:
            ``x`` summed over the broadcast dimensions.

        Examples:
            >>> import numpy as np
            >>> from shared_ops import array_ops
            >>> array_ops().sum_to(np.ones((2, 3)), (1, 3))
            array([[2., 2., 2.]])
        """
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
    """The array interpreter: each call runs the kernel now, on one backend (dyngraph's
    ordinary ``backward()``).

    Args:
        backend: the backend whose namespace kernels receive; ``None``: the backend of each
            call's arrays.
        registry: where op names are looked up.

    Examples:
        >>> import numpy as np
        >>> from shared_ops import ArrayOps, get_backend
        >>> ops = ArrayOps(get_backend("numpy"))
        >>> ops.tanh_grad(np.ones(2), np.array([0.0, 0.5]))  # g * (1 - y*y)
        array([1.  , 0.75])
    """

    def __init__(self, backend: Backend | None = None, registry: Registry = REGISTRY):
        self.backend = backend
        self.registry = registry
        self.xp = backend.xp if backend is not None else None

    def apply(self, op: OpDef, *inputs: Any, **attrs: Any) -> Any:
        """Run ``op``'s kernel on ``inputs`` now.

        Args:
            op: the op.
            inputs: arrays (``None`` allowed where the op takes an optional input).
            attrs: the op's attributes.

        Returns:
            The kernel's result.

        Examples:
            >>> import numpy as np
            >>> from shared_ops import array_ops, get_op
            >>> array_ops().apply(get_op("sum"), np.ones((2, 3)), axis=(1,))
            array([3., 3.])
        """
        xp = self.xp
        if xp is None:
            xp = backend_of(next(x for x in inputs if x is not None)).xp
        return op.kernel(xp, *inputs, **attrs)

    def constant(self, value: Any, dtype: str, like: Any) -> Any:
        """A 0-d array holding ``value``, on ``like``'s backend.

        Args:
            value: a Python number.
            dtype: the dtype's name.
            like: an array of the backend to use (when this interpreter has none).

        Returns:
            A 0-d array.

        Examples:
            >>> import numpy as np
            >>> from shared_ops import array_ops
            >>> array_ops().constant(3, "int64", np.zeros(2))
            array(3)
        """
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
    """The array interpreter for ``backend``, made once and kept.

    Args:
        backend: a ``Backend``; ``None``: whatever backend each call's arrays are on.

    Returns:
        An ``ArrayOps``, the same object for the same backend.

    Examples:
        >>> import numpy as np
        >>> from shared_ops import array_ops
        >>> array_ops() is array_ops()
        True
        >>> array_ops().exp(np.zeros(2))
        array([1., 1.])
    """
    key = id(backend)
    ns = _ARRAY_OPS.get(key)
    if ns is None:
        ns = _ARRAY_OPS[key] = ArrayOps(backend)
    return ns
