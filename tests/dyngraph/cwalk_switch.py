"""The switch between dyngraph's compiled backward walk and its Python twin, for the tests that
run both (``test_cwalk.py``, ``test_cwalk_accel.py``)."""

from __future__ import annotations

import contextlib

import pytest

from dyngraph import engine

C = engine.CWALK
compiled_only = pytest.mark.skipif(C is None, reason="dyngraph._cwalk is not built here (or DYNGRAPH_PURE=1)")


@contextlib.contextmanager
def walking(compiled: bool):
    old = engine.CWALK
    engine.CWALK = C if compiled else None
    try:
        yield
    finally:
        engine.CWALK = old
