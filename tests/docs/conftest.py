"""What the site tests share, computed once per test session, also when pytest-xdist spreads
the tests over workers (the first worker to ask computes, under a file lock; the others read
its result): the built site (test_build, test_browser) and the browser's findings on it."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from .docs_scripts import load


def screenshots_module():
    """docs/screenshots.py (the build, the server and the browser checks)."""
    return load("screenshots.py")


def once_per_session(tmp_path_factory, name: str, compute):
    """``compute(folder)``'s JSON result, computed by one worker of this test run."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by this run's workers (each has its own basetemp below it)
    result = root / f"{name}.json"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            result.write_text(json.dumps(compute(root / name)))
    return json.loads(result.read_text())


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """``(site folder, {"returncode", "output"})`` of one ``mkdocs build --strict``."""
    pytest.importorskip("mkdocs")

    def build(site: Path) -> dict:
        proc = screenshots_module().build(site, check=False)
        return {"site": str(site), "returncode": proc.returncode, "output": proc.stdout + proc.stderr}

    result = once_per_session(tmp_path_factory, "docs-site", build)
    return Path(result["site"]), result
