"""Every page of docs/: each python block runs, and prints exactly the output the page shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from .doctest_md import check_page, check_page_isolated, normalise, parse

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md"))


def _id(p: Path) -> str:
    return str(p.relative_to(DOCS))


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_page_runs_and_shows_real_output(page):
    problems = check_page_isolated(page)  # a fresh interpreter per page: each runs on its own
    assert not problems, "\n\n".join(problems)


def test_there_are_pages_with_checked_output():
    pages = [p for p in PAGES if any(b.expect is not None for b in parse(p.read_text()))]
    assert len(pages) >= 9, [str(p) for p in pages]


# --------------------------------------------------------------- the runner itself is tested


def test_runner_pairs_blocks_and_catches_a_wrong_output(tmp_path):
    page = tmp_path / "p.md"
    page.write_text(
        "x\n\n```python\nv = 6 * 7\nprint(v)\n```\n\n```text\n42   \n```\n\n"
        "```python\nprint(v + 1)\n```\n```text\n44\n```\n"
    )
    blocks = parse(page.read_text())
    assert [b.lang for b in blocks] == ["python", "text", "python", "text"]
    assert blocks[0].expect is blocks[1] and blocks[2].expect is blocks[3]
    problems = check_page(page)
    assert len(problems) == 1 and "differs" in problems[0] and "43" in problems[0]


def test_runner_reports_unshown_output_and_exceptions(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("```python\nprint('hidden')\n```\n\n```python\n1 / 0\n```\n")
    problems = check_page(page)
    assert "no ```text block" in problems[0]
    assert "ZeroDivisionError" in problems[1]


def test_runner_uses_a_fresh_namespace_and_temp_cwd(tmp_path):
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("```python\nsecret = 1\nimport os\nopen('f.txt', 'w').write('x')\n```\n")
    b.write_text("```python\nprint('secret' in globals())\nimport os\nprint(os.path.exists('f.txt'))\n```\n```text\nFalse\nFalse\n```\n")
    assert check_page(a) == [] and check_page(b) == []


def test_normalise_only_strips_trailing_whitespace():
    assert normalise("a  \n b\t\n\n") == "a\n b"
    assert normalise(" a") == " a"


def test_update_writes_what_the_code_prints(tmp_path):
    from .doctest_md import update_page

    page = tmp_path / "p.md"
    page.write_text("```python\nprint('a')\nprint(2 + 2)\n```\n\n```text\nstale\n```\n")
    assert update_page(page) == 1
    assert "```text\na\n4\n```" in page.read_text()
    assert check_page(page) == []


def test_the_gpu_directive_only_marks_the_block_after_it(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("```python\nprint(1)\n```\n\n<!-- doctest: output-without-gpu -->\n```text\n1\n```\n")
    blocks = parse(page.read_text())
    assert blocks[0].expect is blocks[1]
    assert blocks[1].directives == {"output-without-gpu"} and blocks[0].directives == set()
