"""``benchmarks/mutation.py`` still points at the code: every module it mutates exists, and every
mutant it lists as equivalent names a module that exists (code moves: an engine file was split)."""

from __future__ import annotations

import importlib.util
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script():
    spec = importlib.util.spec_from_file_location("gc_mutation_script", os.path.join(ROOT, "benchmarks", "mutation.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_mutated_modules_and_the_equivalent_mutants_exist():
    script = _script()
    modules = [m for group in script.GROUPS.values() for m in group]
    assert modules and [m for m in modules if not os.path.exists(os.path.join(ROOT, m))] == []
    with open(script.EQUIVALENT) as f:
        listed = json.load(f)
    gone = sorted({k.split(":")[0] for k in listed if not os.path.exists(os.path.join(ROOT, k.split(":")[0]))})
    assert gone == []
    assert all(isinstance(why, str) and len(why) > 20 for why in listed.values())
