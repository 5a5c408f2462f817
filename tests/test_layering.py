"""The import graph of the four packages, read statically from the source: no module-level
import cycle, and imports point one way, ``graphcompare -> dyngraph, staticgraph -> shared_ops``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shared_ops", "dyngraph", "staticgraph", "graphcompare")
# what each package may import (besides itself)
ALLOWED = {
    "shared_ops": set(),
    "dyngraph": {"shared_ops"},
    "staticgraph": {"shared_ops"},
    "graphcompare": {"shared_ops", "dyngraph", "staticgraph"},
}


def _modules() -> dict:
    """module name -> (path, is_package)."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            out[".".join(parts)] = (path, is_pkg)
    return out


MODULES = _modules()


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, module_level_only: bool) -> set:
    """The modules of the four packages that ``module`` imports (at module level only, or anywhere)."""
    path, is_pkg = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    found = set()

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and module_level_only:
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, is_pkg, node)
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    found.add(sub if sub in MODULES else target)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt) or isinstance(child, ast.ExceptHandler):
                    visit([child])
                elif not module_level_only:
                    visit([c for c in ast.walk(child) if isinstance(c, ast.stmt)])

    visit(tree.body)
    return {m for m in found if m.split(".")[0] in PACKAGES and m != module}


def _known(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_no_module_level_import_cycle():
    graph = {m: {k for k in map(_known, _imports(m, True)) if k and k != m} for m in MODULES}
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def strongconnect(v):  # Tarjan, iterative over each node's successors
        work = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        while work:
            node, succ = work[-1]
            for w in succ:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        cycles.append(sorted(comp))

    for m in sorted(MODULES):
        if m not in index:
            strongconnect(m)
    assert not cycles, f"module-level import cycles: {cycles}"


@pytest.mark.parametrize("pkg", PACKAGES)
def test_imports_point_one_way(pkg):
    bad = []
    for m in MODULES:
        if m.split(".")[0] != pkg:
            continue
        for target in _imports(m, module_level_only=False):
            top = target.split(".")[0]
            if top != pkg and top not in ALLOWED[pkg]:
                bad.append(f"{m} imports {target}")
    assert not bad, "\n".join(bad)


def test_the_checks_see_a_planted_cycle_and_a_wrong_import(tmp_path):
    """The parser resolves relative imports: ``staticgraph.passes.simplify`` reaches ``staticgraph.program``."""
    assert "staticgraph.program" in _imports("staticgraph.passes.simplify", True)
    assert "shared_ops.registry" in _imports("staticgraph.passes.simplify", True)
    assert "staticgraph.passes" in {_known(m) for m in _imports("staticgraph.compile", True)}
