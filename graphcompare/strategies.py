"""Hypothesis strategies that draw random programs over the op registry.

``programs()`` draws a ``Program`` (``graphcompare.program``): a flat list of leaves and steps,
so hypothesis shrinks it by dropping and simplifying steps. How it is drawn:

- **leaves** take a suffix of one "universe" shape with distinct dimension sizes (say
  ``(2, 3, 5)``), some dimensions set to 1: every two leaves broadcast together, and a
  swapped axis cannot hide behind a square shape. Dtypes are float32 or float64; values are
  ``+-[0.2, 2]`` (away from 0, finite), generated from a drawn seed.
- **steps** choose an op among the registered ops the op table knows (``optable.OP_TABLE``),
  uniformly; parents are drawn from earlier values with a bias toward the latest ones (long
  chains) and toward values already used (fan-out: gradient sums of three or more terms).
  ``where``/comparisons, ``concatenate`` and ``stack`` take three inputs (fan-in). About one
  step in eight is a control-flow step (``recipes_control``): a scan, a cond, a while loop, or
  a loop whose body multiplies by a captured weight (``scan_matmul``, ``while_matmul``).
  Per-op input domains and attribute choices live in the op table's recipes.
- **outputs** are the values no step consumes; the loss weights them with fixed random arrays.

Kinks (relu/abs at 0, ties of maximum/max/min/clip, comparison boundaries) depend on values,
so they are checked on the float64 reference when the program runs
(``equivalence.check_program`` marks such a program invalid and the property ``assume``s it
away). Coverage is recorded with ``hypothesis.event``: ``op: <name>``, ``fan-in >= 3``,
``fan-out >= 3``.

A seed draws the same programs in every process: hypothesis mixes into its draws constants it
reads from the source of the local modules imported so far, so the program a seed gives would
depend on what the process ran before (and on every literal in the project). ``programs`` draws
with that pool empty (``fixed_constants``).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
from hypothesis import event, strategies as st

from .optable import OP_TABLE, drawable_ops, uncovered_ops
from .program import Leaf, Program, Step
from .recipes_control import CONTROL_TABLE, DIM_SIZES, recipe

_warned: set = set()
_fixed_depth = 0


@contextlib.contextmanager
def fixed_constants():
    """While active, hypothesis draws no constants from the local modules' source, only its own
    fixed ones. Hypothesis collects such constants from every local module in ``sys.modules``
    as it meets them, so what a derandomized or seeded run draws would change with the
    imports that happened before it. Re-entrant; a no-op on a hypothesis without the pool."""
    global _fixed_depth
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
        real = providers._get_local_constants
        cache = providers.CONSTANTS_CACHE.cache
    except (ImportError, AttributeError):
        yield
        return
    if _fixed_depth == 0:
        empty = Constants()
        providers._get_local_constants = lambda: empty
        cache.clear()  # it holds the constants allowed per kind of draw, from the full pool
    _fixed_depth += 1
    try:
        yield
    finally:
        _fixed_depth -= 1
        if _fixed_depth == 0:
            providers._get_local_constants = real
            cache.clear()


class Builder:
    """The program being drawn: values so far, their shapes and dtypes, and their uses."""

    def __init__(self, dtypes=("float32", "float64")):
        self.nodes: list = []
        self.uses: list[int] = []
        self.allowed_dtypes = tuple(dtypes)

    @property
    def shapes(self) -> list[tuple]:
        return [n.shape for n in self.nodes]

    @property
    def dtypes(self) -> list[str]:
        return [n.dtype for n in self.nodes]

    def new_leaf(self, data, shape: tuple, dtype: str | None = None) -> int:
        dtype = dtype or data.draw(st.sampled_from(self.allowed_dtypes), label="dtype")
        seed = data.draw(st.integers(0, 2**32 - 1), label="values seed")
        # the position enters the seed: leaves drawn with equal seeds still differ (no ties)
        rng = np.random.default_rng([seed, len(self.nodes)])
        values = rng.uniform(0.2, 2.0, size=shape) * rng.choice((-1.0, 1.0), size=shape)
        arr = np.asarray(values, dtype=dtype)
        self.nodes.append(Leaf(tuple(shape), dtype, arr))
        self.uses.append(0)
        return len(self.nodes) - 1

    def pick(self, data, ok=None, exclude: int | None = None) -> int | None:
        """A parent: with bias toward the latest values and the already-used ones."""
        cands = [i for i in range(len(self.nodes)) if (ok is None or ok(self.nodes[i].shape)) and i != exclude]
        if not cands:
            return None
        how = data.draw(st.sampled_from(("recent", "any", "used")), label="parent bias")
        if how == "recent":
            pool = cands[-3:]
        elif how == "used":
            pool = [i for i in cands if self.uses[i] > 0] or cands
        else:
            pool = cands
        return pool[data.draw(st.integers(0, len(pool) - 1), label="parent")]

    def pick_compatible(self, data, shape: tuple, exclude: int | None = None) -> int:
        """A parent whose shape broadcasts with ``shape`` (else a fresh leaf of that shape)."""
        def ok(s):
            try:
                np.broadcast_shapes(s, shape)
                return True
            except ValueError:
                return False

        # half the time insist on a different shape: broadcasting (and un-broadcasting) gets exercised
        if data.draw(st.booleans(), label="broadcast") and any(
            ok(n.shape) and tuple(n.shape) != tuple(shape) for n in self.nodes
        ):
            i = self.pick(data, lambda s: ok(s) and tuple(s) != tuple(shape), exclude)
        else:
            i = self.pick(data, ok, exclude)
        if i is None:  # a fresh leaf of the same shape
            i = self.new_leaf(data, shape)
        return i

    def add_step(self, op: str, drawn) -> int:
        for a in drawn.args:
            self.uses[a] += 1
        self.nodes.append(Step(op, tuple(drawn.args), dict(drawn.params), tuple(drawn.shape), drawn.dtype))
        self.uses.append(0)
        return len(self.nodes) - 1


def _report_uncovered() -> None:
    missing = [n for n in uncovered_ops() if n not in _warned]
    if missing:
        _warned.update(missing)
        warnings.warn(
            f"graphcompare: registered op(s) {', '.join(missing)} have no recipe in graphcompare.optable, "
            "so random programs never draw them; add one with graphcompare.optable.register_recipe",
            stacklevel=3,
        )


@st.composite
def shapes(draw, max_rank: int = 3):
    """A universe shape with distinct dimension sizes (rank 0 to ``max_rank``)."""
    rank = draw(st.sampled_from([r for r in (2, 3, 1, 0) if r <= max_rank]), label="rank")
    return tuple(draw(st.permutations(DIM_SIZES), label="dim sizes")[:rank])


@st.composite
def programs(draw, ops=None, min_steps: int = 1, max_steps: int = 8, max_leaves: int = 3,
             dtypes=("float32", "float64"), record_events: bool = True, control: int = 8,
             control_ops=None):
    """A random ``Program`` over the registered ops of the op table (or ``ops``); about one
    step in ``control`` (0: none) is a ``scan``, ``cond``, ``while_loop``, ``scan_matmul`` or
    ``while_matmul`` (``recipes_control``: closures, nested control flow, a matrix product by a
    captured weight in a loop body). The same seed draws the same
    programs in any process (``fixed_constants``). A hypothesis strategy: use it with
    ``@given(programs(...))``.

    Args:
        ops: the op names to draw from (default: every op of ``drawable_ops()``).
        min_steps: the fewest op steps.
        max_steps: the most op steps.
        max_leaves: the most inputs.
        dtypes: the float dtypes a program may take.
        record_events: report coverage events to hypothesis (``graphcompare check`` counts them).
        control: one step in about this many is a control-flow step (0: none).
        control_ops: the control-flow steps to draw from (default: every one of
            ``recipes_control.CONTROL_TABLE``).

    Returns:
        A ``graphcompare.program.Program``.

    Raises:
        ValueError: an op of ``ops`` is not both registered and in the op table, or a name of
            ``control_ops`` is not a control-flow step.

    Examples:
        >>> from hypothesis import given, settings
        >>> from graphcompare.strategies import programs
        >>> drawn = []
        >>> @settings(max_examples=5, database=None, derandomize=True, deadline=None)
        ... @given(programs(ops=["mul", "exp"], max_steps=3, control=0))
        ... def collect(program):
        ...     drawn.append({step.op for step in program.nodes if hasattr(step, "op")})
        >>> collect()
        >>> set().union(*drawn) <= {"mul", "exp"}, len(drawn)
        (True, 5)
    """
    with fixed_constants():
        return _draw_program(draw, ops, min_steps, max_steps, max_leaves, dtypes, record_events, control, control_ops)


def _draw_program(draw, ops, min_steps, max_steps, max_leaves, dtypes, record_events, control, control_ops=None):
    _report_uncovered()
    if control_ops is not None:
        unknown = [o for o in control_ops if o not in CONTROL_TABLE]
        if unknown or not control_ops:
            raise ValueError(f"control_ops {list(control_ops)} must name control-flow steps among "
                             f"{sorted(CONTROL_TABLE)}")
    names = drawable_ops()
    if ops is not None:
        unknown = [o for o in ops if o not in names]
        if unknown:
            raise ValueError(f"ops {unknown} are not both registered and in graphcompare.optable.OP_TABLE")
        names = list(ops)
    if not names:
        raise ValueError("no registered op has a recipe in graphcompare.optable.OP_TABLE")
    data = _Data(draw)
    b = Builder(dtypes)
    universe = draw(shapes(), label="universe")
    n_leaves = draw(st.integers(1, max_leaves), label="leaves")
    for k in range(n_leaves):
        # the first leaf spans the universe; the others drop leading dims or set some to 1,
        # so binary ops broadcast (and shrink toward scalars)
        if k == 0:
            shape = universe
        else:
            keep = draw(st.integers(0, len(universe)), label="leaf rank")
            shape = tuple(d if draw(st.integers(0, 2)) else 1 for d in universe[len(universe) - keep:])
        b.new_leaf(data, shape)
    n_steps = draw(st.integers(min_steps, max_steps), label="steps")
    # hypothesis favours the first entries of a list: shuffle the ops once per program (by a
    # drawn seed) so each op gets its share; shrinking still moves toward the first one
    order = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="op order")).permutation(len(names))
    names = [names[k] for k in order]
    wide = [n for n in names if OP_TABLE[n].fan_in]
    for _ in range(n_steps):
        # one draw in three among the ops of three or more inputs: fan-in
        pool = wide if wide and draw(st.integers(0, 2), label="fan-in bias") == 2 else names
        if control and ops is None and draw(st.integers(1, control), label="control flow") == control:
            pool = sorted(control_ops if control_ops is not None else CONTROL_TABLE)
        op = draw(st.sampled_from(pool), label="op")
        drawn = recipe(op).draw(data, b)
        if drawn is None or any(d == 0 for d in drawn.shape):
            continue
        b.add_step(op, drawn)
    if not any(isinstance(n, Step) for n in b.nodes):  # at least one step
        b.add_step("mul", OP_TABLE["mul"].draw(data, b) if "mul" in OP_TABLE else None)
    outputs = tuple(i for i, n in enumerate(b.nodes) if isinstance(n, Step) and b.uses[i] == 0)
    wseed = draw(st.integers(0, 2**32 - 1), label="weights seed")
    rng = np.random.default_rng(wseed)
    weights = tuple(
        rng.uniform(0.5, 1.5, size=b.nodes[i].shape).astype(b.nodes[i].dtype).astype(np.float64) for i in outputs
    )
    prog = Program(list(b.nodes), outputs, weights, meta={"base_leaves": n_leaves})
    if record_events:
        record(prog)
    return prog


def record(prog: Program) -> None:
    """Hypothesis coverage events for one program."""
    for op in sorted(set(prog.ops())):
        event(f"op: {op}")
    if prog.fan_in() >= 3:
        event("fan-in >= 3")
    if prog.fan_out() >= 3:
        event("fan-out >= 3")


class _Data:
    """The ``data.draw`` interface recipes use, over a composite's ``draw``."""

    def __init__(self, draw):
        self._draw = draw

    def draw(self, strategy, label=None):
        return self._draw(strategy)


__all__ = ["programs", "shapes", "Builder", "record", "fixed_constants", "DIM_SIZES"]
