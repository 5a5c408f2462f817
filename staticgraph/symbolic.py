"""Symbolic shapes: which free dimensions of a program are known equal.

A free dimension (``None``) gets a symbol where it enters the program (a placeholder's batch
dimension); ops that keep it pass the symbol on: an elementwise op whose aligned inputs carry
one symbol (or broadcast from a static 1), and ``sum_to``/``broadcast_to`` whose ``like`` input
gives the dimension at run time. Anything else makes a fresh symbol (nothing known).

``own_shape_identities(program)`` uses it: ``sum_to``/``broadcast_to`` to the value's own
symbolic shape is the identity (the kernel returns its input unchanged or a view of it with
the same values), so its uses read the input instead. The gradient of a chain over a batch
dimension has one of these per broadcasting op; left in, each would end a fused region.
"""

from __future__ import annotations

import itertools

_fresh = itertools.count()


def _sym() -> tuple:
    return ("sym", next(_fresh))


def _broadcast(dims: list):
    """One output dimension from the aligned input dimensions (None: an input lacks it)."""
    present = [d for d in dims if d is not None and d != 1]
    if not present:
        return 1
    statics = {d for d in present if isinstance(d, int)}
    if statics:
        return statics.pop() if len(statics) == 1 else _sym()
    return present[0] if all(d == present[0] for d in present) else _sym()


def symbolic_shapes(program) -> dict:
    """``{value id: shape}`` with each free dimension replaced by a symbol (equal symbols:
    equal sizes at run time)."""
    shapes: dict[int, tuple] = {}
    for n in program.nodes:
        static = tuple(n.shape)
        op = n.opdef
        if n.op in ("sum_to", "broadcast_to") and len(n.inputs) == 2:
            like = shapes[n.inputs[1]]
            out = tuple(like[k] if s is None else s for k, s in enumerate(n.attrs["shape"]))
        elif op is not None and op.elementwise and n.inputs:
            ins = [shapes[i] for i in n.inputs]
            nd = len(static)
            out = []
            for k in range(nd):
                aligned = [s[len(s) - nd + k] if len(s) - nd + k >= 0 else None for s in ins]
                d = static[k] if static[k] is not None else _broadcast(aligned)
                out.append(_sym() if d == 1 and static[k] is None else d)
            out = tuple(out)
        else:
            out = tuple(_sym() if d is None else d for d in static)
        shapes[n.id] = tuple(s if s is not None else _sym() for s in out)
    return shapes


def own_shape_identities(program) -> int:
    """Redirect the uses of every ``sum_to``/``broadcast_to`` whose result has its input's
    symbolic shape (and dtype) to that input; count them (the nodes die at the next prune)."""
    shapes = symbolic_shapes(program)
    count = 0
    for n in list(program.nodes):
        if n.op in ("sum_to", "broadcast_to") and n.inputs:
            x = program[n.inputs[0]]
            if x.dtype == n.dtype and shapes[x.id] == shapes[n.id]:
                program.replace_uses(n.id, x.id)
                count += 1
    return count


__all__ = ["symbolic_shapes", "own_shape_identities"]
