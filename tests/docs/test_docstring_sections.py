"""Every entry of the API reference documents its parameters, result, errors and an example
(the rules are in api_walk.py)."""

from __future__ import annotations

import pytest

from .api_walk import entries, missing

ENTRIES = entries()

def test_the_walk_finds_the_reference():
    names = {n for n, _ in ENTRIES}
    for wanted in ("dyngraph.creation.tensor", "staticgraph.session.Session", "dg.zeros",
                   "graphcompare.equivalence.check_model", "shared_ops.nn.layers.Linear"):
        assert any(n.startswith(wanted) for n in names), wanted
    assert len(ENTRIES) > 80


def test_missing_finds_what_is_missing():
    def f(x):
        """One line."""
        if x:
            raise ValueError(x)
        return x

    assert missing(f) == ["Args (x)", "Returns", "Raises (ValueError)", "Example"]

    def g(x):
        """Twice.

        Args:
            x: a number.

        Returns:
            ``2 * x``.

        Raises:
            ValueError: ``x`` is negative.

        Examples:
            >>> g(2)
            4
        """
        if x < 0:
            raise ValueError(x)
        return 2 * x

    assert missing(g) == []

    def h():
        """Nothing.

        Example:
            >>> h()
        """

    assert missing(h) == ["Examples (titled 'Example:', which renders as text: title it 'Examples:')"]


@pytest.mark.parametrize("name,obj", ENTRIES, ids=[n for n, _ in ENTRIES])
def test_entry_is_documented(name, obj):
    lacks = missing(obj)
    assert not lacks, f"{name}: its docstring lacks {'; '.join(lacks)}"
