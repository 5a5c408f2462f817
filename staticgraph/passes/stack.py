"""stack: a loop's per-step weight-gradient products, summed as one product over the steps.

A closure used at every step of a ``sg.scan`` or ``sg.while_loop`` (a weight) gets one
gradient term per step, and the terms are summed after the loop (``add_terms``). When a
step's term is a matrix product of two values that both change from step to step (the RNN
cell's ``dW_h += g_t @ h_t^T``), the sum over the steps is itself one matrix product, over
the steps stacked on a new leading axis::

    each step t:  %27 = matmul_nt %30 %0          (g_t @ h_t^T), then T terms added
 -> each step t:  G[t] = %30;   after the loop:  matmul_nt([g_0 g_1 ...], [h_0 h_1 ...])

one BLAS product whose inner dimension is T times longer, instead of T small products and
T - 1 additions: the steps' blocks joined along the axis the product contracts (``RULES``, one
entry per product op), so the contraction itself sums the steps. Operands the loop keeps
anyway are not copied per step: a row of ``xs`` is read from ``xs`` itself, a carry or a
residual is joined from the kept history once, after the loop; only a value the gradient step
computes (``g_t``) is written into a ``(T - 1, ...)`` buffer.

Which terms: ``matmul``, ``matmul_nt`` or ``matmul_tn`` of two 2-D operands that both
depend on the step (a loop-invariant operand would be copied T times for nothing), in the
gradient body of the middle steps; the last step's body runs as declared. A loop is left as
it is when a closure of it is also fed as another of its inputs (its terms are merged in
step order with the other input's, ``info["merge"]``/``["mix"]``) or when a closure's terms
hold a nested control node's lists.

Not exact (``EXACT = False``): BLAS sums the steps in its own order, not in the left fold
over steps that dyngraph's engine and ``optimize=False`` use, so results move by rounding
and the equivalence checker holds the ``pass:stack`` way to the tolerance. It runs where
``optimize`` switches ``stack`` on (``optimize=True``), at the lowering of each loop's
gradient node (``control.kernels``); ``fn.report()`` lists each rewritten term under the
loop's gradient node.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

EXACT = False  # one product sums the steps in BLAS's order: held to the tolerance


@dataclass(frozen=True)
class Rule:
    """The sum over steps of ``op(a_t, b_t)`` is ``op(A, B)``, where ``A`` joins the ``a_t``
    along the axis the product contracts (``contract[0]`` of ``a_t``; ``B`` likewise): the
    products of the steps' blocks, summed by the contraction itself."""

    op: str
    contract: tuple


RULES = {
    "matmul": Rule("matmul", (1, 0)),     # sum_t a_t @ b_t     = [a_0 a_1 ...] @ [b_0; b_1; ...]
    "matmul_nt": Rule("matmul_nt", (1, 1)),  # sum_t a_t @ b_t^T = [a_0 a_1 ...] @ [b_0 b_1 ...]^T
    "matmul_tn": Rule("matmul_tn", (0, 0)),  # sum_t a_t^T @ b_t = [a_0; a_1; ...]^T @ [b_0; b_1; ...]
}


@dataclass
class Term:
    """One closure term formed after the loop: ``cap`` (the closure, among the loop's
    floating closures), its ``rule`` and the positions of its two operands in ``operands``
    of the ``Stacked`` plan."""

    cap: int
    rule: Rule
    args: tuple
    node: int  # the term's node in the body, for the report


@dataclass
class Stacked:
    """The middle steps' gradient body without the rewritten terms (``layout``, a copy whose
    outputs end with the operands) and how to form the terms: ``sources[i]`` says where
    operand ``i`` comes from: ``("carry", k)``, ``("xs", j)``, ``("res", node id)`` or
    ``("step", output position)``."""

    layout: object
    terms: list
    sources: list

    def lines(self) -> list:
        """The report's lines: each rewritten term and where its stacked operands come from."""
        def operand(i):
            kind, k = self.sources[i]
            if kind == "step":
                return f"%{self.layout.outputs[k].id} (written per step)"
            return {"carry": f"carry{k} (joined from the kept history)", "xs": f"xs{k} (xs itself)",
                    "res": f"%{k} (a residual, joined from the kept history)"}[kind]
        out = [f"stack: {len(self.terms)} closure term(s) formed after the loop as one product over the "
               "T - 1 middle steps (the last step's as declared):"]
        for t in self.terms:
            out.append(f"    %{t.node} = {t.rule.op} of {operand(t.args[0])} and {operand(t.args[1])}, "
                       f"joined along axes {t.rule.contract}")
        return out


def _step_dependent(layout, params: list) -> set:
    """Ids of the gradient body's nodes whose value changes from step to step: the params
    (carries, xs rows), the seeds, and everything computed from them."""
    seeds = layout.inputs[len(layout.body.inputs):]
    out = {p.id for p in params} | {s.id for s in seeds}
    for n in layout.body.graph.nodes:
        if n.id not in out and any(x.id in out for x in n.inputs):
            out.add(n.id)
    return out


def plan(layout, n_fcarry: int, nc: int, nx: int, is_list) -> Stacked | None:
    """The rewrite of ``layout`` (a loop's middle-step gradient body, ``control.grad.Layout``)
    with ``n_fcarry`` float carries among ``nc`` carries and ``nx`` xs; ``is_list(node)``:
    whether a node is a list of terms at run time. None when no term qualifies."""
    body = layout.body
    varying = _step_dependent(layout, body.params)
    found = []
    for c, slots in enumerate(layout.raw_slots[n_fcarry:]):
        for s in slots:
            o = layout.outputs[s]
            rule = RULES.get(o.op)
            if rule is None or len(o.inputs) != 2:
                continue
            a, b = o.inputs
            if all(len(x._shape) == 2 and x.id in varying and not is_list(x) for x in (a, b)):
                found.append((s, c, rule, (a, b)))
    if not found:
        return None
    gone = {s for s, _, _, _ in found}
    keep = [s for s in range(len(layout.outputs)) if s not in gone]
    at = {s: i for i, s in enumerate(keep)}
    d = copy.copy(layout)
    d.outputs = [layout.outputs[s] for s in keep]
    d.raw_slots = [[at[s] for s in sl if s not in gone] for sl in layout.raw_slots]
    d.raw_keys = [[k for s, k in zip(sl, ks) if s not in gone] for sl, ks in zip(layout.raw_slots, layout.raw_keys)]
    d.summed_slots = [None if s is None else at[s] for s in layout.summed_slots]
    position = {p.id: k for k, p in enumerate(body.params)}
    operands: dict[int, int] = {}
    sources: list = []
    terms = []
    for s, c, rule, args in found:
        pos = []
        for x in args:
            if x.id not in operands:
                operands[x.id] = len(sources)
                k = position.get(x.id)
                if k is not None:
                    sources.append(("carry", k) if k < nc else ("xs", k - nc))
                else:
                    sources.append(("step", len(d.outputs)))
                    d.outputs.append(x)
            pos.append(operands[x.id])
        terms.append(Term(c, rule, tuple(pos), layout.outputs[s].id))
    return Stacked(d, terms, sources)


def resolve_residuals(st: Stacked, res_ids: list) -> None:
    """An operand that is a residual (a forward value the loop keeps per step) is read from
    the kept history, not written per step: its source becomes ``("res", node id)``."""
    res = set(res_ids)
    for i, src in enumerate(st.sources):
        if src[0] == "step" and st.layout.outputs[src[1]].id in res:
            st.sources[i] = ("res", st.layout.outputs[src[1]].id)


def formed(xp, st: Stacked, bufs: tuple, xs: list, kept: list, pos: dict, T: int) -> list:
    """``(closure, term)`` for each rewritten term over the middle steps ``0 .. T - 2``
    (``T >= 2``): ``bufs`` the per-step buffers of the ``("step", ...)`` operands in their
    order, ``xs`` the loop's xs, ``kept`` its history (``(carries, residuals)`` per step),
    ``pos`` a residual's place in a step's residuals. Each term is its op's own kernel on the
    joined operands."""
    from shared_ops.registry import REGISTRY

    step = {}
    for i, (kind, k) in enumerate(st.sources):
        if kind == "step":
            step[i] = bufs[len(step)]
    joined: dict = {}

    def join(i: int, axis: int):
        got = joined.get((i, axis))
        if got is not None:
            return got
        kind, k = st.sources[i]
        if kind in ("carry", "res"):  # kept per step: joined in one call
            r, p = (0, k) if kind == "carry" else (1, pos[k])
            concat = getattr(xp, "concat", None) or xp.concatenate  # the array API's name, or NumPy 1's
            got = concat([kept[t][r][p] for t in range(T - 1)], axis=axis)
        else:  # (T - 1, rows, cols), the steps on the leading axis: a view, or one copy
            S = step[i] if kind == "step" else xs[k][:T - 1, ...]
            if type(S) is np.ndarray:  # the methods: NumPy's functions wrap them at a cost that shows at small T
                got = S.reshape(-1, S.shape[2]) if axis == 0 else S.transpose(1, 0, 2).reshape(S.shape[1], -1)
            else:
                got = xp.reshape(S, (-1, S.shape[2])) if axis == 0 else xp.reshape(xp.permute_dims(S, (1, 0, 2)), (S.shape[1], -1))
        joined[(i, axis)] = got
        return got

    return [(t.cap, REGISTRY.get(t.rule.op).kernel(xp, join(t.args[0], t.rule.contract[0]), join(t.args[1], t.rule.contract[1])))
            for t in st.terms]


__all__ = ["EXACT", "RULES", "Rule", "Term", "Stacked", "plan", "resolve_residuals", "formed"]
