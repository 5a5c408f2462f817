"""The site builds with ``mkdocs build --strict``: no broken link, no missing page, no bad docstring."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    site = tmp_path / "site"
    for page in ["index.html", "errors/index.html", "tutorial/01-tensors/index.html",
                 "tutorial/09-own-op/index.html", "reference/dyngraph/index.html"]:
        assert (site / page).exists(), page


def test_every_picture_a_page_uses_is_committed():
    import re

    missing = []
    for page in (ROOT / "docs").rglob("*.md"):
        for src in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", page.read_text()):
            if not (page.parent / src).resolve().exists():
                missing.append(f"{page.relative_to(ROOT)} -> {src}")
    assert not missing, missing
