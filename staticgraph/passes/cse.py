"""cse: merge nodes that compute the same thing.

``%3 = mul %1 %2; %4 = mul %1 %2 -> %4 uses %3``. The key is ``(op, inputs, attrs)``;
inputs of an op that declares itself ``commutative`` (``add``, ``mul``, ``maximum``, ``eq``...:
bit for bit, in IEEE arithmetic) are sorted. Constants merge by value: ``(dtype, shape,
bytes)``. Placeholders, variables and fused nodes never merge. Exact: no value changes.
One walk in program order; each merge redirects only the merged node's uses.
"""

from __future__ import annotations

EXACT = True  # merges nodes that compute the same bytes

import numpy as np

from ..program import timed_pass

def key_of(n, canon):
    ins = tuple(canon.get(i, i) for i in n.inputs)
    if n.op == "constant":
        v = np.asarray(n.value)  # not ascontiguousarray: it turns a 0-d array into shape (1,)
        return ("constant", n.dtype, tuple(v.shape), np.ascontiguousarray(v).tobytes())
    if n.op in ("placeholder", "variable", "fused"):
        return None
    if n.opdef.commutative:
        ins = tuple(sorted(ins))
    try:
        return (n.op, ins, tuple(sorted(n.attrs.items())))
    except TypeError:  # an unorderable attribute value: compare as given
        return (n.op, ins, tuple(n.attrs.items()))


def _cse(program):
    seen: dict = {}
    canon: dict[int, int] = {}
    roots = set(program.inputs) | set(program.variables)
    merged: dict[str, int] = {}
    for n in list(program.nodes):
        k = key_of(n, canon)
        if k is None or n.id in roots:
            continue
        first = seen.get(k)
        if first is None:
            seen[k] = n.id
            continue
        canon[n.id] = first
        program.replace_uses(n.id, first)
        merged[n.op] = merged.get(n.op, 0) + 1
    program.remove_dead()
    if not merged:
        return []
    return ["merged " + ", ".join(f"{v} {k}" for k, v in sorted(merged.items()))]


def run(program, ctx):
    return timed_pass("cse", program, _cse)
