"""The op registry: an op is declared once, as ``forward`` / ``infer`` / ``vjp``.

``forward(xp, *arrays, **attrs)``
    the kernel, written against the backend namespace ``xp``.
``infer(*specs, **attrs) -> Spec``
    output shape and dtype from the inputs' (``None`` marks a free dimension); raises
    ``ShapeError`` / ``DTypeError`` / ``AxisError`` naming the op and the shapes.
``vjp(ops, g, inputs, output, **attrs) -> tuple``
    one cotangent (or ``None``: no gradient) per input, computed only with calls through
    ``ops``. ``ops.needs_input_grad[i]`` says whether input ``i`` wants one (as PyTorch's
    ``ctx.needs_input_grad``); a rule may skip work for the others and return ``None``.
    Inputs the op does not save (``save_inputs``) arrive as shape-only stand-ins with
    ``.shape``, ``.ndim`` and ``.dtype``; the output likewise unless ``save_output``.

Attributes are keyword-only and hashable, so ``(op, inputs, attrs)`` is a CSE key.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from .errors import AxisError, RegistryError, ShapeError, UnknownOpError
from .opdef import _REQUIRED, OpDef, Spec  # noqa: F401  (the ops import them from here)


class Registry:
    """A table of ops. ``REGISTRY`` is the one everything uses; tests may build their own.

    Args:
        parent: a table to fall back to for names this one lacks: ``Registry(parent=REGISTRY)``
            is a private table for trying an op (a wrong gradient rule, say) without touching
            the global one.

    Examples:
        >>> from shared_ops import REGISTRY, Registry
        >>> mine = Registry(parent=REGISTRY)
        >>> mine.get("exp") is REGISTRY.get("exp")
        True
    """

    def __init__(self, parent: "Registry | None" = None):
        self._ops: dict[str, OpDef] = {}
        self._parent = parent

    def register(self, name: str, *, forward, infer, vjp=None, replace: bool = False, **traits) -> OpDef:
        """Declare an op in this table.

        Args:
            name: the op's name.
            forward: ``forward(xp, *arrays, **attrs)``, the kernel.
            infer: ``infer(*specs, **attrs) -> Spec``, the shape and dtype rule.
            vjp: ``vjp(ops, g, inputs, output, **attrs)``, the gradient rule (``None``: the op
                has no gradient).
            replace: replace an op of the same name instead of refusing.
            traits: the other fields of ``OpDef`` (``attrs`` may be a tuple of required names).

        Returns:
            The new ``OpDef``.

        Raises:
            RegistryError: the name is taken (without ``replace``), or ``forward``/``infer``
                are not callable.

        Examples:
            The gradient rule of ``cube(x) = x**3`` is ``g * 3 x**2``:

            >>> import numpy as np
            >>> from shared_ops import REGISTRY, Registry, Spec
            >>> from shared_ops.testing import check_vjp
            >>> mine = Registry(parent=REGISTRY)
            >>> cube = mine.register("cube", forward=lambda xp, x: x * x * x,
            ...                      infer=lambda x: Spec(x.shape, x.dtype),
            ...                      vjp=lambda ops, g, inputs, out: (ops.mul(g, ops.mul(3.0, ops.mul(inputs[0], inputs[0]))),))
            >>> cube, cube.grad_fn_name({})
            (<op cube>, 'CubeBackward0')
            >>> check_vjp(cube, (np.linspace(-1.0, 1.0, 5),), registry=mine)  # AssertionError if wrong
        """
        if not replace and name in self._ops:
            raise RegistryError(f"op '{name}' is already registered; pass replace=True to override it")
        if not callable(forward) or not callable(infer):
            raise RegistryError(f"op '{name}' needs callable forward and infer")
        attrs = traits.pop("attrs", {})
        if isinstance(attrs, (tuple, list)):
            attrs = {a: _REQUIRED for a in attrs}
        op = OpDef(name=name, forward=forward, infer=infer, vjp=vjp, attrs=dict(attrs), **traits)
        self._ops[name] = op
        return op

    def get(self, name: str) -> OpDef:
        """The op called ``name``, here or in the parent table.

        Args:
            name: the op's name.

        Returns:
            Its ``OpDef``.

        Raises:
            UnknownOpError: no op has that name (the message suggests close names).

        Examples:
            >>> from shared_ops import REGISTRY
            >>> REGISTRY.get("matmul")
            <op matmul>
        """
        op = self._ops.get(name)
        if op is None and self._parent is not None:
            return self._parent.get(name)
        if op is None:
            close = [n for n in self.names() if n.startswith(name[:3])][:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownOpError(f"unknown op {name!r}{hint}; shared_ops.all_ops() lists the registered ops")
        return op

    def __contains__(self, name: str) -> bool:
        return name in self._ops or (self._parent is not None and name in self._parent)

    def names(self) -> list[str]:
        """The names of the ops, the parent's first, in the order they were registered.

        Returns:
            A list of op names.

        Examples:
            >>> from shared_ops import REGISTRY
            >>> names = REGISTRY.names()
            >>> "mul" in names, names.index("add") < names.index("sub")
            (True, True)
        """
        names = dict.fromkeys(self._parent.names() if self._parent else [])
        names.update(dict.fromkeys(self._ops))
        return list(names)

    def all(self) -> list[OpDef]:
        """Every op, in the order of ``names()``.

        Returns:
            A list of ``OpDef``.

        Examples:
            >>> from shared_ops import REGISTRY
            >>> sorted(op.name for op in REGISTRY.all() if op.name.startswith("log"))[:3]
            ['log', 'log1p', 'log_softmax']
        """
        return [self.get(n) for n in self.names()]


REGISTRY = Registry()
REQUIRED = _REQUIRED


def register(name: str, **kwargs) -> OpDef:
    """Register an op in the global registry, where both front ends find it: ``dg.apply_op``,
    ``sg.apply_op`` and every gradient rule's ``ops.<name>`` (the parts are described in the
    module docstring and in ``OpDef``; chapter 9 of the tutorial writes one).

    Args:
        name: the op's name.
        kwargs: ``forward``, ``infer``, ``vjp``, ``replace`` and the other fields of ``OpDef``,
            as for ``Registry.register``.

    Returns:
        The new ``OpDef``.

    Examples:
        The library's ``exp``, declared with this function, and its gradient rule
        (``g * exp(x)``, read from the saved output):

        >>> import numpy as np
        >>> from shared_ops import array_ops, get_op
        >>> exp = get_op("exp")
        >>> exp.save_inputs, exp.save_output
        (False, True)
        >>> exp.vjp(array_ops(), np.array([1.0, 2.0]), (None,), np.array([3.0, 4.0]))
        (array([3., 8.]),)
    """
    return REGISTRY.register(name, **kwargs)


def get_op(name: str) -> OpDef:
    """The op called ``name`` in the global registry.

    Args:
        name: the op's name.

    Returns:
        Its ``OpDef``: kernel, shape rule, gradient rule and traits.

    Raises:
        UnknownOpError: no op has that name (the message suggests close names).

    Examples:
        >>> from shared_ops import get_op
        >>> get_op("mul").doc
        '``a * b``, elementwise with broadcasting (as ``torch.mul``).'
        >>> get_op("mull")
        Traceback (most recent call last):
        ...
        shared_ops.errors.UnknownOpError: unknown op 'mull' (did you mean mul...?); shared_ops.all_ops() lists the registered ops
        ...
    """
    return REGISTRY.get(name)


def all_ops() -> list[OpDef]:
    """Every op of the global registry, in the order they were registered.

    Returns:
        A list of ``OpDef``.

    Examples:
        >>> from shared_ops import all_ops
        >>> [op.name for op in all_ops() if op.vjp is None][:3]
        ['eq', 'ne', 'lt']
    """
    return REGISTRY.all()


# --------------------------------------------------------------------------- infer helpers


def fmt_shape(shape: Iterable) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(tuple(shape)) == 1 else "") + ")"


def broadcast_shapes(op: str, *shapes: tuple) -> tuple:
    """NumPy broadcasting of static shapes; ``None`` (free) broadcasts with anything.

    A free dimension against a fixed size ``k > 1`` is taken to be ``k`` (it will be checked
    when the graph runs). Raises ``ShapeError`` naming the op and every shape.
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(-ndim, 0):
        size: int | None = 1
        for s in shapes:
            if len(s) < -axis:
                continue
            d = s[axis]
            if d == 1:
                continue
            if d is None:
                size = None if size == 1 else size
                continue
            if size in (1, None):
                size = d
            elif size != d:
                shown = " and ".join(fmt_shape(s) for s in shapes)
                raise ShapeError(
                    f"{op}: shapes {shown} cannot be broadcast together (dimension {axis} is "
                    f"{size} in one and {d} in the other); reshape or transpose one input"
                )
        out.append(size)
    return tuple(out)


def normalize_axis(op: str, axis: Any, ndim: int) -> tuple | None:
    """``axis`` (None, int or sequence of ints, negative allowed) as a sorted tuple, or None."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, int) or isinstance(a, bool):
            raise AxisError(f"{op}: axis must be an int or tuple of ints, got {axis!r}")
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise AxisError(f"{op}: axis {a} is out of range for an input with {ndim} dimension(s)")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise AxisError(f"{op}: axis {axis!r} repeats a dimension")
    return tuple(sorted(out))


def size_of(shape: tuple) -> int | None:
    if any(d is None for d in shape):
        return None
    return math.prod(shape)


def resolve_free(shape: tuple, like) -> tuple:
    """``shape`` with each free (``None``) dimension taken from the runtime array ``like``
    (ops with a ``shape`` attribute take it as an optional last input; ``None``: as given)."""
    if like is None:
        return tuple(shape)
    return tuple(l if s is None else s for s, l in zip(shape, like.shape))


def transpose_perm(axes, ndim: int) -> tuple:
    """The permutation ``transpose(x, axes)`` applies: ``axes`` as given, reversed when None."""
    return tuple(range(ndim))[::-1] if axes is None else tuple(axes)


def reshape_shape(old: tuple, new: tuple) -> tuple:
    """Reshape's rule: ``new`` with its one ``-1`` resolved against ``old`` (``None`` where a
    free dimension leaves it unknown). Raises ``ShapeError`` for two ``-1``, another negative,
    or element counts that cannot agree."""
    new = tuple(new)
    if sum(d == -1 for d in new) > 1 or any(d is not None and d < -1 for d in new):
        raise ShapeError(f"reshape: invalid target shape {fmt_shape(new)} (at most one -1, no other negatives)")
    total, fixed = size_of(tuple(old)), size_of(tuple(d for d in new if d != -1))
    if -1 in new:
        if total is None or fixed is None:
            return tuple(None if d == -1 else d for d in new)
        if fixed == 0 or total % fixed:
            raise ShapeError(f"reshape: cannot reshape shape {fmt_shape(old)} ({total} elements) into {fmt_shape(new)}")
        return tuple(total // fixed if d == -1 else d for d in new)
    if total is not None and fixed is not None and total != fixed:
        raise ShapeError(
            f"reshape: cannot reshape shape {fmt_shape(old)} ({total} elements) into {fmt_shape(new)} ({fixed} elements)"
        )
    return new
