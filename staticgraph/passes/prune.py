"""prune: drop every node that no output, assignment or input depends on.

``%5 = exp %2`` with ``%5`` unused -> (removed). The graph was already pruned to the
fetches when the ``Program`` was built; this pass catches what earlier rewrites orphaned.
"""

from __future__ import annotations

EXACT = True  # removes nodes, computes nothing

from ..program import timed_pass


def _prune(program):
    n = program.remove_dead()
    return [f"removed {n} dead node(s)"] if n else []


def run(program, ctx):
    return timed_pass("prune", program, _prune)
