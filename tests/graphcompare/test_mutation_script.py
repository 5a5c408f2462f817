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


def _report_module():
    spec = importlib.util.spec_from_file_location("gc_mutation_report", os.path.join(ROOT, "benchmarks", "mutation_report.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_mutant_changing_only_annotations_is_recognised_as_equivalent():
    annotation_only = _report_module().annotation_only
    src = "from __future__ import annotations\ndef f(x: int | None = None, y=1) -> int | None:\n    return x | y\n"
    assert annotation_only(src, 2, "def f(x: int >> None = None, y=1) -> int | None:")
    assert annotation_only(src, 2, "def f(x: int | None = None, y=1) -> int ^ None:")
    assert not annotation_only(src, 2, "def f(x: int | None = None, y=2) -> int | None:")  # a default: behaviour
    assert not annotation_only(src, 3, "return x >> y")
    assert not annotation_only(src, 2, "def f(x: int | None = None, y=1) -> int | None:")  # no change at all
    # without the future import an annotation is evaluated at definition time: not equivalent
    plain = src.replace("from __future__ import annotations", "import sys")
    assert not annotation_only(plain, 2, "def f(x: int >> None = None, y=1) -> int | None:")


def test_the_score_interval_and_the_mutant_key():
    report = _report_module()
    lo, hi = report.wilson(95, 100)
    assert 0.88 < lo < 0.89 and 0.978 < hi < 0.979  # the Wilson interval of 95/100
    assert report.wilson(0, 0) == (0.0, 1.0)
    diff = "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n x = 1\n-    if a == b:\n+    if a != b:\n y = 2\n"
    assert report.mutant_key("m.py", "core/Eq_NotEq", diff) == "m.py:core/Eq_NotEq:if a == b: => if a != b:"
