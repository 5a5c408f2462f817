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
    shape: tuple
    dtype: str
    data: np.ndarray


@dataclass(frozen=True, eq=False)
class Step:
    op: str
    args: tuple
    params: dict
    shape: tuple
    dtype: str


@dataclass(eq=False)
class Program:
    nodes: list
    outputs: tuple = ()
    weights: tuple = ()  # float64 arrays holding values exact in the outputs' dtypes
    meta: dict = field(default_factory=dict)

    # -- structure -------------------------------------------------------------------
    @property
    def leaves(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if isinstance(n, Leaf)]

    @property
    def steps(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if isinstance(n, Step)]

    def name(self, i: int) -> str:
        kind = Leaf if isinstance(self.nodes[i], Leaf) else Step
        return ("x" if kind is Leaf else "v") + str(sum(1 for n in self.nodes[:i] if isinstance(n, kind)))

    def ops(self) -> list[str]:
        """Every registry op the program's spelling runs forward (drawn op first)."""
        out = []
        for n in self.nodes:
            if isinstance(n, Step):
                out.append(n.op)
                out.extend(recipe(n.op).uses)
        return out

    def fan_in(self) -> int:
        """The largest number of inputs of one step."""
        return max((len(n.args) for n in self.nodes if isinstance(n, Step)), default=0)

    def fan_out(self) -> int:
        """The largest number of uses of one value (a gradient ``add_n`` of that many terms)."""
        uses = [0] * len(self.nodes)
        for n in self.nodes:
            if isinstance(n, Step):
                for a in n.args:
                    uses[a] += 1
        return max(uses, default=0)

    def inputs(self, dtype: str | None = None) -> list[np.ndarray]:
        """The leaves' arrays (``dtype="float64"``: exact float64 copies, the reference's)."""
        return [self.nodes[i].data.astype(dtype or self.nodes[i].dtype) for i in self.leaves]

    def output_names(self) -> list[str]:
        return [self.name(i) for i in self.outputs]

    def leaf_names(self) -> list[str]:
        return [self.name(i) for i in self.leaves]

    def has_casts(self) -> bool:
        return any(isinstance(n, Step) and n.op == "astype" for n in self.nodes)

    # -- printing --------------------------------------------------------------------
    def model_source(self, target: str = "surface", name: str = "model", all_values: bool = False) -> str:
        """``def model(F, x0, ...)`` returning the outputs (or every step's value)."""
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
