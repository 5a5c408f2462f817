"""Second order through a bounded ``sg.while_loop``: the gradient of a ``while_loop_grad`` node.

A ``while_loop_grad`` node runs its gradient body once per step the forward loop took, a
count known only at run time, over an opaque history: it has no gradient of its own. With
``maximum_iterations=N`` the loop is a scan of N steps in which each step runs the body only
while the loop would still run (JAX's view of a bounded loop), so its gradient is taken,
as for ``sg.scan`` (``second_loop``), through an equivalent of ordinary nodes:

1. a forward ``sg.scan`` of N steps whose body asks the loop's own condition and runs the
   loop's body under ``sg.cond`` (or hands the carries through), stacking the carries each
   step starts from and whether the step ran;
2. a reverse ``sg.scan`` over those, last step first, whose body, under ``sg.cond`` on
   "this step ran", replays the loop body on that step's carries and declares its
   vector-Jacobian product with ``sg.gradients``, carrying the carries' cotangent and a
   running sum of each float closure's gradient.

The cotangents reaching the node are pulled back through this equivalent by the reverse
walk. It costs one more forward loop of N steps (the steps after the loop stopped only pass
the carries on) and N x the carries' size; its sums are running sums, so values agree with
PyTorch within rounding, not bit for bit. An unbounded loop has no stacked axis to scan
over: the error says to bound it or to use ``sg.scan``.
"""

from __future__ import annotations

import numpy as np

from ..graph import GraphError, Node, get_default_graph
from .grad import floating, sum_terms
from .second_loop import _flip, _tuple, _zeros, pull_back, replay


def while_grad_vjp(graph, n: Node, cot: dict, relevant: set, contributions: dict) -> None:
    import staticgraph as sg

    fwd = n.inputs[0].inputs[0]
    cf = fwd.attrs["cf"]
    N = cf.n.get("max_iter")
    if N is None:
        raise GraphError(f"gradients: a second-order gradient through the sg.while_loop declared at {cf.trace} "
                         "needs a bound on its steps: declare it with maximum_iterations=N (at most N steps), "
                         "or use sg.scan for a loop of known length")
    b, c = cf.bodies["body"], cf.bodies["cond"]
    info = n.attrs["cf"].n
    nv, ncc = cf.n["vars"], len(c.captures)
    pos = 1 + len(b.captures)
    finals = []
    for count in info["finals"]:
        finals.append(list(n.inputs[pos:pos + count]))
        pos += count
    fcarry = [k for k in range(nv) if floating(b.params[k])]
    fcaps = [j for j, ph in enumerate(b.capture_nodes) if floating(ph)]
    if not fcarry:
        raise GraphError("gradients: a second-order gradient through sg.while_loop needs a float loop variable")
    eq = pull_back(graph, n, relevant, contributions)
    init = [eq.leaf(x) for x in fwd.inputs[:nv]]
    for x in fwd.inputs[nv:]:
        eq.capture(x)
    outer = eq.by_outer
    caps = [outer[o.id] for o, _ in b.captures]
    G_final = [eq.leaf(sum_terms(graph, finals[k], init[k]), finals[k]) if finals[k] else _zeros(init[k])
               for k in fcarry]
    steps = graph.add_constant(np.zeros(N, dtype=np.float32))

    def run_body(*vs):
        return tuple(replay(b, list(vs), get_default_graph(), outer))

    def fstep(carry, _):
        carry = _tuple(carry)
        go = replay(c, list(carry), get_default_graph(), outer)[0]
        new = _tuple(sg.cond(go, run_body, lambda *vs: tuple(vs), *carry))
        return new, tuple(carry) + (go,)

    _, H = sg.scan(fstep, tuple(init), steps)
    H = _tuple(H)
    nf, na = len(fcarry), len(fcaps)

    def active(*ops):
        dh, acc, h = ops[:nf], ops[nf:nf + na], ops[nf + na:]
        g = get_default_graph()
        outs = replay(b, list(h), g, outer)
        terms = [(outs[k] * d).sum() for k, d in zip(fcarry, dh)]
        wrt = [h[k] for k in fcarry] + [g.capture(caps[j]) for j in fcaps]
        grads = sg.gradients(terms, wrt)
        grads = [_zeros(w) if d is None else d for w, d in zip(wrt, grads)]
        return tuple(grads[:nf]) + tuple(a + d for a, d in zip(acc, grads[nf:]))

    def bstep(carry, row):
        carry, row = _tuple(carry), _tuple(row)
        out = sg.cond(row[nv], active, lambda *ops: tuple(ops[:nf + na]), *carry, *row[:nv])
        return _tuple(out), None

    start = tuple(G_final) + tuple(_zeros(caps[j]) for j in fcaps)
    last, _ = sg.scan(bstep, start, tuple(_flip(h) for h in H))
    eq.seed(list(_tuple(last)), cot)


__all__ = ["while_grad_vjp"]
