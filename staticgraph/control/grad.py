"""Reverse mode through control flow: each control node's gradient is another control node.

The gradient of a body is declared inside the body's own graph (``gradients.walk`` on its
nodes) and compiled like any graph. A loop keeps, per step, the carry it started from and the
*residuals*, the forward values its gradient body reads (``residuals``; TF1's stacks), which
the gradient body takes as inputs instead of recomputing them: a loop's gradient costs
T x (carry + residuals) bytes, plus T x each captured weight for its per-step terms. A cond's
gradient body recomputes the taken branch (one branch, once).

Bitwise equality with dyngraph running the same Python loop (``optimize=False``) rests on one
rule: the contributions to a value are summed by the shared ``add_n`` in the order their
consumers were created, in one left fold. So nothing is summed early where dyngraph would not:

- a parameter of a body (a carry, a captured weight, an operand) hands back its contributions
  *unsummed* (``walk(..., raw=...)``), in consumer order;
- a captured weight's terms of every step are collected in step order and summed after the
  loop together with its other consumers' terms (``add_terms``: the shared ``add_n`` over the
  terms, with lists expanded in place);
- the terms of a carry seed the previous step's body in the order of their consumers in the
  next step (keys ``(NEXT, consumer, position)``), after the node's own consumers in its step,
  before the stacked ``ys`` (``(YS, k)``), and, in the last step, before the final carry's
  consumers after the loop (``(AFTER, k, i)``);
- a scan's ``xs`` that is (or may be) another input's value too hands its rows' gradients
  back as one term per step, which sort among that value's other terms by step and consumer
  (``terms``: the order of dyngraph's unrolled loop).
"""

from __future__ import annotations

import itertools

from shared_ops import Spec
from shared_ops.dtypes import FLOATING
from shared_ops.registry import REGISTRY

from ..graph import Graph, GraphError, Node
from .aliases import maybe_same, shared
from .declare import GET, ControlFlow, control_node, get

NEXT, YS, AFTER = 1 << 40, 2 << 40, 3 << 40
_seeds = itertools.count()
GRAD_KINDS = ("cond_grad", "while_loop_grad", "scan_grad")
ADD_TERMS = "add_terms"


def floating(n: Node) -> bool:
    return n.dtype in FLOATING


class Cot(list):
    """The cotangent terms of a control node's output, in order, with the sort keys they had
    (``keys``: consumer id and input position): where a control node hands an input's value
    through unchanged (a while_loop running no step, a branch returning its operand), these
    terms belong among that input's own terms at these keys, as dyngraph (for which the result
    *is* the input) sums them."""

    def __init__(self, keyed):
        super().__init__(t for _, t in keyed)
        self.keys = [tuple(k) for k, _ in keyed]


def sum_terms(graph: Graph, terms: list, like: Node, keys=None) -> Node:
    """One value from contributions in order: the term itself, ``add_n``, or ``add_terms``
    when a term is a list (a control node's gradient); ``keys``: the terms' sort keys, which
    place a pass-through's terms at run time (``terms.Placed``)."""
    lists = tuple(_is_list(t) for t in terms)
    if not any(lists):
        if len(terms) == 1:
            return terms[0]
        return graph.apply(REGISTRY.get("add_n"), tuple(terms), {})
    attrs = {"lists": lists}
    if keys is not None:
        attrs["keys"] = tuple(tuple(k) for k in keys)
    n = Node(graph, ADD_TERMS, tuple(terms) + (like,), attrs, like._shape, like.dtype, trace=like.trace)
    return graph._add(n)


def _keys_of(terms) -> list:
    return [list(k) for k in getattr(terms, "keys", [()] * len(terms))]


def _is_list(t: Node) -> bool:
    """A list of terms at run time: a control node's gradient output, or a body's seed fed one."""
    if t.op == GET:
        return t.inputs[0].attrs["cf"].out_kinds[t.attrs["index"]] == "terms"
    return t.op == "placeholder" and t.id in getattr(t.graph, "list_seeds", ())


def _seed_ph(g: Graph, spec_node: Node, name: str) -> Node:
    return g.add_source("placeholder", spec_node._shape, spec_node.dtype, name=name)


def step_grad(body, seeds: list, raw: list, summed: list):
    """Declare the gradient of ``body`` in its graph: ``seeds`` are ``(output index, key,
    is a list)``, each a new placeholder (fed a list of terms at run time where marked, so
    that its terms join the body's sum one by one). Returns ``(seed placeholders, {param id: [(key, term)]} for raw,
    {param id: gradient or None} for summed)``."""
    g = body.graph
    with g:
        phs = [_seed_ph(g, body.outputs[k], f"cotangent{next(_seeds)}_out{k}") for k, _, _ in seeds]
        g.list_seeds.update(ph.id for ph, (_, _, is_list) in zip(phs, seeds) if is_list)
        from ..gradients import walk

        grads = walk(g, [(body.outputs[k], key, ph) for ph, (k, key, _) in zip(phs, seeds)],
                     list(raw) + list(summed), raw=frozenset(p.id for p in raw))
    return phs, {p.id: grads.get(p.id, []) for p in raw}, {p.id: grads.get(p.id) for p in summed}


class Layout:
    """A compiled-gradient-body plan: its inputs and where each result lies in its outputs."""

    def __init__(self, body, phs, raw_terms, summed, raw, summed_params):
        self.body = body
        self.inputs = list(body.inputs) + list(phs)
        self.outputs: list[Node] = []
        self.raw_slots: list[list[int]] = []     # per raw param: output positions of its terms
        self.raw_keys: list[list[tuple]] = []
        for p in raw:
            terms = raw_terms[p.id]
            self.raw_slots.append(list(range(len(self.outputs), len(self.outputs) + len(terms))))
            self.raw_keys.append([k for k, _ in terms])
            self.outputs.extend(t for _, t in terms)
        self.summed_slots: list[int | None] = []
        for p in summed_params:
            gx = summed[p.id]
            self.summed_slots.append(None if gx is None else len(self.outputs))
            if gx is not None:
                self.outputs.append(gx)
        self.n_seeds = len(phs)
        body.grad_layouts.append(self)


def residuals(layout) -> list[Node]:
    """The forward values of a loop body its gradient body reads (TF1's stacks): the forward
    loop keeps them per step, and the gradient body takes them as inputs instead of
    recomputing them. Forward nodes are the ancestors of the body's outputs; sources are fed
    anyway (params, closures) or are constants."""
    body = layout.body
    forward: set[int] = set()
    stack = list(body.outputs)
    while stack:
        n = stack.pop()
        if n.id not in forward:
            forward.add(n.id)
            stack.extend(n.inputs)
    for n in body.graph.nodes:  # every output of a forward control node (its history too)
        if n.op == GET and n.inputs[0].id in forward:
            forward.add(n.id)
    inputs = {x.id for x in layout.inputs}
    found: dict[int, Node] = {}
    seen: set[int] = set()
    stack = [o for o in layout.outputs if o.id not in forward]
    while stack:
        n = stack.pop()
        if n.id in seen or n.id in inputs:
            continue
        seen.add(n.id)
        for x in n.inputs:
            if x.id in forward:
                if x.op not in ("placeholder", "constant", "variable"):
                    found[x.id] = x
            else:
                stack.append(x)
    for o in layout.outputs:  # a forward value that is itself a term (rare: a linear body)
        if o.id in forward and o.op not in ("placeholder", "constant", "variable"):
            found[o.id] = o
    return [found[i] for i in sorted(found)]


def _needs(n: Node, relevant: set) -> list[bool]:
    return [x.id in relevant and floating(x) for x in n.inputs]


def backprop(ops, n: Node, cot: dict, relevant: set, contributions: dict) -> None:
    """The gradient of control node ``n`` from its outputs' cotangents ``cot`` (output index ->
    terms in order): declares the backward control node and adds each input's terms."""
    if n.op == "cond_grad" and any(cot.values()):
        from .second import cond_grad_vjp

        return cond_grad_vjp(n.graph, n, cot, relevant, contributions)
    if n.op == "scan_grad" and any(cot.values()):
        from .second_loop import scan_grad_vjp

        return scan_grad_vjp(n.graph, n, cot, relevant, contributions)
    if n.op == "while_loop_grad" and any(cot.values()):
        from .second_while import while_grad_vjp

        return while_grad_vjp(n.graph, n, cot, relevant, contributions)
    if n.op not in ("cond", "while_loop", "scan"):  # a gradient node no cotangent reached
        return
    cf: ControlFlow = n.attrs["cf"]
    graph = n.graph
    cot = {k: ts for k, ts in cot.items() if ts}
    if not cot:
        return
    needs = _needs(n, relevant)
    result = {"cond": _cond, "while_loop": _while, "scan": _scan}[cf.kind](graph, n, cf, cot, needs)
    for k, terms in result.items():
        for j, t in enumerate(terms):
            contributions.setdefault(n.inputs[k].id, []).append(((n.id, k, j), t))


def _grad_node(graph, kind, bodies, inputs, out_nodes, kinds, n, info) -> list[Node]:
    # an outer value fed to several inputs (a carry's init and a closure) gets one list of
    # terms, merged in dyngraph's order (step, then consumer), at its first output
    first: dict[int, int] = {}
    merge: dict[int, list] = {}
    for k, (o, kd) in enumerate(zip(out_nodes, kinds)):
        if kd == "terms":
            merge.setdefault(first.setdefault(id(o), k), []).append(k)
    info = dict(info, merge=[g for g in merge.values() if len(g) > 1])
    mix = maybe_same([out_nodes[g[0]] for g in merge.values()])
    if mix:
        firsts = list(merge)
        info.update(mix=[[firsts[i] for i in g] for g in mix], at=n.id)
    specs = [Spec(o._shape, o.dtype) for o in out_nodes]
    cf = ControlFlow(kind, bodies, specs, kinds, info, trace=n.trace)
    ctrl = control_node(graph, cf, inputs)
    merged = {k for g in info["merge"] for k in g[1:]}
    return [None if k in merged else get(ctrl, k) for k in range(len(specs))]


def _cond(graph, n, cf, cot, needs):
    no = cf.n["operands"]
    t, f = cf.bodies["true"], cf.bodies["false"]
    # a seed's key inside the branches is its key outside under the prefix NEXT: the seeds sort
    # among themselves as their consumers outside do, after every consumer in the branch, and a
    # term the branch hands through unchanged takes its outside key back (``terms._leave``)
    outer = {k: _keys_of(cot[k]) for k in cot}
    seeds = [(k, (NEXT,) + tuple(outer[k][i]) if outer[k][i] else (NEXT, -1, k, i), _is_list(cot[k][i]))
             for k in sorted(cot) for i in range(len(cot[k]))]
    layouts = {}
    for name, b in (("true", t), ("false", f)):
        raw = [p for p in b.params if floating(p)] + [ph for ph in b.capture_nodes if floating(ph)]
        phs, raw_terms, _ = step_grad(b, seeds, raw, [])
        layouts[name] = (Layout(b, phs, raw_terms, {}, raw, []), raw)

    # inputs: pred, operands, captures (true), captures (false), then the seeds
    flat = [x for k in sorted(cot) for x in cot[k]]
    # outputs: one terms list per input (pred: none)
    targets = list(range(1, len(n.inputs)))
    outs = _grad_node(graph, "cond_grad", {"layouts": layouts}, list(n.inputs) + flat,
                      [n.inputs[k] for k in targets], ["terms"] * len(targets), n,
                      {"operands": no, "true_caps": len(t.captures), "false_caps": len(f.captures),
                       "seed_outer": [list(outer[k][i]) for k in sorted(cot) for i in range(len(cot[k]))]})
    return {k: [o] for k, o in zip(targets, outs) if needs[k] and o is not None}


def _loop_layouts(b, nc, cot, ny, xs_params):
    """The mid-step and last-step gradient bodies of a loop body with ``nc`` carries."""
    carry = [b.params[k] for k in range(nc)]
    fcarry = [p for p in carry if floating(p)]
    caps = [ph for ph in b.capture_nodes if floating(ph)]
    raw = fcarry + caps
    ys_seeds = [(nc + j, (YS, j), False) for j in range(ny) if (nc + j) in cot]
    # the final carry's cotangents seed the last step at their outside keys under the prefix
    # AFTER: they sort among themselves as their consumers after the loop do
    outer = {k: _keys_of(cot[k]) for k in range(nc) if k in cot}
    last_ki = [(k, i) for k in range(nc) if k in cot for i in range(len(cot[k]))]
    last = [(k, (AFTER,) + tuple(outer[k][i]) if outer[k][i] else (AFTER, -1, k, i), _is_list(cot[k][i]))
            for k, i in last_ki]
    phs, rt, sm = step_grad(b, ys_seeds + last, raw, xs_params)
    last_layout = Layout(b, phs, rt, sm, raw, xs_params)
    last_layout.seed_src = [("y", k - nc, 0) for k, _, _ in ys_seeds] + [("final", k, i) for k, i in last_ki]
    # mid steps: carry k's seeds are the next step's terms of carry param k, in their order
    counts = {p.id: 0 for p in fcarry}
    for p in fcarry:
        counts[p.id] = sum(1 for m in b.graph.nodes for i in m.inputs if i is p)
    for _ in range(4):
        seeds = [(k, (NEXT, i), False) for k, p in enumerate(carry) if floating(p) for i in range(counts[p.id])]
        phs, rt, sm = step_grad(b, seeds + ys_seeds, raw, xs_params)
        got = {p.id: len(rt[p.id]) for p in fcarry}
        if got == counts:
            break
        counts = got
    keys = {p.id: [k for k, _ in rt[p.id]] for p in fcarry}
    lists = {p.id: [_is_list(t) for _, t in rt[p.id]] for p in fcarry}
    # the seed keys follow the terms' own order in the next step; a term that is a list at
    # run time (a nested control node's) seeds a placeholder fed that list
    seeds = [(k, (NEXT,) + tuple(keys[p.id][i]), lists[p.id][i]) if i < len(keys[p.id]) else (k, (NEXT, 1 << 39, i), False)
             for k, p in enumerate(carry) if floating(p) for i in range(counts[p.id])]
    phs, rt, sm = step_grad(b, seeds + ys_seeds, raw, xs_params)
    mid_layout = Layout(b, phs, rt, sm, raw, xs_params)
    mid_layout.seed_counts = [counts[p.id] if floating(p) else 0 for p in carry]
    mid_layout.seed_src = [("carry", k, i) for k, p in enumerate(carry) if floating(p) for i in range(counts[p.id])] \
        + [("y", k - nc, 0) for k, _, _ in ys_seeds]
    for L in (mid_layout, last_layout):
        L.n_fcarry = len(fcarry)
    return {"mid": mid_layout, "last": last_layout}, fcarry, caps


def _seeded(layouts: dict) -> bool:
    """Whether a closure's term is a seed (the body returns the closure unchanged, as a carry
    or a y) or a carry's is the final carry's: dyngraph sums such a term at the consumer in
    the next step, at the ``stack`` of the ys or after the loop, so the terms are ordered by
    key (``terms._in_loop``), not step by step."""
    return any(k and k[0] in (NEXT, YS, AFTER) and (r >= L.n_fcarry or k[0] == AFTER)
               for L in layouts.values() for r, keys in enumerate(L.raw_keys) for k in keys)


def _scan(graph, n, cf, cot, needs):
    nc, nx, ny = cf.n["carries"], cf.n["xs"], cf.n["ys"]
    b = cf.bodies["body"]
    xs_params = [b.params[nc + j] for j in range(nx) if needs[nc + j]]
    layouts, _, _ = _loop_layouts(b, nc, cot, ny, xs_params)
    dys = [sum_terms(graph, cot[nc + j], cf.gets[nc + j], _keys_of(cot[nc + j])) if (nc + j) in cot else None
           for j in range(ny)]
    finals = [x for k in range(nc) if k in cot for x in cot[k]]
    hist = get(n, nc + ny)
    inputs = [hist] + list(n.inputs[nc:]) + [d for d in dys if d is not None] + finals
    carry_out = [n.inputs[k] for k in range(nc) if floating(b.params[k])]
    x_out = [n.inputs[nc + j] for j in range(nx) if needs[nc + j]]
    cap_out = [n.inputs[nc + nx + c] for c, ph in enumerate(b.capture_nodes) if floating(ph)]
    # an xs that is (or may be) another input's array: dyngraph sums the scattered gradient of
    # each row among that value's other terms, at step t before step t's body (where its
    # getitem is), so it is handed out as one term per step (``terms._row_terms``)
    xterms = iter(shared(carry_out + x_out + cap_out)[len(carry_out):len(carry_out) + len(x_out)])
    xterms = [needs[nc + j] and next(xterms) for j in range(nx)]
    info = {"carries": nc, "xs": nx, "ys": ny, "caps": len(b.captures), "dys": [d is not None for d in dys],
            "finals": [len(cot.get(k, ())) for k in range(nc)], "fcarry": [floating(p) for p in b.params[:nc]],
            "dx": [needs[nc + j] for j in range(nx)], "fcaps": [floating(ph) for ph in b.capture_nodes],
            "final_keys": [_keys_of(cot.get(k, [])) for k in range(nc)], "xterms": xterms, "keyed": int(_seeded(layouts))}
    outs = _grad_node(graph, "scan_grad", layouts, inputs, carry_out + x_out + cap_out, ["terms"] * len(carry_out)
                      + ["terms" if xterms[j] else "array" for j in range(nx) if needs[nc + j]] + ["terms"] * len(cap_out), n, info)
    result, it = {}, iter(outs)
    for k in range(nc):
        if floating(b.params[k]):
            o = next(it)
            if needs[k] and o is not None:
                result[k] = [o]
    for j in range(nx):
        if needs[nc + j]:
            o = next(it)
            if o is not None:
                result[nc + j] = [o]
    for c, ph in enumerate(b.capture_nodes):
        if floating(ph):
            o = next(it)
            if needs[nc + nx + c] and o is not None:
                result[nc + nx + c] = [o]
    return result


def _while(graph, n, cf, cot, needs):
    nv = cf.n["vars"]
    b, c = cf.bodies["body"], cf.bodies["cond"]
    layouts, _, _ = _loop_layouts(b, nv, cot, 0, [])
    finals = [x for k in range(nv) if k in cot for x in cot[k]]
    ncc = len(c.captures)
    body_caps = list(n.inputs[nv + ncc:])
    inputs = [get(n, nv)] + body_caps + finals
    carry_out = [n.inputs[k] for k in range(nv) if floating(b.params[k])]
    cap_out = [x for x, ph in zip(body_caps, b.capture_nodes) if floating(ph)]
    info = {"carries": nv, "xs": 0, "ys": 0, "caps": len(b.captures), "dys": [],
            "finals": [len(cot.get(k, ())) for k in range(nv)], "fcarry": [floating(p) for p in b.params[:nv]],
            "dx": [], "fcaps": [floating(ph) for ph in b.capture_nodes],
            "final_keys": [_keys_of(cot.get(k, [])) for k in range(nv)], "keyed": int(_seeded(layouts))}
    outs = _grad_node(graph, "while_loop_grad", layouts, inputs, carry_out + cap_out,
                      ["terms"] * (len(carry_out) + len(cap_out)), n, info)
    result, it = {}, iter(outs)
    for k in range(nv):
        if floating(b.params[k]):
            o = next(it)
            if needs[k] and o is not None:
                result[k] = [o]
    for j, ph in enumerate(b.capture_nodes):
        if floating(ph):
            o = next(it)
            if needs[nv + ncc + j] and o is not None:
                result[nv + ncc + j] = [o]
    return result


def differentiable(n: Node) -> bool:
    return n.op in ("cond", "while_loop", "scan", GET) or n.op in GRAD_KINDS or n.op == ADD_TERMS


__all__ = ["backprop", "sum_terms", "Cot", "differentiable", "residuals", "GRAD_KINDS", "ADD_TERMS", "step_grad"]
