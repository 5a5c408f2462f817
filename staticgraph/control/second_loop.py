"""Second order through ``sg.scan``: the gradient of a ``scan_grad`` node, as JAX transposes a
scan into a scan.

A ``scan_grad`` node runs a loop over an opaque history, so it has no gradient of its own.
Its gradient is taken through an equivalent made of ordinary, differentiable nodes, declared
when a second gradient asks for it:

1. a forward ``sg.scan`` replaying the body (``replay``: the body graph's nodes declared again
   on new inputs) that also stacks, as ys, the carries each step starts from (``H``);
2. a reverse ``sg.scan`` over ``flip(H)``, ``flip(xs)`` and ``flip(dys)`` whose body replays
   the forward body on ``H[t]`` and declares its vector-Jacobian product with
   ``sg.gradients``: its carry is the carries' cotangent and a running sum of each float
   closure's gradient; its ys are the xs' gradients.

Its outputs are those of the ``scan_grad`` node (summed where the node gives lists of terms);
the cotangents reaching the node are pulled back through it by the same reverse walk.
This costs one more forward loop; the sums here are running sums, so second-order values
agree with PyTorch within rounding, not bit for bit. A body holding control flow is replayed
with its control nodes declared again (``_replay_control``); a bounded ``while_loop``'s
gradient is re-declared in ``second_while``.
"""

from __future__ import annotations

from shared_ops.registry import REGISTRY

from ..graph import GraphError, Node
from .declare import GET, KINDS
from .grad import GRAD_KINDS, floating, sum_terms


def replay(body, inputs: list, graph, outer=None) -> list:
    """``body``'s outputs declared again in ``graph`` with its params bound to ``inputs``
    (its captures read the outer nodes they stand for, or ``outer[id]`` in their place)."""
    env = {p.id: x for p, x in zip(body.params, inputs)}
    for o, ph in body.captures:
        env[ph.id] = (outer or {}).get(o.id, o)
    needed: dict[int, Node] = {}
    stack = list(body.outputs)
    while stack:  # only what the outputs need (the body graph also holds its gradient's nodes)
        m = stack.pop()
        if m.id not in needed and m.id not in env:
            needed[m.id] = m
            stack.extend(m.inputs)
    results: dict[int, list] = {}  # a nested control node's id -> its replayed outputs
    for n in sorted(needed.values(), key=lambda m: m.id):
        if n.op == "constant":
            env[n.id] = graph.add_constant(n.value, n.dtype)
        elif n.op in KINDS:
            results[n.id] = _replay_control(n, [env[i.id] for i in n.inputs])
        elif n.op == GET and n.inputs[0].id in results and n.attrs["index"] < len(results[n.inputs[0].id]):
            env[n.id] = results[n.inputs[0].id][n.attrs["index"]]
        elif n.op in GRAD_KINDS or n.op == GET or n.opdef is None:
            raise GraphError(f"gradients: a second-order gradient through a loop replays its body, and this body "
                             f"(declared at {body.graph.name}) holds a {n.op} node ({n.trace}), the gradient of "
                             "inner control flow; take that gradient outside the loop instead")
        else:
            env[n.id] = graph.apply(n.opdef, tuple(graph.capture(env[i.id]) for i in n.inputs), dict(n.attrs))
    return [graph.capture(env[o.id]) for o in body.outputs]


def _replay_control(n: Node, inputs: list) -> list:
    """A control node of a replayed body declared again (``sg.cond``/``while_loop``/``scan`` on
    ``inputs``, its bodies replayed in turn): its outputs, without the history."""
    import staticgraph as sg

    from ..graph import get_default_graph

    cf = n.attrs["cf"]
    outer = {x.id: v for x, v in zip(n.inputs, inputs)}  # what the inner bodies' captures read

    def fn(body, first=0):
        return lambda *ps: tuple(replay(body, list(ps), get_default_graph(), outer))[first:]

    if cf.kind == "cond":
        no = cf.n["operands"]
        return list(_tuple(sg.cond(inputs[0], fn(cf.bodies["true"]), fn(cf.bodies["false"]), *inputs[1:1 + no])))
    if cf.kind == "while_loop":
        nv = cf.n["vars"]
        cond_body = cf.bodies["cond"]

        def cond_fn(*ps):
            return replay(cond_body, list(ps), get_default_graph(), outer)[0]

        out = list(_tuple(sg.while_loop(cond_fn, fn(cf.bodies["body"]), tuple(inputs[:nv]))))
        if "max_iter" in cf.n:  # the replayed bodies count the steps as the original's do
            out[0].inputs[0].attrs["cf"].n["max_iter"] = cf.n["max_iter"]
        return out
    nc, nx, ny = cf.n["carries"], cf.n["xs"], cf.n["ys"]
    b = cf.bodies["body"]

    def step(carry, x):
        outs = replay(b, list(_tuple(carry)) + list(_tuple(x)), get_default_graph(), outer)
        return tuple(outs[:nc]), (tuple(outs[nc:]) if ny else None)

    carry, ys = sg.scan(step, tuple(inputs[:nc]), tuple(inputs[nc:nc + nx]))
    return list(_tuple(carry)) + (list(_tuple(ys)) if ny else [])


def _flip(x: Node) -> Node:
    return x.graph.apply(REGISTRY.get("flip"), (x,), {"dims": (0,)})


def _zeros(like: Node) -> Node:
    return like * 0.0


class pull_back:
    """The clones an equivalent reads in place of its inputs, and the pull-back of the node's
    cotangents through the equivalent onto those inputs (``seed``).

    The clones stop the inner walk (a path through an input, say from the final carry's
    cotangent back into the forward loop, is the outer walk's to follow); their gradients are
    handed to the inputs themselves (a sum's to each of its terms)."""

    def __init__(self, graph, n: Node, relevant: set, contributions: dict):
        self.graph, self.n, self.relevant, self.contributions = graph, n, relevant, contributions
        self.leaves: dict[int, tuple] = {}  # clone id -> (clone, nodes it stands for)
        self.by_outer: dict[int, Node] = {}  # a captured outer node's id -> its clone

    def leaf(self, x: Node, stands_for=None) -> Node:
        c = self.graph.apply(REGISTRY.get("clone"), (x,), {})
        self.leaves[c.id] = (c, stands_for or [x])
        return c

    def capture(self, x: Node) -> Node:
        if x.id not in self.by_outer:
            self.by_outer[x.id] = self.leaf(x)
        return self.by_outer[x.id]

    def seed(self, equivalent: list, cot: dict) -> None:
        """Pull ``cot`` (output index of the node -> terms) back through ``equivalent`` (the
        node's outputs as ordinary nodes) onto the inputs."""
        from ..gradients import walk

        equivalent = list(equivalent)
        for g in self.n.attrs["cf"].n.get("merge", ()):  # one outer value fed to several inputs
            parts = [equivalent[k] for k in g if equivalent[k] is not None]
            equivalent[g[0]] = parts[0] if len(parts) == 1 else self.graph.apply(REGISTRY.get("add_n"), tuple(parts), {})
        seeds = []
        for k, ts in sorted(cot.items()):
            if ts and equivalent[k] is not None:
                seeds.append((equivalent[k], (k,), sum_terms(self.graph, ts, equivalent[k])))
        wanted = [c for c, _ in self.leaves.values()]
        grads = walk(self.graph, seeds, wanted) if seeds else {}
        k = 0
        for cid, (c, stands_for) in self.leaves.items():
            g = grads.get(cid)
            if g is None:
                continue
            for t in stands_for:  # a sum's terms each get its gradient
                if t.id in self.relevant and floating(t):
                    self.contributions.setdefault(t.id, []).append(((self.n.id, k), g))
                    k += 1


def scan_grad_vjp(graph, n: Node, cot: dict, relevant: set, contributions: dict) -> None:
    import staticgraph as sg

    fwd = n.inputs[0].inputs[0]
    cf, b = fwd.attrs["cf"], fwd.attrs["cf"].bodies["body"]
    info = n.attrs["cf"].n
    nc, nx, ny = cf.n["carries"], cf.n["xs"], cf.n["ys"]
    init, xs, caps = list(fwd.inputs[:nc]), list(fwd.inputs[nc:nc + nx]), list(fwd.inputs[nc + nx:])
    pos = 1 + nx + len(caps)
    dys = []
    for present in info["dys"]:
        dys.append(n.inputs[pos] if present else None)
        pos += bool(present)
    finals = []
    for count in info["finals"]:
        finals.append(list(n.inputs[pos:pos + count]))
        pos += count
    fcarry = [k for k in range(nc) if floating(b.params[k])]
    fcaps = [c for c, ph in enumerate(b.capture_nodes) if floating(ph)]
    dx_of = [j for j in range(nx) if info["dx"][j]]
    eq = pull_back(graph, n, relevant, contributions)
    init = [eq.leaf(x) for x in init]
    xs = [eq.leaf(x) for x in xs]
    caps = [eq.capture(x) for x in caps]
    dys = [None if d is None else eq.leaf(d) for d in dys]
    G_final = [eq.leaf(sum_terms(graph, finals[k], init[k]), finals[k]) if finals[k] else _zeros(init[k]) for k in fcarry]
    outer_caps = eq.by_outer

    def fstep(carry, x):
        carry, x = _tuple(carry), _tuple(x)
        outs = replay(b, list(carry) + list(x), carry[0].graph, outer_caps)
        return tuple(outs[:nc]), tuple(carry)

    _, H = sg.scan(fstep, tuple(init), tuple(xs))
    H = _tuple(H)
    seq = [_flip(h) for h in H] + [_flip(x) for x in xs] + [_flip(d) for d in dys if d is not None]

    def bstep(carry, row):
        carry, row = _tuple(carry), _tuple(row)
        g = row[0].graph
        dh, acc = carry[:len(fcarry)], carry[len(fcarry):]
        h_t, x_t, dy_t = row[:nc], row[nc:nc + nx], iter(row[nc + nx:])
        outs = replay(b, list(h_t) + list(x_t), g, outer_caps)
        terms = [(outs[k] * d).sum() for k, d in zip(fcarry, dh)]
        terms += [(outs[nc + j] * next(dy_t)).sum() for j in range(ny) if dys[j] is not None]
        wrt = [h_t[k] for k in fcarry] + [x_t[j] for j in dx_of] + [g.capture(caps[c]) for c in fcaps]
        grads = sg.gradients(terms, wrt) if terms else [None] * len(wrt)
        grads = [_zeros(w) if d is None else d for w, d in zip(wrt, grads)]
        new_dh = grads[:len(fcarry)]
        dxt = grads[len(fcarry):len(fcarry) + len(dx_of)]
        new_acc = [a + d for a, d in zip(acc, grads[len(fcarry) + len(dx_of):])]
        return tuple(new_dh) + tuple(new_acc), (tuple(dxt) if dxt else None)

    start = tuple(G_final) + tuple(_zeros(caps[c]) for c in fcaps)
    if not start:
        raise GraphError("gradients: second order through sg.scan needs a float carry or closure")
    last, dxs_rev = sg.scan(bstep, start, tuple(seq))
    last = _tuple(last)
    dxs = [_flip(d) for d in _tuple(dxs_rev)] if dx_of else []
    eq.seed(list(last[:len(fcarry)]) + dxs + list(last[len(fcarry):]), cot)


def _tuple(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


__all__ = ["scan_grad_vjp", "replay", "pull_back"]
