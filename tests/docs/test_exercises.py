"""Each chapter ends with two or three exercises whose solutions are hidden (``???``
admonitions) and run with the page (tests/docs/test_pages.py runs and compares them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .doctest_md import parse

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial"
CHAPTERS = ["01-tensors", "02-graph", "03-backward", "04-static", "05-equivalence", "06-costs", "07-control-flow",
            "08-gpu", "09-own-op", "10-views-inplace"]
EXERCISE = re.compile(r'^\?\?\? question "(.+)"$', re.M)


def _exercises(text: str) -> str:
    return text.split("## Exercises", 1)[1] if "## Exercises" in text else ""


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_ends_with_two_or_three_hidden_exercises(chapter):
    text = (TUTORIAL / f"{chapter}.md").read_text()
    section = _exercises(text)
    assert section, f"{chapter}.md has no '## Exercises' section"
    assert 2 <= len(EXERCISE.findall(section)) <= 3
    assert "\n## " not in section, "the exercises are the chapter's last section"


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c != "06-costs"])
def test_every_exercise_has_a_solution_that_runs_and_shows_its_output(chapter):
    section = _exercises((TUTORIAL / f"{chapter}.md").read_text())
    for body in EXERCISE.split(section)[2::2]:
        body = body.split("\nNext:")[0]  # the chapter's closing pointer follows the last exercise
        blocks = parse(body)
        code = [b for b in blocks if b.lang == "python"]
        assert code, "an exercise without a runnable solution"
        assert all(b.expect is not None for b in code), "a solution's output is not shown"
        assert all(line.startswith("    ") or not line.strip() for line in body.strip("\n").splitlines()), \
            "solution text outside the hidden block"
