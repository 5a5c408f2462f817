"""The bookkeeping of gradient terms in control flow: which order dyngraph sums them in.

dyngraph runs a loop as the Python loop it stands for, so the terms of one value are summed
in the creation order of their consumers: those before the loop, then step by step (step
``t``: ``xs[t]``, taken before the body runs, then the body's consumers in order), then the
``stack`` of each ``ys`` after the loop (one input per step), then the final carry's
consumers. A loop's gradient body knows a term by its key there (consumer id and input
position, or a seed's: ``NEXT``, ``YS``, ``AFTER``); these helpers turn body keys into that
order (``_in_loop``), carry terms handed through a control node to the keys they had outside
(``Placed``) and sum them with the shared ``add_n``.
"""

from __future__ import annotations

from shared_ops.registry import REGISTRY

from .grad import AFTER, NEXT, YS


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


def _row_terms(xp, x, rows: list, j: int, plans: dict, T: int) -> list:
    """``(key, term)`` pairs of ``xs[j]``'s gradient as dyngraph's loop makes it: step ``t``'s
    gradient of ``xs[t]`` scattered into zeros of ``xs``'s shape (``index_scatter``, getitem's
    rule), keyed ``(t, -1, j)``: in step ``t``, before every consumer in its body (their keys
    are node ids), as ``xs[t]`` is taken before the body runs. A step whose body gives the row
    no gradient gives no term, as dyngraph's getitem then receives none."""
    scatter = REGISTRY.get("index_scatter").kernel
    has = [dict(plans["mid"].dx).get(j) is not None] * (T - 1) + [dict(plans["last"].dx).get(j) is not None] if T else []
    shape = tuple(x.shape)
    return [((t, -1, j), scatter(xp, rows[t], index=(("i", t),), shape=shape)) for t in range(T) if has[t]]


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
    ``here``, so that they interleave in that order where they meet in one sum. A term of a
    consumer of the final carry (``_in_loop``: key ``(AFTER,) + outside key``) is placed at
    that consumer's key outside."""
    result = [sorted(r, key=lambda kv: kv[0]) if isinstance(r, list) else r for r in result]  # (step, consumer)
    for g in groups:
        result[g[0]] = sorted((kv for k in g for kv in result[k]), key=lambda kv: kv[0])
        for k in g[1:]:
            result[k] = []
    mixed = {k for g in mix for k in g}
    out = []
    for k, r in enumerate(result):
        if not isinstance(r, list) or type(r) is Placed:
            out.append(r)
        elif k in mixed or any(_outside(kk) for kk, _ in r):
            out.append(Placed([t for _, t in r], [kk[1:] if _outside(kk) else here + tuple(kk) if k in mixed else None
                                                  for kk, _ in r]))
        else:
            out.append([t for _, t in r])
    return tuple(out)


def _outside(key) -> bool:
    return key[0] == AFTER and len(key) > 1 and key[1] >= 0


def _in_loop(pairs: list, T: int) -> list:
    """``(key, term)`` pairs of one loop's gradient, keyed ``(step,) + key in the body``, keyed
    where dyngraph's loop sums them: a term handed to the step before as a seed (``NEXT``) at
    its consumer in the next step; a seed of ``ys[j]`` (the body returns the value as it is)
    at the ``stack`` after the loop, its input ``t``: ``(T, YS, j, t)``; a seed of the final
    carry's cotangent (``AFTER``) at that consumer outside (``_merged``)."""
    out = []
    for key, term in pairs:
        t, rest = key[0], tuple(key[1:])
        while rest and rest[0] == NEXT:
            t, rest = t + 1, rest[1:]
        if rest and rest[0] == YS:
            key = (T, YS, rest[1], t) + rest[2:]
        elif rest and rest[0] == AFTER:
            key = rest
        else:
            key = (t,) + rest
        out.append((key, term))
    return out


__all__ = ["Placed", "add_n", "to_next"]
