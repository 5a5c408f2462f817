"""The report of ``benchmarks/mutation.py``: killed / survived per module and group, the score
with its 95% confidence interval, and the survivors with their diffs.

A mutant listed in ``benchmarks/mutation_equivalent.json`` (each with the reason it cannot
change any result) is left out of the score. It is keyed by what it changes, not where: the
module, cosmic-ray's operator and the line before and after the mutation
(``module:operator:before => after``), so an entry still matches after the code above it moves.
"""

from __future__ import annotations

import ast
import json
import math
from collections import Counter
from pathlib import Path


def mutant_key(module: str, operator: str, diff: str) -> str:
    """``module:operator:before => after`` from a mutant's unified diff (the one changed line)."""
    lines = diff.splitlines()
    before = next((x[1:].strip() for x in lines if x.startswith("-") and not x.startswith("---")), "")
    after = next((x[1:].strip() for x in lines if x.startswith("+") and not x.startswith("+++")), "")
    return f"{module}:{operator}:{before} => {after}"


def annotation_only(source: str, line: int, after: str) -> bool:
    """The mutant (line ``line``, 1-based, replaced by ``after``) changes only annotations of a
    module that has ``from __future__ import annotations``: they stay strings, never evaluated,
    so no behaviour can change (an equivalent mutant, recognised without a listed reason)."""
    if "from __future__ import annotations" not in source:
        return False
    lines = source.split("\n")
    if not 0 < line <= len(lines):
        return False
    old = lines[line - 1]
    lines[line - 1] = old[: len(old) - len(old.lstrip())] + after
    try:
        a, b = ast.parse(source), ast.parse("\n".join(lines))
    except SyntaxError:
        return False
    changed = ast.dump(a) != ast.dump(b)
    return changed and _bare(a) == _bare(b)


def _bare(tree) -> str:
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(None)
    return ast.dump(tree)


def wilson(killed: int, n: int, z: float = 1.96) -> tuple:
    """The Wilson score interval of ``killed / n`` (95% by default): the sampled mutants are a
    random draw of the module's, so the score of all of them lies in it with that confidence."""
    if n == 0:
        return (0.0, 1.0)
    p = killed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def score(c: Counter) -> str:
    """Killed over killed and non-equivalent survivors, with the 95% interval (incompetent
    mutants, which cosmic-ray could not run, and pending ones are left out)."""
    n = c["killed"] + c["survived"]
    if not n:
        return "-"
    lo, hi = wilson(c["killed"], n)
    return f"{100 * c['killed'] / n:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"


def _source(work: Path, module: str) -> str:
    """The module as it was mutated (the copy taken at init)."""
    return (work / "pristine" / module).read_text()


def report(work: Path, groups: dict, session, equivalent_path: Path) -> dict:
    from cosmic_ray.work_db import WorkDB, use_db

    equivalent = json.loads(equivalent_path.read_text()) if equivalent_path.exists() else {}
    rows, survivors, totals = [], [], {}
    for group, modules in groups.items():
        for module in modules:
            db = session(work, module)[1]
            if not db.exists():
                continue
            c = Counter()
            with use_db(str(db), WorkDB.Mode.open) as wdb:
                for item, result in wdb.completed_work_items:
                    if result.worker_outcome == "skipped":
                        c["skipped"] += 1
                        continue
                    m = item.mutations[0]
                    key = mutant_key(str(m.module_path), m.operator_name, result.diff or "")
                    if result.test_outcome == "survived":
                        after = key.rsplit(" => ", 1)[1]
                        kind = "equivalent" if key in equivalent or annotation_only(
                            _source(work, module), m.start_pos[0], after) else "survived"
                        c[kind] += 1
                        if kind == "survived":
                            survivors.append((key, m.start_pos[0], result.diff))
                    else:
                        c["killed" if result.test_outcome == "killed" else "incompetent"] += 1
                c["pending"] = wdb.num_work_items - wdb.num_results
            rows.append((group, module, c))
            totals.setdefault(group, Counter()).update(c)
    head = f"{'module':<36}{'killed':>8}{'survived':>10}{'equiv.':>8}{'incomp.':>9}{'pending':>9}{'sampled':>9}  score [95% CI]"
    print(head)
    for name, c in [(m, c) for _, m, c in rows] + [("all of " + g, c) for g, c in totals.items()]:
        sampled = sum(c[k] for k in ("killed", "survived", "equivalent", "incompetent", "pending"))
        print(f"{name:<36}{c['killed']:>8}{c['survived']:>10}{c['equivalent']:>8}{c['incompetent']:>9}"
              f"{c['pending']:>9}{sampled:>9}  {score(c)}")
    with open(work / "survivors.md", "w") as f:
        for key, line, diff in survivors:
            f.write(f"## {key}\n\nline {line}\n\n```diff\n{diff}\n```\n\n")
    print(f"{len(survivors)} non-equivalent survivor(s) written to {work / 'survivors.md'}")
    return {g: dict(c) for g, c in totals.items()}
