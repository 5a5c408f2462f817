"""The scripts beside the pages (docs/gen_reference.py, docs/screenshots.py, the hooks...) are
not a package: the tests import them by path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def load(relpath: str):
    """``docs/<relpath>`` as a module (``load("hooks/results_tables.py")``)."""
    path = DOCS / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
