"""The switch between dyngraph's compiled backward walk and its Python twin, and a small graph
with a fan-out, for the tests that run both (``test_cwalk.py``, ``test_cwalk_accel.py``)."""

from __future__ import annotations

import contextlib

import pytest

import dyngraph as dg
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


def fan():
    """Two leaves, a tanh used three times, a sum: hooks, buffers and add_n all have work."""
    a = dg.tensor([0.5, -1.5, 2.0], requires_grad=True)
    b = dg.tensor([1.25, 0.75, -0.5], requires_grad=True)
    h = (a * b).tanh()
    y = h * a + h.exp() - (b * h).sigmoid() + (a + b).sum()
    return [y.sum()], [a, b]
