"""The tensor methods made from their op's declaration (``x.exp``, ``x.mul``...) show what a
hand-written method would: ``help()`` gives the op's summary, the sections and the example,
on ``dg.Tensor`` and ``sg.Node`` alike."""

from __future__ import annotations

import inspect
import pydoc

import pytest

import dyngraph as dg
import staticgraph as sg
from shared_ops import get_op
from shared_ops._surface_math import MADE


@pytest.mark.parametrize("name", sorted(MADE))
def test_help_shows_the_ops_summary_sections_and_example(name):
    text = pydoc.render_doc(getattr(dg.tensor([1.0]), name), renderer=pydoc.plaintext)
    assert get_op(name).doc and get_op(name).doc in text
    assert "Returns:" in text and "Examples:" in text and f".{name}(" in text
    assert getattr(dg.Tensor, name) is getattr(sg.Node, name)  # one method for both front ends
    params = list(inspect.signature(getattr(dg.Tensor, name)).parameters)
    assert params in (["self"], ["self", "other"])
    assert getattr(dg.Tensor, name).__name__ == name

