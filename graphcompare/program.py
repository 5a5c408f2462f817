"""A random program: a flat list of leaves and steps, and how it prints as Python.

A ``Program`` is a DAG stored as a flat list in creation order: each entry is a ``Leaf`` (an
input array, named ``x0, x1, ...``) or a ``Step`` (one op of the op table applied to earlier
entries, named ``v0, v1, ...``). Its ``outputs`` are the entries no step consumes; its loss is
``sum_k (output_k * W_k).sum()`` with fixed weights ``W_k``, so every output's gradient is
seeded with something other than ones.

The same program prints as the body of ``def model(F, x0, x1, ...)`` written against the
shared surface (``F`` is ``dyngraph`` or ``staticgraph``), in float64 (casts dropped: the
reference), and in PyTorch (the oracle). ``reproducer(...)`` (in ``graphcompare.reproduce``)
turns that into a standalone script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import controlflow
from .optable import OP_TABLE  # noqa: F401  (registers every recipe)
from .recipes_control import recipe


class NoSpelling(LookupError):
    """A recipe cannot spell its op for this target (no PyTorch equivalent of a user's op)."""


@dataclass(frozen=True, eq=False)
class Leaf:
    """An input of a ``Program``: its array (named ``x0, x1, ...`` in creation order).

    Parameters:
        shape: the array's shape.
        dtype: its dtype's name.
        data: the array.

    Examples:
        >>> from graphcompare.program import Leaf
        >>> Leaf((2,), "float32", np.array([1.0, 2.0], np.float32)).dtype
        'float32'
    """

    shape: tuple
    dtype: str
    data: np.ndarray


@dataclass(frozen=True, eq=False)
class Step:
    """One op of a ``Program`` (named ``v0, v1, ...``): an op of the op table on earlier entries.

    Parameters:
        op: the op's name (a recipe of ``graphcompare.optable``).
        args: indices of earlier entries of ``Program.nodes``.
        params: the op's attributes.
        shape: the result's shape.
        dtype: the result's dtype name.

    Examples:
        >>> from graphcompare.program import Step
        >>> Step("mul", (0, 1), {}, (2,), "float32").op
        'mul'
    """

    op: str
    args: tuple
    params: dict
    shape: tuple
    dtype: str


@dataclass(eq=False)
class Program:
    """A random program: leaves and steps in creation order (see the module docstring).

    Parameters:
        nodes: the ``Leaf`` and ``Step`` entries; a step uses only earlier entries.
        outputs: indices of the entries the loss sums (no step consumes them).
        weights: the loss's fixed weight per output (float64 arrays).
        meta: how it was made (generator settings), for reports.

    Examples:
        >>> from graphcompare.program import Leaf, Program, Step
        >>> p = Program([Leaf((2,), "float32", np.array([1.0, 2.0], np.float32)),
        ...              Leaf((2,), "float32", np.array([3.0, 4.0], np.float32)),
        ...              Step("mul", (0, 1), {}, (2,), "float32"),
        ...              Step("exp", (2,), {}, (2,), "float32")], outputs=(3,))
        >>> print(p.model_source())
        def model(F, x0, x1):
            v0 = (x0 * x1)
            v1 = v0.exp()
            return [v1]
        <BLANKLINE>
    """

    nodes: list
    outputs: tuple = ()
    weights: tuple = ()  # float64 arrays holding values exact in the outputs' dtypes
    meta: dict = field(default_factory=dict)

    @classmethod
    def example(cls) -> "Program":
        """The class example's program, ``exp(x0 * x1)`` on two float32 vectors of two elements:
        a small program to try the methods on.

        Returns:
            A new ``Program`` of two leaves and two steps.

        Examples:
        >>> from graphcompare.program import Program
        >>> Program.example()
        <Program x0: float32[2], x1: float32[2]; 2 steps: mul exp>
        """
        return cls([Leaf((2,), "float32", np.array([1.0, 2.0], np.float32)),
                    Leaf((2,), "float32", np.array([3.0, 4.0], np.float32)),
                    Step("mul", (0, 1), {}, (2,), "float32"),
                    Step("exp", (2,), {}, (2,), "float32")], outputs=(3,))

    # -- structure -------------------------------------------------------------------
    @property
    def leaves(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if isinstance(n, Leaf)]

    @property
    def steps(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if isinstance(n, Step)]

    def name(self, i: int) -> str:
        """The Python name of entry ``i`` in the printed model.

        Parameters:
            i: an index of ``nodes``.

        Returns:
            ``"x<k>"`` for the k-th leaf, ``"v<k>"`` for the k-th step.

        Examples:
        >>> from graphcompare.program import Program
        >>> p = Program.example()  # exp(x0 * x1) on two float32 vectors
        >>> p.name(1), p.name(3)
            ('x1', 'v1')
        """
        kind = Leaf if isinstance(self.nodes[i], Leaf) else Step
        return ("x" if kind is Leaf else "v") + str(sum(1 for n in self.nodes[:i] if isinstance(n, kind)))

    def ops(self) -> list[str]:
        """Every registry op the program's spelling runs forward (drawn op first).

        Returns:
            A list of op names, with repeats.

        Examples:
        >>> from graphcompare.program import Program
        >>> p = Program.example()  # exp(x0 * x1) on two float32 vectors
        >>> p.ops()
            ['mul', 'exp']
        """
        out = []
        for n in self.nodes:
            if isinstance(n, Step):
                out.append(n.op)
                out.extend(recipe(n.op).uses)
        return out

    def fan_in(self) -> int:
        """The largest number of inputs of one step.

        Returns:
            An int (0 without steps).

        Examples:
        >>> from graphcompare.program import Program
        >>> p = Program.example()  # exp(x0 * x1) on two float32 vectors
        >>> p.fan_in()
            2
        """
        return max((len(n.args) for n in self.nodes if isinstance(n, Step)), default=0)

    def fan_out(self) -> int:
        """The largest number of uses of one value (a gradient ``add_n`` of that many terms).

        Returns:
            An int.

        Examples:
        >>> from graphcompare.program import Program
        >>> p = Program.example()  # exp(x0 * x1) on two float32 vectors
        >>> p.fan_out()
            1
        """
        uses = [0] * len(self.nodes)
        for n in self.nodes:
            if isinstance(n, Step):
                for a in n.args:
                    uses[a] += 1
        return max(uses, default=0)

    def inputs(self, dtype: str | None = None) -> list[np.ndarray]:
        """The leaves' arrays (``dtype="float64"``: exact float64 copies, the reference's).

        Parameters:
            dtype: cast every leaf to this dtype; default each leaf's own.

        Returns:
            A list of NumPy arrays, one per leaf.

        Examples:
        >>> from graphcompare.program import Program
        >>> p = Program.example()  # exp(x0 * x1) on two float32 vectors
        >>> [a.dtype.name for a in p.inputs("float64")]
            ['float64', 'float64']
        """
        return [self.nodes[i].data.astype(dtype or self.nodes[i].dtype) for i in self.leaves]

    def output_names(self) -> list[str]:
        """The outputs' names in the printed model.

        Returns:
            A list of ``"v<k>"`` names.

        Examples:
        >>> from graphcompare.program import Program
        >>> p = Program.example()  # exp(x0 * x1) on two float32 vectors
        >>> p.output_names()
            ['v1']
        """
        return [self.name(i) for i in self.outputs]

    def leaf_names(self) -> list[str]:
        """The leaves' names, the printed model's parameters after ``F``.

        Returns:
            A list of ``"x<k>"`` names.

        Examples:
        >>> from graphcompare.program import Program
        >>> p = Program.example()  # exp(x0 * x1) on two float32 vectors
        >>> p.leaf_names()
            ['x0', 'x1']
        """
        return [self.name(i) for i in self.leaves]

    def has_casts(self) -> bool:
        """Whether a step changes dtype (``astype``): the float64 reference drops those casts.

        Returns:
            ``True`` if some step is an ``astype``.

        Examples:
        >>> from graphcompare.program import Program
        >>> p = Program.example()  # exp(x0 * x1) on two float32 vectors
        >>> p.has_casts()
            False
        """
        return any(isinstance(n, Step) and n.op == "astype" for n in self.nodes)

    # -- printing --------------------------------------------------------------------
    def model_source(self, target: str = "surface", name: str = "model", all_values: bool = False) -> str:
        """``def model(F, x0, ...)`` returning the outputs (or every step's value).

        Parameters:
            target: the spelling: ``"surface"`` (both front ends), or another target a
                recipe knows (``"torch"``).
            name: the function's name.
            all_values: return every step's value, not only the outputs.

        Returns:
            The Python source, ending in a newline.

        Raises:
            NoSpelling: a step's recipe has no spelling for ``target``.

        Examples:
        >>> from graphcompare.program import Program
        >>> p = Program.example()  # exp(x0 * x1) on two float32 vectors
        >>> print(p.model_source(name="f", all_values=True).splitlines()[-1])
                return [v0, v1]
        """
        lines = [f"def {name}(F, {', '.join(self.leaf_names())}):"]
        for i in self.steps:
            n = self.nodes[i]
            expr = recipe(n.op).render(target, [self.name(a) for a in n.args], n.params)
            if expr is None:
                raise NoSpelling(f"op {n.op!r} has no {target} spelling in its recipe")
            lines.append(f"    {self.name(i)} = {expr}")
        ret = [self.name(i) for i in self.steps] if all_values else self.output_names()
        lines.append(f"    return [{', '.join(ret)}]")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.model_source()

    def __repr__(self) -> str:
        leaves = ", ".join(f"{self.name(i)}: {self.nodes[i].dtype}{list(self.nodes[i].shape)}" for i in self.leaves)
        return f"<Program {leaves}; {len(self.steps)} steps: {' '.join(self.nodes[i].op for i in self.steps)}>"


def compile_model(source: str, name: str = "model", extra: dict | None = None):
    """Execute a model's source and return the function (NumPy as ``np``, control flow as
    ``CF``; ``torch`` if given)."""
    ns: dict[str, Any] = {"np": np, "CF": controlflow}
    ns.update(extra or {})
    exec(compile(source, f"<graphcompare {name}>", "exec"), ns)
    return ns[name]


def array_literal(a: np.ndarray) -> str:
    """Exact Python source for ``a`` (float32 values print exactly through float64 repr)."""
    a = np.asarray(a)
    dt = a.dtype.name
    if a.ndim == 0:
        return f"np.array({float(a)!r}, dtype={dt!r})"
    flat = ", ".join(repr(float(v)) for v in a.ravel())
    shape = ", ".join(str(d) for d in a.shape)
    return f"np.array([{flat}], dtype={dt!r}).reshape({shape})"


__all__ = ["Leaf", "Step", "Program", "NoSpelling", "compile_model", "array_literal"]
