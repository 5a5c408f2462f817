"""The declaration of one op (``OpDef``) and the static description of a value (``Spec``).

``shared_ops.registry`` keeps the table of ops and re-exports both; the contract of an op's
``forward`` / ``infer`` / ``vjp`` is described there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from .errors import OpAttributeError, RegistryError

_REQUIRED = object()


class Spec(NamedTuple):
    """Static description of a value: what ``infer`` takes and returns, and what a node knows.

    Attributes:
        shape: one size per dimension; ``None`` marks a free dimension (a static graph's
            placeholder of unknown batch size).
        dtype: the dtype's name (``"float32"``).

    Examples:
        >>> from shared_ops import Spec, get_op
        >>> get_op("matmul").infer(Spec((None, 3), "float32"), Spec((3, 4), "float32"))
        Spec(shape=(None, 4), dtype='float32')
    """

    shape: tuple
    dtype: str

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass(eq=False)
class OpDef:
    """One op: its kernel, shape rule, gradient rule and traits (made by ``register``).

    Consumers (passes, the memory planner, fusion) read an op's traits, never a list of op
    names; the aliasing traits are PyTensor's ``view_map`` as data.

    Args:
        name: the op's name (``ops.<name>`` in a gradient rule, ``apply_op(name, ...)``).
        forward: ``forward(xp, *arrays, **attrs)``, the kernel, on the namespace ``xp``.
        infer: ``infer(*specs, **attrs) -> Spec``, the shape and dtype rule.
        vjp: ``vjp(ops, g, inputs, output, **attrs)``, the gradient rule: one cotangent (or
            ``None``) per input, computed only through ``ops``; ``None``: not differentiable.
        attrs: attribute name -> default (``REQUIRED`` for none).
        elementwise: acts on each element alone (fusion may group it).
        linear: linear in its differentiable inputs (passes may use it).
        exact: never rounds: every result is an input value or a constant (moves, selections).
        nondiff: input positions that never get a gradient.
        save_inputs: which inputs the vjp reads (True: all, False: none, or a tuple).
        save_output: whether the vjp reads the output.
        grad_reads: ``{input position: positions of saved inputs}``, which saved inputs each
            input's gradient reads where that is less than all of them (an input not named reads
            none); a recording front end saves only what the inputs requiring grad read, as
            PyTorch's derivative formulas do (``saved_for``). The output is saved regardless.
        torch_name: PyTorch's backward node name, or a function of the attributes giving it.
        variadic: takes any number of inputs (``concat``, ``stack``).
        n_inputs: the number of inputs, where fixed and not read from ``forward``.
        scalar_expr: fusion's scalar expression from the inputs' expressions.
        view_of: input positions the output is a view of (shares memory, owns no bytes).
        may_alias: input positions the output may *be* (returned unchanged) or view.
        commutative: ``f(a, b) == f(b, a)`` bitwise, for every pair of inputs.
        reduction: sums over axes of its one input (fusion may end a region with it).
        numpy_calls: NumPy calls its forward makes (what fusing it saves).
        forward_into: ``forward_into(xp, *arrays, out)``, the kernel writing into a
            preallocated ``out``, bitwise equal to ``forward``.
        index_map: ``index_map(dims, in_shape, out_shape, **attrs)``: for a view that only
            re-indexes its one input, where each input dim runs given the output dims; fusion
            reads the input through it instead of materialising the view.
        strides: ``strides(layout, **attrs)``: a view's PyTorch layout ``(sizes, strides,
            offset)`` from its input's; None where strides cannot express it.
        preserve_format: the result takes its first input's PyTorch layout, as
            ``preserve_format`` does (``clone``, ``.to(dtype)``, ``*_like``, ``flip``, ``sort``);
            or ``f(attrs)`` says whether it does. Other elementwise results take TensorIterator's.
        doc: one sentence saying what the op computes (method docstrings are made from it).
        kernel: what front ends call: ``forward`` itself unless instrumentation is on
            (``shared_ops.dispatch``).

    Examples:
        The gradient rule of ``mul``, run on arrays (``d(a*b)/da = b``, ``d(a*b)/db = a``):

        >>> import numpy as np
        >>> from shared_ops import array_ops, get_op
        >>> mul = get_op("mul")
        >>> a, b = np.array([2.0, 3.0]), np.array([5.0, 7.0])
        >>> out = mul.forward(np, a, b)
        >>> mul.vjp(array_ops(), np.ones(2), (a, b), out)
        (array([5., 7.]), array([2., 3.]))
    """

    name: str
    forward: Callable[..., Any]
    infer: Callable[..., Spec]
    vjp: Callable[..., tuple] | None = None
    attrs: dict = field(default_factory=dict)
    elementwise: bool = False
    linear: bool = False
    exact: bool = False
    nondiff: frozenset = frozenset()
    save_inputs: bool | tuple = True
    save_output: bool = False
    grad_reads: dict | None = None
    torch_name: str | Callable[[dict], str] | None = None
    variadic: bool = False
    n_inputs: int | None = None
    scalar_expr: Callable[..., str] | None = None
    view_of: tuple = ()
    may_alias: tuple = ()
    commutative: bool = False
    reduction: bool = False
    numpy_calls: int = 1
    forward_into: Callable[..., Any] | None = None
    index_map: Callable[..., tuple] | None = None
    strides: Callable[..., tuple | None] | None = None
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
        """Validate ``attrs`` (known names, hashable, required present) and fill defaults.

        Args:
            attrs: the attributes a call passed, by name.

        Returns:
            Every attribute of the op, by name: those passed, the defaults for the rest.

        Raises:
            OpAttributeError: an unknown name, an unhashable value (a list), or a required
                attribute missing.

        Examples:
            >>> from shared_ops import get_op
            >>> get_op("sum").bind_attrs({"axis": 1})
            {'axis': 1, 'keepdims': False}
            >>> get_op("sum").bind_attrs({"axis": [0, 1]})
            Traceback (most recent call last):
            ...
            shared_ops.errors.OpAttributeError: op 'sum': attribute axis=[0, 1] is not hashable; pass tuples, not lists
            ...
        """
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
        """PyTorch's name for this op's backward node (``MulBackward0``): ``torch_name``, or
        the op's name in CamelCase followed by ``Backward0``.

        Args:
            attrs: the call's attributes (some ops' names depend on them).

        Returns:
            The name dyngraph shows as ``grad_fn``.

        Examples:
            >>> from shared_ops import get_op
            >>> get_op("mul").grad_fn_name({})
            'MulBackward0'
        """
        t = self.torch_name
        if t is None:
            return "".join(p.capitalize() for p in self.name.split("_")) + "Backward0"
        return t(attrs) if callable(t) else t

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None

    def __repr__(self) -> str:
        return f"<op {self.name}>"
