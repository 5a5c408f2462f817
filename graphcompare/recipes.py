"""The op-table mechanism: ``Recipe``, ``Drawn``, the table itself and the helpers recipes share.

``graphcompare.optable`` fills the table with one recipe per registry op; users add their own
with ``register_recipe`` (see ``docs/extending.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

KINK = 1e-3  # relative distance an input must keep from a kink


@dataclass
class Drawn:
    args: tuple
    params: dict
    shape: tuple
    dtype: str


@dataclass
class Recipe:
    """How random programs draw one op: its inputs and attributes, and how each way spells it.

    ``simple_recipe`` makes one for an elementwise op; an op with attributes or shape changes
    needs its own ``draw`` (``graphcompare.optable`` has one for every library op).

    Args:
        op: the registry op's name.
        draw: ``draw(data, builder) -> Drawn | None``: picks inputs among the program's values
            and draws the attributes (None: this op does not fit the values at hand).
        render: ``render(target, names, params) -> str``: the op's spelling over the input
            names, for ``target`` ``"surface"`` (the shared surface, ``F.`` for functions) or
            ``"torch"`` (None: PyTorch has no spelling, the oracle skips the program).
        guard: ``guard(args, params) -> bool``, False at a kink of the drawn inputs (float64
            values), where the gradient is not defined and the program is set aside.
        uses: other registry ops its spelling runs (counted as covered).
        fan_in: it draws three or more inputs.

    Examples:
        >>> from graphcompare.optable import OP_TABLE
        >>> recipe = OP_TABLE["exp"]
        >>> recipe.op, recipe.render("surface", ["x"], {}), recipe.render("torch", ["x"], {})
        ('exp', 'x.exp()', 'x.exp()')
    """

    op: str
    draw: Callable[[Any, Any], Drawn | None]
    render: Callable[[str, list, dict], str]
    guard: Callable[[list, dict], bool] | None = None
    uses: tuple = ()  # other registry ops the spelling runs (coverage events)
    fan_in: bool = False  # draws three or more inputs


OP_TABLE: dict[str, Recipe] = {}
COVERED_ELSEWHERE: dict[str, str] = {
    "add_n": "the gradient accumulator: every value with two or more consumers",
    "sum_to": "every broadcasting binary op's gradient",
    "index_scatter": "the gradient of integer-array indexing",
    "conv2d_grad_input": "the gradient of conv2d",
    "conv2d_grad_weight": "the gradient of conv2d",
    "one_hot": "the gradient of softmax_cross_entropy (integer input, no gradient of its own)",
    "ones_like": "gradient rules (no differentiable input)",
    "zeros_like": "gradient rules (no differentiable input)",
    "sign": "the gradient of abs (no public surface spelling)",
    "matmul_nt": "the gradient of matmul (a @ b^T)",
    "matmul_tn": "the gradient of matmul (a^T @ b)",
    "tanh_grad": "the gradient of tanh (no public surface spelling)",
    "sigmoid_grad": "the gradient of sigmoid (no public surface spelling)",
    "sorted_values": "the values of sort and topk: the argsort recipe spells x.topk(...).values",
}


def register_recipe(recipe: Recipe, *, replace: bool = False) -> Recipe:
    """Add ``recipe`` to the op table, so random programs draw its op.

    Args:
        recipe: the recipe (``simple_recipe`` makes one).
        replace: replace a recipe of the same op instead of refusing.

    Returns:
        ``recipe``.

    Raises:
        ValueError: the op has a recipe already (without ``replace``).

    Examples:
        >>> from graphcompare.optable import OP_TABLE, register_recipe
        >>> register_recipe(OP_TABLE["exp"])
        Traceback (most recent call last):
        ...
        ValueError: a recipe for op 'exp' exists; pass replace=True to override it
        >>> register_recipe(OP_TABLE["exp"], replace=True).op
        'exp'
    """
    if recipe.op in OP_TABLE and not replace:
        raise ValueError(f"a recipe for op {recipe.op!r} exists; pass replace=True to override it")
    OP_TABLE[recipe.op] = recipe
    return recipe


def simple_recipe(op: str, arity: int = 1, surface: str | None = None, torch: str | None = None,
                  guard: Callable | None = None) -> Recipe:
    """A recipe for an elementwise op of ``arity`` broadcasting inputs (your own, say).

    ``surface`` and ``torch`` are format templates over the inputs ``{0}``, ``{1}``...;
    ``surface`` defaults to ``F.apply_op('<op>', {0}, ...)``. Without ``torch`` the PyTorch
    oracle skips programs that draw this op. ``guard(args, params)`` rejects inputs at a kink.

    Args:
        op: the registry op's name.
        arity: how many inputs (they broadcast together).
        surface: the shared surface's spelling (default ``F.apply_op('<op>', {0}, ...)``).
        torch: PyTorch's spelling (None: no oracle for this op).
        guard: ``guard(args, params) -> bool``, False at a kink.

    Returns:
        A ``Recipe`` (``register_recipe`` adds it to the table).

    Examples:
        >>> from graphcompare.optable import simple_recipe
        >>> recipe = simple_recipe("mul", arity=2, surface="({0} * {1})", torch="({0} * {1})")
        >>> recipe.render("surface", ["a", "b"], {}), recipe.fan_in
        ('(a * b)', False)
    """
    if surface is None:
        surface = f"F.apply_op({op!r}, " + ", ".join(f"{{{k}}}" for k in range(arity)) + ")"

    def draw(data, b):
        args = [b.pick(data)]
        for _ in range(arity - 1):
            args.append(b.pick_compatible(data, _bshape(*(b.shapes[a] for a in args))))
        return Drawn(tuple(args), {}, _bshape(*(b.shapes[a] for a in args)), _promote_args(b, *args))

    def render(target, names, params):
        t = torch if target == "torch" else surface
        return None if t is None else t.format(*names, p=params)

    return Recipe(op, draw, render, guard=guard, fan_in=arity >= 3)


def unregister_recipe(name: str) -> None:
    """Remove the recipe of op ``name`` from the op table (nothing happens if it has none).

    Args:
        name: the op's name.

    Examples:
        >>> from graphcompare.optable import OP_TABLE, register_recipe, simple_recipe, unregister_recipe
        >>> _ = register_recipe(simple_recipe("my_op"))
        >>> unregister_recipe("my_op")
        >>> "my_op" in OP_TABLE
        False
    """
    OP_TABLE.pop(name, None)


def drawable_ops(registry=None) -> list[str]:
    """Ops that are both registered and in the op table (the ones programs draw).

    Args:
        registry: the op registry (default: the global one).

    Returns:
        Their names, in the table's order.

    Examples:
        >>> from graphcompare.optable import drawable_ops
        >>> {"exp", "matmul", "conv2d"} <= set(drawable_ops())
        True
    """
    from shared_ops import REGISTRY

    reg = registry or REGISTRY
    return [name for name in OP_TABLE if name in reg]


def uncovered_ops(registry=None) -> list[str]:
    """Registered ops that no recipe draws and no entry of ``COVERED_ELSEWHERE`` explains: a
    newly registered op is listed until it gets a recipe.

    Args:
        registry: the op registry (default: the global one).

    Returns:
        Their names (empty when every op is covered).

    Examples:
        >>> from shared_ops import REGISTRY, Registry, Spec
        >>> from graphcompare.optable import uncovered_ops
        >>> mine = Registry(parent=REGISTRY)
        >>> _ = mine.register("cube", forward=lambda xp, x: x * x * x, infer=lambda x: Spec(x.shape, x.dtype))
        >>> "cube" in uncovered_ops(mine), "exp" in uncovered_ops(mine)
        (True, False)
    """
    from shared_ops import REGISTRY

    reg = registry or REGISTRY
    return [n for n in reg.names() if n not in OP_TABLE and n not in COVERED_ELSEWHERE]


# --------------------------------------------------------------------------- helpers


def _bshape(*shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        return None


def _promote(*dtypes):
    return "float64" if "float64" in dtypes else "float32"


def _promote_args(b, *args):
    """The float dtype of an elementwise op on ``args`` (indices into ``b``) by PyTorch's rule:
    a 0-d operand counts only when every operand is 0-d (a float64 0-d tensor times a float32
    vector is float32), as both front ends compute it."""
    shaped = [a for a in args if len(b.shapes[a])]
    return _promote(*(b.dtypes[a] for a in (shaped or args)))


def _far(d, scale) -> bool:
    d = np.asarray(d, dtype=np.float64)
    s = np.asarray(scale, dtype=np.float64)
    return bool(np.all(np.abs(d) > KINK * (1.0 + np.abs(s))))


def _guard_ties(args, p):
    """A reduction with indices along ``p["dim"]`` (max, sort, topk): the values of each lane
    far apart, so ties (where a tie-break decides the gradient) are not drawn."""
    x = np.moveaxis(args[0], p["dim"], -1)
    if x.shape[-1] < 2:
        return True
    s = np.sort(x, axis=-1)
    return _far(np.diff(s, axis=-1), np.max(np.abs(s)))


def _tpl(surface: str, torch: str | None = None, surface64: str | None = None):
    """A renderer from format templates; ``{0}``, ``{1}``... are the inputs, ``{p[name]}`` params."""

    def render(target, names, params):
        t = {"surface": surface, "surface64": surface64 or surface, "torch": torch or surface}[target]
        return t.format(*names, p=params)

    return render


def _add(recipe: Recipe) -> Recipe:
    return register_recipe(recipe, replace=True)


def _tup(t) -> str:
    return "(" + ", ".join(str(int(d)) for d in t) + ("," if len(t) == 1 else "") + ")"


# --------------------------------------------------------------------------- hypothesis shorthands
# (imported lazily so that rendering a program never needs hypothesis)


def _sampled(xs):
    from hypothesis import strategies as st

    return st.sampled_from(list(xs))


def _ints(lo, hi):
    from hypothesis import strategies as st

    return st.integers(lo, hi)


def _bools():
    from hypothesis import strategies as st

    return st.booleans()


def _sets(nd):
    from hypothesis import strategies as st

    return st.sets(st.integers(0, nd - 1), min_size=1, max_size=nd)


def _perms(nd):
    from hypothesis import strategies as st

    return st.permutations(list(range(nd)))
