"""Second order through ``sg.cond``: the gradient of a ``cond_grad`` node is a ``cond`` over
the gradients of its two gradient bodies, declared in the same branch graphs.

A ``cond_grad`` output is a list of terms (summed by ``add_terms``), so the cotangent of such
a list is one array, the cotangent of each of its terms. The new ``cond`` takes as operands
the original operands, the first-order seeds, those cotangents and both branches' closures
(each branch reads its own closures as captures and answers zeros for the other's), and
returns the gradient of each. It is an ordinary ``cond``, so it differentiates again.
Loops' gradients differentiate again through ``second_loop`` and ``second_while``.
"""

from __future__ import annotations

import itertools

from ..graph import Node
from .body import Body
from .declare import ControlFlow, control_node, get
from .grad import NEXT, floating, sum_terms

_names = itertools.count()


def cond_grad_vjp(graph, n: Node, cot: dict, relevant: set, contributions: dict) -> None:
    cf = n.attrs["cf"]
    no, nt, nf = cf.n["operands"], cf.n["true_caps"], cf.n["false_caps"]
    ops, tcaps = n.inputs[1:1 + no], n.inputs[1 + no:1 + no + nt]
    fcaps, seeds = n.inputs[1 + no + nt:1 + no + nt + nf], n.inputs[1 + no + nt + nf:]
    targets = list(ops) + list(tcaps) + list(fcaps)  # output k of cond_grad is the terms of targets[k]
    G = {k: sum_terms(graph, ts, targets[k]) for k, ts in sorted(cot.items()) if ts}
    for group in cf.n.get("merge", ()):  # one outer value fed to several inputs: its list of
        if group[0] in G:                # terms (at the first) holds every input's terms
            G.update({k: G[group[0]] for k in group[1:]})
    G = dict(sorted(G.items()))
    operands = list(ops) + list(seeds) + [G[k] for k in G] + list(tcaps) + list(fcaps)
    bodies = {}
    for name in ("true", "false"):
        layout, raw = cf.bodies["layouts"][name]
        b = layout.body
        g = b.graph
        with g:
            def ph(like, role):
                return g.add_source("placeholder", like._shape, like.dtype, name=f"second{next(_names)}_{role}")

            gph = {k: ph(G[k], f"cot{k}") for k in G}
            own_t = [ph(x, "cap") for x in tcaps]  # stand-ins for closures fed as operands
            own_f = [ph(x, "cap") for x in fcaps]
            caps = list(b.capture_nodes)
            branch = list(b.params) + (caps if name == "true" else [None] * nt) + (caps if name == "false" else [None] * nf)
            seed_list = []
            for k in G:
                p = branch[k]
                if p is None or all(p is not r for r in raw):
                    continue
                r = next(i for i, q in enumerate(raw) if q is p)
                seed_list += [(layout.outputs[s], (NEXT, k, i), gph[k]) for i, s in enumerate(layout.raw_slots[r])]
            first_seeds = layout.inputs[len(b.inputs):]
            wrt = list(b.params) + list(first_seeds) + caps
            from ..gradients import walk

            grads = walk(g, seed_list, wrt) if seed_list else {}

            def grad_or_zeros(p):
                d = grads.get(p.id)
                return d if d is not None else p.zeros_like() if hasattr(p, "zeros_like") else p * 0.0

            outs = [grad_or_zeros(p) for p in b.params] + [grad_or_zeros(p) for p in first_seeds]
            outs += [grad_or_zeros(p) for p in (caps if name == "true" else own_t)]
            outs += [grad_or_zeros(p) for p in (caps if name == "false" else own_f)]
        params = list(b.params) + list(first_seeds) + [gph[k] for k in G] + own_t + own_f
        bodies[name] = Body(g, params, outs, len(outs))
    t, f = bodies["true"], bodies["false"]
    specs = [o.spec for o in t.outputs]
    second = ControlFlow("cond", bodies, specs, ["array"] * len(specs), {"operands": len(operands)}, trace=n.trace)
    ctrl = control_node(graph, second, [n.inputs[0], *operands] + [o for o, _ in t.captures] + [o for o, _ in f.captures])
    outs = [get(ctrl, k) for k in range(len(specs))]
    order = list(ops) + list(seeds) + list(tcaps) + list(fcaps)
    for k, (x, d) in enumerate(zip(order, outs)):
        if x.id in relevant and floating(x):
            contributions.setdefault(x.id, []).append(((n.id, k), d))


__all__ = ["cond_grad_vjp"]
