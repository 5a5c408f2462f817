"""Running control flow: a control node becomes a ``'fused'`` program node whose payload runs
its bodies' compiled functions (each ``sg.compile``d with the caller's ``optimize``, so every
pass works inside a body), and each ``get`` a ``'fused'`` node picking one output.

``lower(program, optimize, backend)`` rewrites a freshly built ``Program`` in place. Bodies
are called through their executables directly (no feed check per step: the shapes were
checked at declaration). A loop copies its initial carries once, so nothing it keeps (the
history of carries for the gradient) aliases a buffer the caller's memory plan reuses.
"""

from __future__ import annotations

from shared_ops import Spec, backend_of, default_backend, generation
from shared_ops.registry import REGISTRY

from .declare import GET, KINDS
from .grad import ADD_TERMS, GRAD_KINDS

CONTROL = KINDS + GRAD_KINDS


def _copy(a):
    c = getattr(a, "copy", None)
    return c() if c is not None else a


def add_n(xp, terms: list):
    """The shared ``add_n``: a left fold in the order given, seeded with the first term."""
    return terms[0] if len(terms) == 1 else REGISTRY.get("add_n").kernel(xp, *terms)


class Compiled:
    """One body compiled by ``sg.compile``; ``run(arrays)`` calls its executable directly."""

    def __init__(self, outputs, inputs, optimize, backend, what: str):
        from ..compile import CompiledFunction

        self.what = what
        self.n_outputs = len(outputs)
        self.fn = CompiledFunction(list(outputs), list(inputs), optimize, backend=backend) if outputs else None
        self._exe = {}

    def run(self, arrays: list) -> tuple:
        if self.fn is None:
            return ()
        first = next((a for a in arrays if not isinstance(a, list)), None)  # a list: terms of a seed
        b = backend_of(first) if first is not None else default_backend()
        key = b.name + b.device
        exe = self._exe.get(key)
        if exe is None or exe._generation != generation():
            exe = self._exe[key] = self.fn.executable(b)
            if exe._generation != generation():
                exe.rebind()
        return exe.run(arrays, [])[0]

    def report_lines(self) -> list:
        if self.fn is None:
            return [f"{self.what}: no outputs"]
        return [f"{self.what}:"] + ["    " + ln for ln in self.fn.report().splitlines()]


class Pick:
    """Output ``k`` of a control node's tuple."""

    def __init__(self, k: int):
        self.k = k
        self.label = f"get{k}"

    def kernel(self, xp, t):
        return t[self.k]


class AddTerms:
    """``add_n`` over terms where some inputs are lists of terms (expanded in place); the last
    input is the value differentiated (zeros of its shape when no term arrived)."""

    label = "add_terms"

    def __init__(self, lists: tuple):
        self.lists = lists

    def kernel(self, xp, *values):
        terms = _flat(values[:-1])
        if not terms:
            return xp.zeros_like(values[-1])
        return add_n(xp, terms)


def _flat(values) -> list:
    """Terms in order, a nested control node's list of terms expanded in place."""
    out = []
    for v in values:
        if isinstance(v, list):
            out.extend(_flat(v))
        else:
            out.append(v)
    return out


def _fit(xp, terms: list, m: int, like) -> list:
    """``m`` seeds from a carry's terms: extra terms folded into the last (a pass-through
    carry's terms can outgrow the count its body was declared with), missing ones zeros."""
    if len(terms) > m:
        return terms[:m - 1] + [add_n(xp, terms[m - 1:])] if m else []
    return list(terms) + [xp.zeros_like(like)] * (m - len(terms))


class Loop:
    """A while_loop or scan, and their gradients: one payload class, kind-specific ``kernel``."""

    def __init__(self, cf, optimize, backend, needed: set):
        self.cf = cf
        self.kind = cf.kind
        self.label = f"{cf.kind} ({len(cf.bodies)} bodies)" if cf.kind in KINDS else cf.kind
        self.keep_history = (len(cf.out_specs) - 1) in needed if cf.kind in ("scan", "while_loop") else False
        self.bodies = {}
        for name, b in cf.bodies.items():
            if cf.kind == "cond_grad":
                continue
            if cf.kind in GRAD_KINDS:
                self.bodies[name] = Compiled(b.outputs, b.inputs, optimize, backend, f"{cf.kind} {name} step")
            else:
                self.bodies[name] = Compiled(b.outputs, b.inputs, optimize, backend, f"{cf.kind} {name}")
        if cf.kind == "cond_grad":
            for name, (layout, raw) in cf.bodies["layouts"].items():
                self.bodies[name] = Compiled(layout.outputs, layout.inputs, optimize, backend, f"cond_grad {name}")
        self.kernel = getattr(self, "_" + cf.kind)

    def report_lines(self) -> list:
        out = []
        for b in self.bodies.values():
            out.extend(b.report_lines())
        return out

    # -- forward ---------------------------------------------------------------------
    def _cond(self, xp, pred, *arrays):
        no = self.cf.n["operands"]
        nt = len(self.cf.bodies["true"].captures)
        ops = list(arrays[:no])
        if bool(pred):
            return tuple(self.bodies["true"].run(ops + list(arrays[no:no + nt])))
        return tuple(self.bodies["false"].run(ops + list(arrays[no + nt:])))

    def _scan(self, xp, *arrays):
        n = self.cf.n
        nc, nx, ny = n["carries"], n["xs"], n["ys"]
        carries = [_copy(a) for a in arrays[:nc]]
        xs = arrays[nc:nc + nx]
        caps = list(arrays[nc + nx:])
        length = xs[0].shape[0]
        for k, x in enumerate(xs[1:], 1):
            if x.shape[0] != length:
                raise ValueError(f"scan (declared at {self.cf.trace}): xs[0] has {length} steps but xs[{k}] has {x.shape[0]}")
        history = [] if self.keep_history else None
        ys = [[] for _ in range(ny)]
        run = self.bodies["body"].run
        for t in range(length):
            if history is not None:
                history.append(carries)
            outs = run(carries + [x[t, ...] for x in xs] + caps)
            carries = list(outs[:nc])
            for j in range(ny):
                ys[j].append(outs[nc + j])
        stacked = []
        for j in range(ny):
            if ys[j]:
                stacked.append(xp.stack(ys[j], axis=0))
            else:
                spec = self.cf.out_specs[nc + j]
                if None in spec.shape[1:]:
                    raise ValueError(f"scan (declared at {self.cf.trace}): zero steps, and y{j}'s shape "
                                     f"{spec.shape[1:]} is not known without running a step")
                stacked.append(xp.zeros((0,) + tuple(spec.shape[1:]), dtype=spec.dtype))
        return (*carries, *stacked, history)

    def _while_loop(self, xp, *arrays):
        nv = self.cf.n["vars"]
        nc = len(self.cf.bodies["cond"].captures)
        carries = [_copy(a) for a in arrays[:nv]]
        ccaps, bcaps = list(arrays[nv:nv + nc]), list(arrays[nv + nc:])
        history = [] if self.keep_history else None
        cond, body = self.bodies["cond"].run, self.bodies["body"].run
        while bool(cond(carries + ccaps)[0]):
            if history is not None:
                history.append(carries)
            carries = list(body(carries + bcaps))
        return (*carries, history)

    # -- gradients -------------------------------------------------------------------
    def _cond_grad(self, xp, pred, *arrays):
        n = self.cf.n
        no, nt, nf = n["operands"], n["true_caps"], n["false_caps"]
        ops, tcaps, fcaps = list(arrays[:no]), list(arrays[no:no + nt]), list(arrays[no + nt:no + nt + nf])
        seeds = list(arrays[no + nt + nf:])
        name = "true" if bool(pred) else "false"
        layout, raw = self.cf.bodies["layouts"][name]
        outs = self.bodies[name].run(ops + (tcaps if name == "true" else fcaps) + seeds)
        keys = getattr(layout, "raw_keys", None) or [[(0,)] * len(sl) for sl in layout.raw_slots]
        terms = {p.id: _keyed(outs, slots, ks, ()) for p, slots, ks in zip(raw, layout.raw_slots, keys)}
        body = layout.body
        result = [terms.get(p.id, []) for p in body.params]
        for branch, count in (("true", nt), ("false", nf)):
            if branch == name:
                result.extend(terms.get(ph.id, []) for ph in body.capture_nodes)
            else:
                result.extend([] for _ in range(count))
        return _merged(result, n.get("merge", ()))

    def _scan_grad(self, xp, history, *arrays):
        return self._loop_grad(xp, history, arrays)

    def _while_loop_grad(self, xp, history, *arrays):
        return self._loop_grad(xp, history, arrays)

    def _loop_grad(self, xp, history, arrays):
        n = self.cf.n
        nc, nx, ncap = n["carries"], n["xs"], n["caps"]
        xs, caps = list(arrays[:nx]), list(arrays[nx:nx + ncap])
        pos = nx + ncap
        dys = []
        for present in n["dys"]:
            dys.append(arrays[pos] if present else None)
            pos += bool(present)
        finals = []
        for count in n["finals"]:
            finals.append(list(arrays[pos:pos + count]))
            pos += count
        mid, last = self.cf.bodies["mid"], self.cf.bodies["last"]
        fcarry = [k for k in range(nc) if n["fcarry"][k]]
        T = len(history)
        # zero steps: the final carry is the initial one, its terms those after the loop
        carry_terms = {k: [((1 << 62, i), v) for i, v in enumerate(finals[k])] for k in fcarry}
        cap_terms: list[list] = []
        dx = [[None] * T for _ in range(nx)]
        for t in reversed(range(T)):
            layout, name = (last, "last") if t == T - 1 else (mid, "mid")
            seeds = []
            for src, k, i in layout.seed_src:
                if src == "y":
                    seeds.append(dys[k][t, ...])
                elif src == "final":
                    seeds.append(finals[k][i])
            if name == "mid":
                fitted = [_seeds_of(xp, carry_terms[k], layout.seed_counts[k], history[t + 1][k]) for k in fcarry]
                seeds = [s for f in fitted for s in f] + seeds
            outs = self.bodies[name].run(list(history[t]) + [x[t, ...] for x in xs] + caps + seeds)
            slots = layout.raw_slots
            keys = getattr(layout, "raw_keys", None) or [[(0,)] * len(sl) for sl in slots]
            carry_terms = {k: _keyed(outs, slots[r], keys[r], (t,)) for r, k in enumerate(fcarry)}
            step = [_keyed(outs, slots[r], keys[r], (t,)) for r in range(len(fcarry), len(slots))]
            cap_terms = [a + b for a, b in zip(step, cap_terms)] if cap_terms else step
            for j, s in zip([j for j in range(nx) if n["dx"][j]], layout.summed_slots):
                dx[j][t] = outs[s] if s is not None else xp.zeros_like(xs[j][t, ...])
        result = [carry_terms[k] for k in fcarry]
        for j in range(nx):
            if not n["dx"][j]:
                continue
            if T == 0:
                result.append(xp.zeros_like(xs[j]))
                continue
            d = xp.stack(dx[j], axis=0)
            # dyngraph sums one scattered slice per step (zeros elsewhere): the same values, but
            # -0.0 + 0.0 is +0.0 once there are two steps
            result.append(d + xp.zeros((), dtype=d.dtype) if T > 1 else d)
        result.extend(cap_terms or [[] for _ in range(sum(n["fcaps"]))])
        return _merged(result, n.get("merge", ()))


def _keyed(outs, slots, keys, step: tuple) -> list:
    """``(order key, term)`` pairs of one body run, a nested list of terms expanded in place;
    the key ends with the term's slot and its place in that slot's list."""
    out = []
    for r, (s, key) in enumerate(zip(slots, keys)):
        for k, v in enumerate(_flat([outs[s]])):
            out.append((step + tuple(key) + (r, k), v))
    return out


def _seeds_of(xp, keyed: list, m: int, like) -> list:
    """The ``m`` seeds of a carry from its terms in the next step: one per slot (a slot that
    held a list feeds its list); otherwise (a pass-through carry's terms outgrew the count)
    folded to fit."""
    slots: dict = {}
    for key, v in keyed:
        slots.setdefault(key[-2], []).append(v)
    if sorted(slots) == list(range(m)) and m:
        return [vs if len(vs) != 1 else vs[0] for _, vs in sorted(slots.items())]
    return _fit(xp, [v for _, v in keyed], m, like)


def _merged(result: list, groups) -> tuple:
    """Lists of keyed terms as lists of terms; each group of outputs (one outer value fed to
    several inputs) merged into its first, in key order (step, then consumer)."""
    result = list(result)
    for g in groups:
        result[g[0]] = sorted((kv for k in g for kv in result[k]), key=lambda kv: kv[0])
        for k in g[1:]:
            result[k] = []
    return tuple([v for _, v in r] if isinstance(r, list) else r for r in result)


def lower(program, optimize, backend) -> None:
    """Turn control, ``get`` and ``add_terms`` nodes of ``program`` into ``'fused'`` nodes."""
    if not any(n.op in CONTROL or n.op in (GET, ADD_TERMS) for n in program.nodes):
        return
    used: dict[int, set] = {}
    for n in program.nodes:
        if n.op == GET:
            used.setdefault(n.inputs[0], set()).add(n.attrs["index"])
    for n in program.nodes:
        if n.op in CONTROL:
            n.payload = Loop(n.attrs["cf"], optimize, backend, used.get(n.id, set()))
            n.spec = Spec((), "uint8")
        elif n.op == GET:
            n.payload = Pick(n.attrs["index"])
        elif n.op == ADD_TERMS:
            n.payload = AddTerms(n.attrs["lists"])
        else:
            continue
        n.op, n.attrs = "fused", {}


def report_lines(program) -> list:
    """The compiled bodies of every control node of ``program``, for ``fn.report()``."""
    out = []
    for n in program.nodes:
        lines = getattr(n.payload, "report_lines", None)
        if isinstance(n.payload, Loop) and lines is not None:
            out.append(f"%{n.id} = {n.payload.label}, declared at {n.payload.cf.trace}:")
            out.extend("    " + ln for ln in lines())
    return out


__all__ = ["lower", "report_lines", "Loop", "Pick", "AddTerms", "Compiled"]
