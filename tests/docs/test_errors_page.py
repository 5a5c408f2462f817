"""The errors page has one section per error class, at the anchor the messages point to."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import shared_ops
from shared_ops import GraphCompareError

ERRORS_MD = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
PACKAGES = ("shared_ops", "dyngraph", "staticgraph", "graphcompare")


def _import_everything() -> None:
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        for mod in pkgutil.walk_packages(pkg.__path__, prefix=f"{name}."):
            if mod.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(mod.name)
            except ImportError:  # an optional backend (CuPy) that is not installed
                pass


def _error_classes() -> set[type]:
    _import_everything()
    seen, todo = set(), [GraphCompareError]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo.extend(cls.__subclasses__())
    # classes the suite defines for itself are not part of the framework
    return {c for c in seen if c.__module__.split(".")[0] in PACKAGES}


def _anchors() -> set[str]:
    return {h.strip().lower() for h in re.findall(r"^## +(\w+)\s*$", ERRORS_MD.read_text(), re.M)}


def test_every_error_class_has_a_section():
    missing = sorted(f"{c.__module__}.{c.__name__}" for c in _error_classes() if c.__name__.lower() not in _anchors())
    assert not missing, f"docs/errors.md has no section for {missing}"


def test_every_section_is_an_error_class():
    names = {c.__name__.lower() for c in _error_classes()}
    stray = sorted(_anchors() - names)
    assert not stray, f"docs/errors.md has sections for classes that do not exist: {stray}"


@pytest.mark.parametrize("cls", [shared_ops.ShapeError, shared_ops.BackendError, shared_ops.UnknownOpError])
def test_messages_point_to_their_section(cls):
    msg = str(cls("something was wrong; do this"))
    assert msg.endswith(f"(see docs/errors.md#{cls.__name__.lower()})")
