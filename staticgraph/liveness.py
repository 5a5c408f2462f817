"""The fallback memory plan: a slot per value, reused once the value's last use ran.

``simple_plan`` is what ``optimize=False`` runs with (no buffers, no in-place); the planner in
``staticgraph.memory`` starts from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SimplePlan:
    """The fallback memory plan: liveness, and a free list of slots (no in-place)."""

    slot_of: dict
    free_after: dict
    n_slots: int
    lines: list = field(default_factory=list)


def simple_plan(program) -> SimplePlan:
    """Give every value a slot, reusing slots whose value died (last use already ran)."""
    keep = set(program.outputs) | {x for _, x in program.assigns}
    last: dict[int, int] = {}
    for n in program.nodes:
        for i in n.inputs:
            last[i] = n.id
    dies_at: dict[int, list[int]] = {}
    for v, at in last.items():
        if v not in keep:
            dies_at.setdefault(at, []).append(v)
    slot_of: dict[int, int] = {}
    free: list[int] = []
    free_after: dict[int, list[int]] = {}
    n_slots = 0
    for n in program.nodes:
        if free:
            slot_of[n.id] = free.pop()
        else:
            slot_of[n.id] = n_slots
            n_slots += 1
        dead = [v for v in dict.fromkeys(dies_at.get(n.id, ())) if v != n.id]
        if n.id not in last and n.id not in keep:  # never used: free at once
            dead.append(n.id)
        if dead:
            slots = [slot_of[v] for v in dead]
            free_after[n.id] = slots
            free.extend(reversed(slots))
    return SimplePlan(slot_of, free_after, n_slots, [f"memory: {n_slots} slots for {len(program.nodes)} values (liveness, no in-place)"])


__all__ = ["SimplePlan", "simple_plan"]
