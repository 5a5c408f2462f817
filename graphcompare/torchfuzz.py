"""A differential fuzzer of dyngraph against PyTorch: stateful programs of views, in-place
writes, backward passes and dtype rules, run on both, compared after every step.

``DifferentialMachine`` is a hypothesis ``RuleBasedStateMachine``. Each rule draws one line of
Python from the current state (the tensors alive, their shapes, dtypes, whether they require
grad) and runs it on ``m = torch`` and on ``m = dyngraph`` (``Pair.run``): new leaves, views of
views (slicing, ``t``, ``transpose``, ``permute``, ``unsqueeze``, ``view``, ``expand``,
``diagonal``, ``select``, ``narrow``), in-place writes through them (``add_``, ``mul_``,
``copy_``, ``zero_``, ``fill_``, ``__setitem__``), out-of-place ops, ``backward`` with and
without ``retain_graph``, ``autograd.grad`` and ``detach``. After every line, every tensor
alive is compared: values, dtype, shape, the layout (``stride()``, ``storage_offset()``,
``is_contiguous()``), ``requires_grad``, ``is_leaf``, ``_version``, the name of its ``grad_fn`` and a
leaf's ``.grad``. A line must raise on both or on neither; when both raise, the classes agree
and dyngraph's message holds PyTorch's key words.

A disagreement fails with the program so far, which is its own reproducer::

    from graphcompare.torchfuzz import replay
    replay('''
    t0 = m.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    t1 = t0 * 2
    t1[1:].mul_(t0[1:])
    t1.sum().backward()
    ''')

Use it from a test with ``TestDifferential = DifferentialMachine.TestCase`` (hypothesis'
settings apply), or call ``fuzz(max_examples=...)``. PyTorch is imported when a ``Pair`` is
made (it is the oracle, never a dependency of the library).
"""

from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)

from .torchfuzz_draws import (
    _broadcasts,
    _literal,
    _view_with_history,
    fills_an_integer_with_grad,
    order_dependent,
)
from .torchfuzz_pair import KEY_PHRASES, Disagreement, Pair, replay  # noqa: F401  (public here)

SHAPES = ((3,), (2, 3), (3, 4), (1, 4), (2, 1, 3))



# --------------------------------------------------------------------------- the rules


class DifferentialMachine(RuleBasedStateMachine):
    """Programs drawn step by step from what is alive (see the module docstring)."""

    MAX_TENSORS = 12

    def __init__(self):
        super().__init__()
        self.pair = Pair()
        self.n = 0

    # -- state ------------------------------------------------------------------
    def _alive(self, pred=lambda t: True) -> list:
        torch = self.pair.torch
        return sorted(k for k, v in self.pair.tensors().items() if isinstance(v, torch.Tensor) and k[0] == "t" and pred(v))

    def _new(self, prefix: str = "t") -> str:
        """A fresh name; ``g`` for gradients from ``autograd.grad``, which the rules read but
        never write or view (PyTorch returns some as expanded views, an implementation detail)."""
        self.n += 1
        return f"{prefix}{self.n - 1}"

    def _pick(self, data, pred=lambda t: True):
        names = self._alive(pred)
        return data.draw(st.sampled_from(names)) if names else None

    def _t(self, name):
        return self.pair.ns["torch"][name]

    def _floating(self, t) -> bool:
        return t.dtype.is_floating_point

    # -- rules ------------------------------------------------------------------
    @precondition(lambda self: self.n < self.MAX_TENSORS)
    @rule(data=st.data())
    def leaf(self, data):
        shape = data.draw(st.sampled_from(SHAPES))
        kind = data.draw(st.sampled_from(("float64", "float64", "float64", "float32", "int64", "bool")))
        seed = data.draw(st.integers(0, 2**16))
        rng = np.random.default_rng(seed)
        if kind == "bool":
            vals = rng.random(shape) < 0.5
        elif kind == "int64":
            vals = rng.integers(-3, 4, shape)
        else:
            vals = np.round(rng.uniform(-2, 2, shape), 2)
        rg = kind.startswith("float") and data.draw(st.booleans())
        dtype = f", dtype=m.{kind}" if kind != "bool" else ""
        self.pair.run(f"{self._new()} = m.tensor({_literal(vals)}{dtype}, requires_grad={rg})")

    @precondition(lambda self: 0 < self.n < self.MAX_TENSORS)
    @rule(data=st.data())
    def view(self, data):
        # half the views are of a tensor with a history (when there is one), for the writes above
        src = self._pick(data, lambda t: t.requires_grad and not t.is_leaf) if data.draw(st.booleans()) else None
        src = src or self._pick(data)
        if src is None:
            return
        shape = tuple(self._t(src).shape)
        nd = len(shape)
        options = ["[...]"]
        if nd:
            options += ["[1:]", "[0]", "[:, 0]" if nd > 1 else "[::2]", f".unsqueeze({nd})", ".view(-1)", f".select(0, {shape[0] - 1})"]
            options += [f".narrow({nd - 1}, {min(1, shape[-1] - 1)}, 1)", ".squeeze()"]
        if nd >= 2:
            options += [".t()" if nd == 2 else ".transpose(0, 1)", f".permute({', '.join(map(str, reversed(range(nd))))})",
                        ".diagonal()", f".diagonal({data.draw(st.integers(-1, 1))}, {nd - 2}, {nd - 1})", ".view(-1)[1:]"]
        if 1 in shape:
            options.append(".expand(" + ", ".join(str(2 if d == 1 else -1) for d in shape) + ")")
        self.pair.run(f"{self._new()} = {src}{data.draw(st.sampled_from(options))}")

    @precondition(lambda self: self.n > 0)
    @rule(data=st.data())
    def write(self, data):
        # half the writes go through a view of a tensor with a history (when there is one): they
        # rewrite the base's history (CopySlices), which is where in-place bugs hide
        dst = self._pick(data, _view_with_history) if data.draw(st.booleans()) else None
        dst = dst or self._pick(data)
        if dst is None:
            return
        if data.draw(st.integers(0, 3)) == 0:
            return self.overlapping_write(data, dst)
        shape = tuple(self._t(dst).shape)
        fits = self._alive(lambda t: _broadcasts(tuple(t.shape), shape))
        other = data.draw(st.sampled_from(fits + ["2.0", "0.5"])) if fits else "1.5"
        method = data.draw(st.sampled_from(("add_", "mul_", "sub_", "copy_", "zero_", "fill_", "setitem", "setitem")))
        if method not in ("zero_", "fill_", "setitem") and other[0] == "t" and order_dependent(self._t(dst), self._t(other)):
            other += ".clone()"
        if method == "zero_":
            line = f"{dst}.zero_()"
        elif method == "fill_":
            line = f"{dst}.fill_({data.draw(st.sampled_from(('0.25', '-1.0')))})"
        elif method == "setitem":
            key = data.draw(st.sampled_from(("0", "1:", "...", "m.tensor([0, 0])" if shape and shape[0] > 0 else "...")))
            if key in ("0", "1:") and (not shape or shape[0] < 2):
                key = "..."
            val = other if other[0] != "t" or not shape or key == "..." else "2.0"
            if val[0] == "t" and val == other:
                region, v = self._region(dst, key), self._t(val)
                if region is not None and order_dependent(region, v, same_shape_only=True):
                    val += ".clone()"
                if region is not None and fills_an_integer_with_grad(region, v):
                    val += ".detach()"
            line = f"{dst}[{key}] = {val}"
        else:
            line = f"{dst}.{method}({other})"
        self.pair.run(line)

    def _region(self, dst, key):
        """``dst[key]`` on PyTorch (the elements a setitem writes), None for an index array."""
        if key.startswith("m."):
            return None
        try:
            return eval(f"{dst}[{key}]", {dst: self._t(dst)})  # noqa: S307  (our own key)
        except Exception:  # noqa: BLE001  (the line itself will raise on both)
            return None

    def overlapping_write(self, data, dst):
        """An in-place op reading a view of the tensor it writes: PyTorch allows full overlap
        and disjoint parts, refuses a partial overlap (``t.sub_(t[0])``)."""
        shape = tuple(self._t(dst).shape)
        method = data.draw(st.sampled_from(("add_", "sub_", "mul_", "copy_")))
        operands = [dst, f"{dst}[...]", f"{dst}.detach()"]
        if shape and shape[0] > 1:
            operands += [f"{dst}[0]", f"{dst}[1:]", f"{dst}[:1]"]
        if len(shape) == 2 and shape[0] == shape[1]:
            operands.append(f"{dst}.t()")
        if len(shape) >= 2:
            operands.append(f"{dst}.view(-1)[:{shape[-1]}]")
        target = dst
        if shape and shape[0] > 1 and data.draw(st.booleans()):  # t[1:].add_(t[:-1]) and its like
            target, operands = f"{dst}[1:]", [f"{dst}[:-1]", f"{dst}[1:]", f"{dst}[:1]"]
        src = data.draw(st.sampled_from(operands))
        try:
            t_dst, t_src = (eval(e, {dst: self._t(dst)}) for e in (target, src))  # noqa: S307
        except Exception:  # noqa: BLE001  (a view PyTorch refuses: the line raises on both)
            t_dst = t_src = None
        if t_dst is not None and order_dependent(t_dst, t_src):
            src += ".clone()"
        self.pair.run(f"{target}.{method}({src})")

    @precondition(lambda self: 0 < self.n < self.MAX_TENSORS)
    @rule(data=st.data())
    def compute(self, data):
        a = self._pick(data)
        shape = tuple(self._t(a).shape)
        fits = self._alive(lambda t: _broadcasts(tuple(t.shape), shape) or _broadcasts(shape, tuple(t.shape)))
        b = data.draw(st.sampled_from(fits)) if fits else a
        expr = data.draw(st.sampled_from((
            f"{a} * {b}", f"{a} + {b}", f"{a} - {b}", f"{a} / {b}", f"{a} * 1.5", f"{a} / 2", f"10 - {a}",
            f"{a}.sum()", f"{a}.sum(0)" if shape else f"{a}.sum()", f"({a} * 1.0).exp()", f"{a}.clone()",
            f"{a}.max(0).values" if shape else f"{a}.max()", f"{a}.flip(0)" if shape else f"{a}.clone()",
            f"{b} * {a}", f"{a}.abs()" if self._t(a).dtype != self.pair.torch.bool else f"{a}.float()", f"-{a}", f"{a}.double()", f"{a}.float()", f"m.zeros_like({a})",
            f"m.where({a} > 0, {a}, {b})", f"{a}.contiguous()",
            # a permuted input: the result takes its layout (PyTorch's TensorIterator)
            f"{a}.transpose(0, -1) * 1.5" if shape else f"{a} * 1.5",
            f"{a}.transpose(0, -1) + {a}.transpose(0, -1).contiguous()" if shape else f"{a} + {a}",
            f"{a}.transpose(0, -1).contiguous() - {a}.transpose(0, -1)" if shape else f"{a} - {a}",
        )))
        self.pair.run(f"{self._new()} = {expr}")

    @precondition(lambda self: self.n > 0)
    @rule(data=st.data())
    def backward(self, data):
        root = self._pick(data, lambda t: t.requires_grad)
        if root is None:
            return
        retain = data.draw(st.booleans())
        self.pair.run(f"({root} * 1).sum().backward(retain_graph={retain})" if data.draw(st.booleans())
                      else f"{root}.sum().backward(retain_graph={retain})")

    @precondition(lambda self: 0 < self.n < self.MAX_TENSORS)
    @rule(data=st.data())
    def grad(self, data):
        root = self._pick(data, lambda t: t.requires_grad)
        leaf = self._pick(data, lambda t: t.requires_grad and t.is_leaf)
        if root is None or leaf is None:
            return
        self.pair.run(f"{self._new('g')} = m.autograd.grad({root}.sum(), [{leaf}], retain_graph=True, allow_unused=True)[0]")

    @precondition(lambda self: 0 < self.n < self.MAX_TENSORS)
    @rule(data=st.data())
    def detach(self, data):
        src = self._pick(data)
        self.pair.run(f"{self._new()} = {src}.detach()")


def fuzz(max_examples: int = 100, steps: int = 20, **kwargs) -> None:
    """Draw and run ``max_examples`` programs of up to ``steps`` lines each on PyTorch and on
    dyngraph (``DifferentialMachine``), stopping at the first disagreement. Draws without
    hypothesis's pool of constants from the imported modules' source, so a derandomized run
    draws the same programs whatever the process imported before (``strategies.fixed_constants``).

    Parameters:
        max_examples: programs to draw.
        steps: the most lines a program has.
        **kwargs: other hypothesis ``settings`` (``derandomize=True``, ``database=None``,
            ``phases=[Phase.generate]`` to skip shrinking...).

    Returns:
        None, when no program disagreed.

    Raises:
        Disagreement: the first (shrunk) program on which they differ, printed as a ``replay``
            call that reproduces it.

    Examples:
        >>> from graphcompare.torchfuzz import fuzz
        >>> fuzz(max_examples=3, steps=4, derandomize=True, database=None)
    """
    from .strategies import fixed_constants

    with fixed_constants():
        run_state_machine_as_test(
            DifferentialMachine, settings=settings(max_examples=max_examples, stateful_step_count=steps, deadline=None, **kwargs)
        )
