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
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple

from .errors import AxisError, OpAttributeError, RegistryError, ShapeError, UnknownOpError

_REQUIRED = object()


class Spec(NamedTuple):
    """Static description of a value: shape (``None`` = free dimension) and dtype name."""

    shape: tuple
    dtype: str

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass(eq=False)
class OpDef:
    """One op: its kernel, shape rule, gradient rule and traits.

    ``kernel`` is what front ends call; it is ``forward`` itself unless dispatch
    instrumentation is on (see ``shared_ops.dispatch``).
    """

    name: str
    forward: Callable[..., Any]
    infer: Callable[..., Spec]
    vjp: Callable[..., tuple] | None = None
    attrs: dict = field(default_factory=dict)  # name -> default (or _REQUIRED)
    elementwise: bool = False
    linear: bool = False  # linear in its differentiable inputs (passes may use it)
    exact: bool = False  # never rounds: every result is an input value or a constant (moves, selections)
    nondiff: frozenset = frozenset()  # input positions that never get a gradient
    save_inputs: bool | tuple = True  # which inputs the vjp reads (True: all, False: none)
    save_output: bool = False
    # which saved inputs each input's gradient reads, where that is less than all of them:
    # ``{input position: positions of saved inputs}``; an input not named reads none. A front
    # end that records saves only the inputs that the inputs requiring grad read, as PyTorch's
    # derivative formulas do (``saved_for``); None: all it saves. The output (``save_output``)
    # is saved whatever requires grad, as PyTorch saves outputs
    grad_reads: dict | None = None
    torch_name: str | Callable[[dict], str] | None = None
    variadic: bool = False
    n_inputs: int | None = None
    scalar_expr: Callable[..., str] | None = None  # fusion: scalar expression from input exprs
    # -- aliasing (PyTensor's view_map): consumers read these, never a list of op names
    view_of: tuple = ()  # input positions the output is a view of (shares memory, owns no bytes)
    may_alias: tuple = ()  # input positions the output may *be* (returned unchanged) or view
    commutative: bool = False  # f(a, b) == f(b, a) bitwise, for every pair of inputs
    reduction: bool = False  # sums over axes of its one input (fusion may end a region with it)
    numpy_calls: int = 1  # NumPy calls its forward makes (what fusing it saves: fusion's cost model)
    # ``forward_into(xp, *arrays, out)``: the kernel writing into ``out`` (a preallocated array of the
    # output's shape and dtype), bitwise equal to ``forward``; None where no such kernel exists
    forward_into: Callable[..., Any] | None = None
    # ``index_map(dims, in_shape, out_shape, **attrs) -> input dims``: for a view that only
    # re-indexes its one input (expand_dims, transpose, broadcast_to), where each input dim
    # runs given where each output dim runs (a loop dim or None); fusion reads the input
    # through it instead of materialising the view
    index_map: Callable[..., tuple] | None = None
    # ``strides(layout, **attrs) -> layout``: a view's PyTorch layout ``(sizes, strides, offset)``
    # from its input's, None where strides cannot express it (``shared_ops/ops/_strides.py``)
    strides: Callable[..., tuple | None] | None = None
    # the result takes its first input's PyTorch layout as ``preserve_format`` does (``clone``,
    # ``.to(dtype)``, ``*_like``, ``flip``, ``sort``), or ``f(attrs)`` says whether it does;
    # other elementwise ops' results take TensorIterator's
    preserve_format: bool | Callable[[dict], bool] = False
    doc: str = ""
    kernel: Callable[..., Any] = None  # type: ignore[assignment]

    def __post_init__(self):
        if self.kernel is None:
            self.kernel = self.forward
        if isinstance(self.save_inputs, list):
            self.save_inputs = tuple(self.save_inputs)
        self.view_of = tuple(self.view_of)
        # a view may alias its base: may_alias always includes view_of
        self.may_alias = tuple(sorted(set(self.may_alias) | set(self.view_of)))
        for i, reads in (self.grad_reads or {}).items():
            for k in reads:
                if not (self.save_inputs is True or (isinstance(self.save_inputs, tuple) and k in self.save_inputs)):
                    raise RegistryError(
                        f"op '{self.name}': grad_reads says input {i}'s gradient reads input {k!r}, which the "
                        "op does not save; add it to save_inputs"
                    )

    def saved_for(self, needs) -> tuple:
        """What to save when the inputs ``needs`` marks (one truth value per input position)
        want gradients: ``(positions of the inputs, whether the output)``.

        Parameters:
            needs: one truth value per input position.

        Returns:
            A frozenset of input positions and ``save_output``.

        Examples:
            >>> from shared_ops import get_op
            >>> get_op("mul").saved_for((True, False))  # x * w, only x requires grad: keep w
            (frozenset({1}), False)
        """
        if self.grad_reads is None:
            s = self.save_inputs
            every = range(len(needs)) if s is True else s if s else ()
            return frozenset(every), self.save_output
        keep = set()
        for i, want in enumerate(needs):
            if want:
                keep.update(self.grad_reads.get(i, ()))
        return frozenset(keep), self.save_output

    # -- attributes ----------------------------------------------------------------
    def bind_attrs(self, attrs: dict) -> dict:
        """Validate ``attrs`` (known names, hashable, required present) and fill defaults."""
        out = {}
        for key in attrs:
            if key not in self.attrs:
                known = ", ".join(self.attrs) or "none"
                raise OpAttributeError(f"op '{self.name}' got an unexpected attribute {key!r} (it takes: {known})")
        for key, default in self.attrs.items():
            if key in attrs:
                value = attrs[key]
            elif default is _REQUIRED:
                raise OpAttributeError(f"op '{self.name}' needs the attribute {key!r}")
            else:
                value = default
            try:
                hash(value)
            except TypeError:
                raise OpAttributeError(
                    f"op '{self.name}': attribute {key}={value!r} is not hashable; pass tuples, not lists"
                ) from None
            out[key] = value
        return out

    def grad_fn_name(self, attrs: dict) -> str:
        """PyTorch's name for this op's backward node (``MulBackward0``)."""
        t = self.torch_name
        if t is None:
            return "".join(p.capitalize() for p in self.name.split("_")) + "Backward0"
        return t(attrs) if callable(t) else t

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None

    def __repr__(self) -> str:
        return f"<op {self.name}>"


class Registry:
    """A table of ops. ``REGISTRY`` is the one everything uses; tests may build their own."""

    def __init__(self, parent: "Registry | None" = None):
        self._ops: dict[str, OpDef] = {}
        self._parent = parent

    def register(self, name: str, *, forward, infer, vjp=None, replace: bool = False, **traits) -> OpDef:
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
        names = dict.fromkeys(self._parent.names() if self._parent else [])
        names.update(dict.fromkeys(self._ops))
        return list(names)

    def all(self) -> list[OpDef]:
        return [self.get(n) for n in self.names()]


REGISTRY = Registry()
REQUIRED = _REQUIRED


def register(name: str, **kwargs) -> OpDef:
    """Register an op in the global registry (see the module docstring for the parts)."""
    return REGISTRY.register(name, **kwargs)


def get_op(name: str) -> OpDef:
    return REGISTRY.get(name)


def all_ops() -> list[OpDef]:
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
