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

import numpy as np

from shared_ops.registry import REGISTRY

from ..passes import stack

from .grad import AFTER, NEXT, _is_list


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

    def copy(self):
        """A shallow copy that keeps the keys (an executable hands out a copy of a list it was
        fed as a seed and returns unchanged)."""
        return Placed(self, self.keys)


def _has_placed(v) -> bool:
    if type(v) is Placed:
        return True
    if not isinstance(v, list):
        return False
    types = set(map(type, v))  # at C speed: a step loop's list holds one term per step
    return Placed in types or (list in types and any(_has_placed(t) for t in v if type(t) is list))


def _expand(v, key: tuple, out: list) -> None:
    """``(key, term)`` pairs of a sum's input: a ``Placed`` term at its own key, other terms of
    a list at the list's key and their position."""
    if type(v) is Placed:
        for j, (t, k) in enumerate(zip(v, v.keys)):
            _expand(t, tuple(k) if k is not None else key + (j,), out)
    elif isinstance(v, list):
        for j, t in enumerate(v):
            _expand(t, key + (j,), out)
    else:
        out.append((key, v))


def to_next(v):
    """A carry's term handed to the step before as a seed: its ``Placed`` keys, keys of this
    step's body, become seed keys there (``(NEXT,) + key``, as the seeds' own keys are)."""
    if type(v) is Placed:
        return Placed([to_next(t) for t in v], [None if k is None else (NEXT,) + tuple(k) for k in v.keys])
    if isinstance(v, list) and _has_placed(v):
        return [to_next(t) for t in v]
    return v


def _copies(terms: list) -> list:
    out = [_copies(t) if isinstance(t, list) else t.copy() for t in terms]
    return Placed(out, terms.keys) if type(terms) is Placed else out


def _resolve(values, keys) -> list:
    """One body run's terms of one param (its slots' values), in the body's order: terms of a
    ``Placed`` list at their own keys (the body's key space, resolved before they leave it)."""
    return [t for _, t in sorted(_keyed(values, keys, ()), key=lambda kv: kv[0])]


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
        outer = n.get("seed_outer")
        if outer is None:  # a file saved before seeds took their outside keys
            seeds = [_plain(v) for v in arrays[no + nt + nf:]]
        else:
            seeds = [_enter(v, key) for v, key in zip(arrays[no + nt + nf:], outer)]
        name = "true" if bool(pred) else "false"
        layout, raw = self.cf.bodies["layouts"][name]
        outs = self.bodies[name].run(ops + (tcaps if name == "true" else fcaps) + seeds)
        keys = getattr(layout, "raw_keys", None) or [[(0,)] * len(sl) for sl in layout.raw_slots]
        terms = {p.id: sorted(_keyed([outs[s] for s in slots], ks, ()), key=lambda kv: kv[0])
                 for p, slots, ks in zip(raw, layout.raw_slots, keys)}
        if n.get("seed_ki"):
            terms = _placed(terms, n["seed_ki"], n["seed_keys"])
        body = layout.body
        result = [terms.get(p.id, []) for p in body.params]
        for branch, count in (("true", nt), ("false", nf)):
            if branch == name:
                result.extend(terms.get(ph.id, []) for ph in body.capture_nodes)
            else:
                result.extend([] for _ in range(count))
        if outer is None:
            return _merged(result, n.get("merge", ()))
        result = list(result)
        for g in n.get("merge", ()):
            result[g[0]] = sorted((kv for k in g for kv in result[k]), key=lambda kv: kv[0])
            for k in g[1:]:
                result[k] = []
        mixed = {k for g in n.get("mix", ()) for k in g}
        here = (n.get("at", 0), -1)
        return tuple(_leave(r, here if k in mixed else None) for k, r in enumerate(result))

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
        finals, handed = [], []
        fk = n.get("final_keys") or [[] for _ in range(nc)]
        for k, count in enumerate(n["finals"]):
            handed.append(list(arrays[pos:pos + count]))
            keys = fk[k] if len(fk[k]) == count else [None] * count
            finals.append([_enter(v, key, AFTER) for v, key in zip(handed[-1], keys)])
            pos += count
        fcarry = self.fcarry()
        T = len(history)
        plans = self.plans()
        carry_slots, steps, dx = None, [], [[] for _ in range(nx)]
        if T:
            probe = list(history.steps[0][0]) + list(caps)
            exes = (self.bodies["last"]._exe_for(probe), self.bodies["mid"]._exe_for(probe))
            loop = self._generated.get(exes, tuple(history.ids))
            same = len(history.xs) == nx and all(a is b for a, b in zip(history.xs, xs))
            carry_slots, steps, dxs, bufs = loop(T, history.steps, history.rows if same else [_rows(x, T) for x in xs], caps,
                                                [None if d is None else _rows(d, T) for d in dys], finals)
            for (j, _), d in zip(plans["mid"].dx, dxs):
                dx[j] = d
        merge = n.get("merge", ())
        if carry_slots is None:  # zero steps: the final carry is the initial one, its terms handed through
            # copies: the caller's memory plan may reuse the buffers of these inputs once this
            # node ran, while the terms live on in the list handed back
            # (a term that is itself a list of handed-through terms keeps its own keys)
            init = [Placed(_copies(handed[k]), [tuple(key) + (0,) if key else None for key in fk[k]])
                    if len(fk[k]) == len(handed[k]) else _copies(finals[k]) for k in fcarry]
            result = init + self._dxs(xp, xs, dx, T) + [[] for _ in range(sum(n["fcaps"]))]
            for g in merge:  # one outer value fed to several carries (a closure has no term)
                parts = [result[k] for k in g]
                result[g[0]] = Placed([t for p in parts for t in p],
                                      [k for p in parts for k in (p.keys if type(p) is Placed else [None] * len(p))])
                for k in g[1:]:
                    result[k] = []
            return tuple(result)
        if merge or n.get("mix"):  # one outer value fed to several inputs: terms ordered by (step, consumer)
            keyed = self._keyed_terms(finals, fcarry, carry_slots, steps, plans, T)
            result = keyed[:len(fcarry)] + self._dxs(xp, xs, dx, T) + keyed[len(fcarry):]
            return _merged(result, merge, n.get("mix", ()), (n.get("at", 0), -1))
        last, mid = plans["last"], plans["mid"]
        keys = (last if T == 1 else mid).keys
        init = [_resolve(vals, keys[r]) if any(map(_has_placed, vals)) else _flat(vals) for r, vals in enumerate(carry_slots)]
        ncap = sum(n["fcaps"])
        if last.cap_lists or mid.cap_lists:  # a nested control node's terms: resolved step by step
            cap_terms = [[t for back, step in reversed(list(enumerate(steps)))
                          for t in _resolve(step[c], (last if back == 0 else mid).keys[len(fcarry) + c])] for c in range(ncap)]
        else:
            cap_terms = [_flat(list(chain.from_iterable(step[c] for step in reversed(steps)))) for c in range(ncap)]
        if self.stacked is not None and T >= 2:
            for c, term in stack.formed(xp, self.stacked, bufs, xs, history.steps, history.pos, T):
                cap_terms[c].append(term)
        return tuple(init + self._dxs(xp, xs, dx, T) + cap_terms)

    def fcarry(self) -> list:
        """The positions of the carries that take gradients (floating)."""
        return [k for k in range(self.cf.n["carries"]) if self.cf.n["fcarry"][k]]

    def plans(self) -> dict:
        """The two gradient bodies' plans (``_Plan``), made once."""
        p = getattr(self, "_plans", None)
        if p is None:
            p = self._plans = {name: _Plan(self.layouts.get(name, self.cf.bodies[name]), self.fcarry(), self.cf.n)
                               for name in ("mid", "last")}
            st = self.stacked
            if st is not None:  # passes.stack: operands written per step, terms formed after the loop
                p["mid"].stack_steps = [(i, src[1]) for i, src in enumerate(st.sources) if src[0] == "step"]
                p["mid"].push = any(p["mid"].cap_slots)
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
        self.respos: list = []
        self.stack_steps: list = []  # (buffer, output position) of passes.stack's per-step operands
        self.push = True  # whether a step hands out closure terms
        # slots whose value is a list of terms at run time (a nested control node's)
        self.carry_lists = [[_is_list(layout.outputs[s]) for s in sl] for sl in self.carry_slots]
        self.cap_lists = any(_is_list(layout.outputs[s]) for sl in self.cap_slots for s in sl)  # where each residual lies in a step's kept residuals


def _rows(x, n: int) -> list:
    """``x[t]`` for every step, as arrays (a 1-d ``x`` gives 0-d arrays, not NumPy scalars;
    an array library that forbids iterating an array, array-api-strict, is indexed)."""
    return list(x) if x.ndim > 1 and type(x) is np.ndarray else [x[t, ...] for t in range(n)]


def _keyed(values, keys, step: tuple) -> list:
    """``(order key, term)`` pairs of one body run's slot values, a nested list of terms
    expanded in place (a ``Placed`` term at its own key)."""
    out = []
    for r, (v, key) in enumerate(zip(values, keys)):
        if type(v) is not Placed and not (isinstance(v, list) and _has_placed(v)):
            for k, term in enumerate(_flat([v])):
                out.append((step + tuple(key) + (r, k), term))
            continue
        pairs: list = []
        _expand(v, tuple(key), pairs)
        for k, (pk, term) in enumerate(pairs):
            out.append((step + pk + (r, k), term))
    return out


def _enter(v, key, prefix=NEXT):
    """A seed crossing into a body: a list holding handed-through terms (``Placed``) becomes one
    ``Placed`` of its terms at their outside keys under ``prefix`` (the body's seeds' own: NEXT
    for a branch, AFTER for a loop's last step), so that a sum inside the body orders them
    among the other seeds as dyngraph does, and a term a branch hands back out finds its
    outside key again (``_leave``)."""
    if not key or not _has_placed(v):
        return _plain(v)
    pairs: list = []
    _expand(v, tuple(key), pairs)
    return Placed([t for _, t in pairs], [(prefix,) + tuple(k) for k, _ in pairs])


def _leave(pairs: list, here=None):
    """A body's ``(key, term)`` pairs for one input, in key order, as that input's terms
    outside: a term reached from a seed unchanged (key ``(NEXT,) + outside key``) at its
    outside key, the others at the control node's place (``here``: under that prefix, by
    their key in the body, for an input that may be another input's array, ``info["mix"]``)."""
    if here is None and not any(k[0] == NEXT and k[1] >= 0 for k, _ in pairs):
        return [t for _, t in pairs]
    return Placed([t for _, t in pairs], [tuple(k[1:]) if k[0] == NEXT and k[1] >= 0 else None if here is None
                                          else here + tuple(k) for k, _ in pairs])


def _placed(terms: dict, seed_ki, seed_keys) -> dict:
    """``terms`` (param id -> keyed terms) with each term a seed reached unchanged (its key
    starts with that seed's key ``(NEXT, output, i)``: the branch returned the param as is, or
    a nested control node handed the seed through) wrapped as a one-term ``Placed`` at the key
    the seed had outside. A seed reaching a param through an op (``v + c``) has that op's key."""
    outer = {(NEXT, k, i): tuple(key) for (k, i), key in zip(seed_ki, seed_keys) if key}
    return {p: [(k, Placed([t], [outer[k[:3]] + k[3:]])) if k[:3] in outer else (k, t) for k, t in kt]
            for p, kt in terms.items()}


def _merged(result: list, groups, mix=(), here=()) -> tuple:
    """Lists of keyed terms as lists of terms; each group of outputs (one outer value fed to
    several inputs) merged into its first, in key order (step, then consumer). Outputs in a
    ``mix`` group (inputs that may be one array at run time) keep those keys under the prefix
    ``here``, so that they interleave in that order where they meet in one sum."""
    result = [sorted(r, key=lambda kv: kv[0]) if isinstance(r, list) else r for r in result]  # (step, consumer)
    for g in groups:
        result[g[0]] = sorted((kv for k in g for kv in result[k]), key=lambda kv: kv[0])
        for k in g[1:]:
            result[k] = []
    for g in mix:
        for k in g:
            result[k] = Placed([t for _, t in result[k]], [here + tuple(kk) for kk, _ in result[k]])
    return tuple([v for _, v in r] if isinstance(r, list) and type(r) is not Placed else r for r in result)


__all__ = ["Backward", "Placed", "add_n"]
