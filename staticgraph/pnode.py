"""One equation of the compiler's working IR: ``PNode`` (``%3 = mul %1 %2 : f32[2]``)."""

from __future__ import annotations

from typing import Any

from shared_ops.registry import REGISTRY, OpDef, Spec

from ._text import attrs_str, type_str, value_str

SOURCES = ("placeholder", "variable", "constant")


class PNode:
    """One equation of a ``Program``: ``id = op(inputs, attrs) : spec``.

    ``op`` is a registry op's name, a source (``"placeholder"``, ``"variable"``,
    ``"constant"``, whose ``value`` holds the NumPy array) or ``"fused"``, whose ``payload``
    gives the kernel. Setting ``inputs`` keeps the program's clients index (who reads each
    value) up to date: change inputs by assigning a new list, never in place.

    Args:
        id: the value's id (the ``sg.Node``'s for nodes of the graph; ``Program.add`` gives new
            ones).
        op: the op's name, a source or ``"fused"``.
        inputs: the ids of the input values.
        attrs: the op's attributes (a fused node's are shown in the text only).
        spec: the output's shape and dtype (``shared_ops.Spec``).
        value: a source's array.
        name: a placeholder's or variable's name.
        payload: a fused node's kernel (``payload.kernel`` if it has one, else ``payload``),
            called as ``kernel(xp, *arrays)``.
        origin: the id of the ``sg.Node`` it came from (``None`` for a node a pass made).

    Examples:
        >>> from shared_ops import Spec
        >>> n = sg.PNode(3, "mul", [1, 2], {}, Spec((2,), "float32"))
        >>> n, n.shape, n.is_source
        (PNode(%3 = mul %1 %2 : f32[2]), (2,), False)
    """

    __slots__ = ("id", "op", "_inputs", "attrs", "spec", "value", "name", "payload", "origin", "_program")

    def __init__(self, id: int, op: str, inputs, attrs: dict, spec: Spec, value: Any = None,
                 name: str | None = None, payload: Any = None, origin: int | None = None):
        self.id, self.op, self._inputs, self.attrs, self.spec = id, op, list(inputs), attrs, spec
        self.value, self.name, self.payload, self.origin, self._program = value, name, payload, origin, None

    @property
    def inputs(self) -> list:
        return self._inputs

    @inputs.setter
    def inputs(self, value) -> None:
        value = list(value)
        if self._program is not None:
            self._program._rewire(self.id, self._inputs, value)
        self._inputs = value

    def __repr__(self) -> str:
        return f"PNode({self.text()})"

    @property
    def shape(self) -> tuple:
        return self.spec.shape

    @property
    def dtype(self) -> str:
        return self.spec.dtype

    @property
    def is_source(self) -> bool:
        return self.op in SOURCES

    @property
    def opdef(self) -> OpDef | None:
        return REGISTRY.get(self.op) if self.op not in SOURCES and self.op != "fused" else None

    def kernel(self):
        """The callable the executable calls, and whether it takes the attributes.

        Returns:
            ``(kernel, takes_attrs)``: the registered op's ``kernel`` and ``True`` (called as
            ``kernel(xp, *arrays, **attrs)``), or a fused node's kernel and ``False``
            (``kernel(xp, *arrays)``).

        Examples:
            >>> from shared_ops import Spec, get_op
            >>> kernel, takes_attrs = sg.PNode(3, "exp", [1], {}, Spec((2,), "float32")).kernel()
            >>> kernel is get_op("exp").kernel, takes_attrs
            (True, True)
        """
        if self.op == "fused":
            return getattr(self.payload, "kernel", self.payload), False
        return REGISTRY.get(self.op).kernel, True

    def text(self) -> str:
        """The equation, as ``Program.text`` prints it.

        Returns:
            ``%id = op %input... {attrs} : dtype[shape]`` (a source shows its name or value; a
            fused node its region's label).

        Examples:
            >>> from shared_ops import Spec
            >>> sg.PNode(2, "sum", [1], {"axis": (0,)}, Spec((), "float32")).text()
            '%2 = sum %1 {axis=(0,)} : f32[]'
        """
        lhs = f"%{self.id}"
        t = type_str(self.spec)
        if self.op == "placeholder":
            return f"{lhs} = placeholder {self.name} : {t}"
        if self.op == "variable":
            return f"{lhs} = variable {self.name} : {t}"
        if self.op == "constant":
            return f"{lhs} = constant {value_str(self.value)} : {t}"
        args = " ".join(f"%{i}" for i in self.inputs)
        op = self.op
        if op == "fused":
            label = getattr(self.payload, "label", None)
            op = f"fused[{label}]" if label else "fused"
        return f"{lhs} = {op} {args}{attrs_str(self.attrs)} : {t}"


__all__ = ["PNode", "SOURCES"]
