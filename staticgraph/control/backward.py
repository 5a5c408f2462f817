"""The backward loops of control flow: the kernels of ``cond_grad``, ``scan_grad`` and
``while_loop_grad`` (a mixin of ``kernels.Loop``); the bookkeeping of their terms is in ``terms``.

A loop's gradient runs its gradient body once per step, last step first, on what the forward
loop kept (``History``: the carries and residuals of each step). Terms of a carry seed the
previous step's body in their order; terms of a closure are collected per step and handed,
in step order, to the shared ``add_n`` after the loop (``add_terms``); terms of one outer value
fed to several inputs are merged by (step, consumer).
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from ..passes import stack
from .grad import AFTER, _is_list
from .terms import (
    Placed,
    _copies,
    _enter,
    _flat,
    _has_placed,
    _in_loop,
    _keyed,
    _leave,
    _merged,
    _placed,
    _plain,
    _resolve,
    _row_terms,
    add_n,
)


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
            result = init + self._dxs(xp, xs, dx, T, plans) + [[] for _ in range(sum(n["fcaps"]))]
            for g in merge:  # one outer value fed to several carries (a closure has no term)
                parts = [result[k] for k in g]
                result[g[0]] = Placed([t for p in parts for t in p],
                                      [k for p in parts for k in (p.keys if type(p) is Placed else [None] * len(p))])
                for k in g[1:]:
                    result[k] = []
            return tuple(result)
        if merge or n.get("mix") or n.get("keyed"):  # terms ordered by (step, consumer) (``terms._in_loop``)
            keyed = self._keyed_terms(finals, fcarry, carry_slots, steps, plans, T)
            result = keyed[:len(fcarry)] + self._dxs(xp, xs, dx, T, plans) + keyed[len(fcarry):]
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

    def _dxs(self, xp, xs, dx, T, plans=None) -> list:
        """Each differentiated xs's gradient: its rows' gradients stacked, or, for an xs that
        is (or may be) another input's array (``info["xterms"]``), ``_row_terms``."""
        out = []
        xterms = self.cf.n.get("xterms") or [False] * len(xs)
        for j, x in enumerate(xs):
            if not self.cf.n["dx"][j]:
                continue
            if xterms[j]:
                out.append(_row_terms(xp, x, dx[j], j, plans, T))
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
        init = [_in_loop(_keyed(vals, keys[r], (0,)), T) for r, vals in enumerate(carry_slots)]
        caps = []
        for c in range(len(steps[0]) if steps else sum(self.cf.n["fcaps"])):
            terms = []
            for back, step in enumerate(steps):
                t = T - 1 - back
                keys = plans["last" if t == T - 1 else "mid"].keys
                terms += _keyed(step[c], keys[len(fcarry) + c], (t,))
            caps.append(_in_loop(terms, T))
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


__all__ = ["Backward", "Placed", "add_n"]
