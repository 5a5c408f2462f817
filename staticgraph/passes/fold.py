"""fold: evaluate nodes whose inputs are all constants, at compile time.

``%3 = mul %1 %2`` with ``%1 = constant 2.0``, ``%2 = constant 3.0`` -> ``%3 = constant 6.0``.
Each node runs its own op's NumPy kernel, so the folded value is what ``optimize=False``
computes on NumPy. Not folded: ``broadcast_to`` (a free view; folding it would bake megabytes into the program,
and XLA leaves those too), results larger than their inputs and above ``MAX_ELEMENTS``,
ops with a run-time ``like`` input, and anything whose kernel raises (left to run time).
"""

from __future__ import annotations

EXACT = True  # runs the op's own kernel, but on NumPy: exact where the program runs on NumPy
EXACT_BACKENDS = ("numpy",)

import math

import numpy as np

from shared_ops.registry import REGISTRY

from ..program import timed_pass

MAX_ELEMENTS = 4096


def _size(shape):
    return math.prod(shape) if all(d is not None for d in shape) else None


def _fold(program):
    folded: dict[str, int] = {}
    for n in list(program.nodes):
        if n.is_source or n.op in ("fused", "broadcast_to") or not n.inputs:  # a broadcast is a free view
            continue
        ins = [program[i] for i in n.inputs]
        if not all(i.op == "constant" for i in ins):
            continue
        size = _size(n.shape)
        if size is None or (size > MAX_ELEMENTS and size > max(i.value.size for i in ins)):
            continue
        try:
            with np.errstate(all="ignore"):
                value = REGISTRY.get(n.op).kernel(np, *(i.value for i in ins), **n.attrs)
        except Exception:  # noqa: BLE001 - an error the run will raise with its own message
            continue
        value = np.array(value, dtype=n.dtype, order="C")  # keeps 0-d (ascontiguousarray would make it 1-d)
        if value.shape != tuple(n.shape):
            continue
        folded[n.op] = folded.get(n.op, 0) + 1
        n.op, n.inputs, n.attrs, n.value = "constant", [], {}, value
    program.remove_dead()
    if not folded:
        return []
    return ["folded " + ", ".join(f"{v} {k}" for k, v in sorted(folded.items())) + " into constants"]


def run(program, ctx):
    return timed_pass("fold", program, _fold)
