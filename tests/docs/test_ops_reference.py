"""The ops page (docs/reference/ops.md, written by docs/hooks/ops_reference.py at build time):
every registered op with its call, its sentence and its gradient rule as declared."""

from __future__ import annotations

import ast
import re

import pytest

import shared_ops

from .docs_scripts import load

HOOK = load("hooks/ops_reference.py")


@pytest.fixture(scope="module")
def text():
    return HOOK.generate()


def _entries(text):
    return dict(re.findall(r"^### `ops\.(\w+)`\n\n(.*?)(?=^### |^## |\Z)", text, flags=re.M | re.S))


def test_every_op_has_an_entry_with_its_call_sentence_and_rule(text):
    entries = _entries(text)
    ops = shared_ops.all_ops()
    assert sorted(entries) == sorted(op.name for op in ops)
    for op in ops:
        body = entries[op.name]
        assert op.doc and HOOK._md(op.doc) in body, f"{op.name}: no doc= sentence (add one to its register call)"
        assert body.startswith(f"`{op.name}("), body[:80]
        if op.vjp is None:
            assert "No gradient" in body
        else:
            rule = body.split("```python\n", 1)[1].split("\n```", 1)[0]
            ast.parse(rule)  # the rule alone, not the register(...) call around a lambda
            assert "vjp" in rule or "def " in rule, rule


def test_the_call_shows_arrays_then_attributes(text):
    entries = _entries(text)
    assert entries["sum"].startswith("`sum(x, *, axis=None, keepdims=False)`")
    assert entries["add_n"].startswith("`add_n(*terms)`")
    assert entries["broadcast_to"].startswith("`broadcast_to(x, like, *, shape)`")


def test_a_lambda_rule_is_shown_alone(text):
    rule = _entries(text)["exp"].split("```python\n", 1)[1].split("\n```", 1)[0]
    assert rule == "vjp = lambda ops, g, inputs, output: (ops.mul(g, output),)"


def test_a_rule_without_source_is_an_error():
    made = eval("lambda ops, g, inputs, output: (g,)")  # noqa: S307  (a rule with no file behind it)
    with pytest.raises((LookupError, OSError, TypeError)):
        HOOK.rule_source(made)


def test_the_built_page_has_every_op(built_site):
    site, result = built_site
    assert result["returncode"] == 0, result["output"]
    html = (site / "reference" / "ops" / "index.html").read_text()
    absent = [op.name for op in shared_ops.all_ops() if f'id="ops{op.name}"' not in html]
    assert not absent, absent
    assert "<!-- ops-reference -->" not in html


def test_a_sentence_is_markdown_safe_outside_its_code():
    assert HOOK._md("out[i][j] = x[k] ``a[b]_c`` H*W") == r"out\[i\]\[j\] = x\[k\] ``a[b]_c`` H\*W"
