"""Side by side with an older revision: the ``--against REV`` mode of the benchmarks.

Each round runs a benchmark's child mode once in a fresh process per tree (this tree and a
``git archive`` of ``REV``), in alternating order, so a slow spell of a shared machine hits
both alike; the table gives, per workload, this tree's figure over REV's: the median of the
rounds' ratios, with their range.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

THIS_TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def alternate(script: str, child_args: list, root_var: str, rev: str, rounds: int) -> dict:
    """``{"REV": [...], "this": [...]}``: per round, the JSON dict the child printed last. The
    child runs ``script`` with ``root_var`` and ``PYTHONPATH`` naming the tree to measure."""
    old = tempfile.mkdtemp(prefix="bench-rev-")
    archive = subprocess.run(["git", "-C", THIS_TREE, "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", old], input=archive, check=True)
    trees = {"REV": old, "this": THIS_TREE}
    runs = {k: [] for k in trees}
    for r in range(rounds):
        for label in (("REV", "this") if r % 2 == 0 else ("this", "REV")):
            env = dict(os.environ, **{root_var: trees[label]}, PYTHONPATH=trees[label])
            out = subprocess.run([sys.executable, script, *child_args], env=env,
                                 check=True, capture_output=True, text=True).stdout
            runs[label].append(json.loads(out.strip().splitlines()[-1]))
    return runs


def table(runs: dict, rev: str, names, unit: str, scale: float = 1.0) -> str:
    """The per-workload table of REV's and this tree's medians and their ratio."""
    lines = [f"{'workload':<9}{rev[:10] + ' ' + unit:>16}{'this ' + unit:>12}{'this / rev':>12}{'range':>16}"]
    for w in names:
        ratios = sorted(t[w] / o[w] for t, o in zip(runs["this"], runs["REV"]))
        o = statistics.median(x[w] for x in runs["REV"]) * scale
        t = statistics.median(x[w] for x in runs["this"]) * scale
        lines.append(f"{w:<9}{o:>16.3f}{t:>12.3f}{statistics.median(ratios):>11.3f}x"
                     f"{f'{ratios[0]:.3f}-{ratios[-1]:.3f}':>16}")
    return "\n".join(lines)
