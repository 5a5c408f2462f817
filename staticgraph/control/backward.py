"""The backward loops of control flow: the kernels of ``cond_grad``, ``scan_grad`` and
``while_loop_grad`` (a mixin of ``kernels.Loop``), and the bookkeeping of gradient terms.

A loop's gradient runs its gradient body once per step, last step first, on what the forward
loop kept (``History``: the carries and residuals of each step). Terms of a carry seed the
previous step's body in their order; terms of a closure are collected per step and handed,
in step order, to the shared ``add_n`` after the loop (``add_terms``); terms of one outer value
fed to several inputs are merged by (step, consumer).
"""

from __future__ import annotations

from itertools import chain

from shared_ops.registry import REGISTRY


def add_n(xp, terms: list):
    """The shared ``add_n``: a left fold in the order given, seeded with the first term."""
    return terms[0] if len(terms) == 1 else REGISTRY.get("add_n").kernel(xp, *terms)


class Placed(list):
    """A control node's terms for one input where some are handed through unchanged: ``keys[i]``
    is the sort key (consumer id, input position) term ``i`` had as a cotangent of the control
    node's output, or None for a term the body computed (it stays at the control node's
    place). ``AddTerms`` sorts the terms of a sum by these keys, as dyngraph does."""

    def __init__(self, terms, keys):
        super().__init__(terms)
        self.keys = keys


def _plain(v):
    """A list of terms crossing into a body (a seed): its order as given, its keys dropped."""
    return list(v) if type(v) is Placed else v


def _flat(values) -> list:
    """Terms in order, a nested control node's list of terms expanded in place."""
    values = values if isinstance(values, (list, tuple)) else list(values)
    types = set(map(type, values))
    if list not in types and Placed not in types:  # the common case
        return list(values)
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


class Backward:
    """The gradient kernels of ``kernels.Loop`` (``self.cf``, ``self.bodies``)."""

    def _cond_grad(self, xp, pred, *arrays):
        n = self.cf.n
        no, nt, nf = n["operands"], n["true_caps"], n["false_caps"]
        ops, tcaps, fcaps = list(arrays[:no]), list(arrays[no:no + nt]), list(arrays[no + nt:no + nt + nf])
        seeds = [_plain(v) for v in arrays[no + nt + nf:]]
        name = "true" if bool(pred) else "false"
        layout, raw = self.cf.bodies["layouts"][name]
        outs = self.bodies[name].run(ops + (tcaps if name == "true" else fcaps) + seeds)
        keys = getattr(layout, "raw_keys", None) or [[(0,)] * len(sl) for sl in layout.raw_slots]
        terms = {p.id: _keyed([outs[s] for s in slots], ks, ()) for p, slots, ks in zip(raw, layout.raw_slots, keys)}
        passes = n.get("pass_" + name)
        if passes and max(passes) >= 0:
            terms = _placed(terms, raw, layout.raw_slots, passes, n["seed_keys"])
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
            finals.append([_plain(v) for v in arrays[pos:pos + count]])
            pos += count
        fcarry = self.fcarry()
        T = len(history)
        plans = self.plans()
        carry_slots, steps, dx = None, [], [[] for _ in range(nx)]
        if T:
            probe = list(history.steps[0][0]) + list(caps)
            exes = (self.bodies["last"]._exe_for(probe), self.bodies["mid"]._exe_for(probe))
            loop = self._generated.get(exes, tuple(history.ids))
            carry_slots, steps, dxs = loop(T, history.steps, [_rows(x, T) for x in xs], caps,
                                          [None if d is None else _rows(d, T) for d in dys], finals)
            for (j, _), d in zip(plans["mid"].dx, dxs):
                dx[j] = d
        merge = n.get("merge", ())
        if carry_slots is None:  # zero steps: the final carry is the initial one, its terms handed through
            fk = n.get("final_keys") or [[] for _ in range(nc)]
            init = [Placed(finals[k], [tuple(key) + (0,) if key else None for key in fk[k]])
                    if len(fk[k]) == len(finals[k]) else finals[k] for k in fcarry]
            result = init + self._dxs(xp, xs, dx, T) + [[] for _ in range(sum(n["fcaps"]))]
            for g in merge:  # one outer value fed to several carries (a closure has no term)
                parts = [result[k] for k in g]
                result[g[0]] = Placed([t for p in parts for t in p],
                                      [k for p in parts for k in (p.keys if type(p) is Placed else [None] * len(p))])
                for k in g[1:]:
                    result[k] = []
            return tuple(result)
        if merge:  # one outer value fed to several inputs: terms ordered by (step, consumer)
            keyed = self._keyed_terms(finals, fcarry, carry_slots, steps, plans, T)
            return _merged(keyed[:len(fcarry)] + self._dxs(xp, xs, dx, T) + keyed[len(fcarry):], merge)
        init = [_flat(vals) for vals in carry_slots]
        cap_terms = [_flat(list(chain.from_iterable(step[c] for step in reversed(steps)))) for c in range(sum(n["fcaps"]))]
        return tuple(init + self._dxs(xp, xs, dx, T) + cap_terms)

    def fcarry(self) -> list:
        """The positions of the carries that take gradients (floating)."""
        return [k for k in range(self.cf.n["carries"]) if self.cf.n["fcarry"][k]]

    def plans(self) -> dict:
        """The two gradient bodies' plans (``_Plan``), made once."""
        p = getattr(self, "_plans", None)
        if p is None:
            p = self._plans = {name: _Plan(self.cf.bodies[name], self.fcarry(), self.cf.n) for name in ("mid", "last")}
        return p

    def _dxs(self, xp, xs, dx, T) -> list:
        out = []
        for j, x in enumerate(xs):
            if not self.cf.n["dx"][j]:
                continue
            if T == 0:
                out.append(xp.zeros_like(x))
                continue
            d = xp.stack(dx[j], axis=0)
            # dyngraph sums one scattered slice per step (zeros elsewhere): the same values, but
            # -0.0 + 0.0 is +0.0 once there are two steps
            out.append(d + xp.zeros((), dtype=d.dtype) if T > 1 else d)
        return out

    def _keyed_terms(self, finals, fcarry, carry_slots, steps, plans, T) -> list:
        """The terms of every float carry's init and closure as ``(order key, term)`` lists."""
        keys = plans["last" if T == 1 else "mid"].keys
        init = [_keyed(vals, keys[r], (0,)) for r, vals in enumerate(carry_slots)]
        caps = []
        for c in range(len(steps[0]) if steps else sum(self.cf.n["fcaps"])):
            terms = []
            for back, step in enumerate(steps):
                t = T - 1 - back
                keys = plans["last" if t == T - 1 else "mid"].keys
                terms += _keyed(step[c], keys[len(fcarry) + c], (t,))
            caps.append(terms)
        return init + caps


class _Plan:
    """A gradient body's layout as index lists, for generating its step loop."""

    def __init__(self, layout, fcarry, n):
        slots = layout.raw_slots
        self.carry_slots = slots[:len(fcarry)]
        self.cap_slots = slots[len(fcarry):]
        self.keys = getattr(layout, "raw_keys", None) or [[(0,)] * len(sl) for sl in slots]
        self.seed_src = [s for s in layout.seed_src if s[0] != "carry"]
        counts = getattr(layout, "seed_counts", None)
        self.seed_counts = [counts[k] for k in fcarry] if counts is not None else [0] * len(fcarry)
        self.dx = list(zip([j for j in range(n["xs"]) if n["dx"][j]], layout.summed_slots))
        self.res_ids = layout.res_ids
        self.respos: list = []  # where each residual lies in a step's kept residuals


def _rows(x, n: int) -> list:
    """``x[t]`` for every step, as arrays (a 1-d ``x`` gives 0-d arrays, not NumPy scalars)."""
    return list(x) if x.ndim > 1 else [x[t, ...] for t in range(n)]


def _keyed(values, keys, step: tuple) -> list:
    """``(order key, term)`` pairs of one body run's slot values, a nested list of terms
    expanded in place."""
    out = []
    for r, (v, key) in enumerate(zip(values, keys)):
        for k, term in enumerate(_flat([v])):
            out.append((step + tuple(key) + (r, k), term))
    return out


def _placed(terms: dict, raw, raw_slots, passes, seed_keys) -> dict:
    """``terms`` (param id -> keyed terms) with each term that is a seed handed through
    (``passes``: per raw term, the seed's index or -1) wrapped as a one-term ``Placed`` at the
    key that seed had outside."""
    out, r = {}, 0
    for p, slots in zip(raw, raw_slots):
        where = passes[r:r + len(slots)]
        r += len(slots)
        out[p.id] = [(k, Placed([t], [tuple(seed_keys[where[k[-2]]]) + (k[-1],)]))
                     if where[k[-2]] >= 0 and seed_keys[where[k[-2]]] else (k, t) for k, t in terms[p.id]]
    return out


def _merged(result: list, groups) -> tuple:
    """Lists of keyed terms as lists of terms; each group of outputs (one outer value fed to
    several inputs) merged into its first, in key order (step, then consumer)."""
    result = list(result)
    for g in groups:
        result[g[0]] = sorted((kv for k in g for kv in result[k]), key=lambda kv: kv[0])
        for k in g[1:]:
            result[k] = []
    return tuple([v for _, v in r] if isinstance(r, list) else r for r in result)


__all__ = ["Backward", "Placed", "add_n"]
