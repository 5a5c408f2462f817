"""The API reference is organised by public API and covers every public name."""

from __future__ import annotations

from pathlib import Path

import dyngraph
import staticgraph

from .docs_scripts import load

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _gen():
    return load("gen_reference.py")


GEN = _gen()


def test_every_public_name_has_a_place():
    from shared_ops.functions import FUNCTIONS

    for module, groups in ((dyngraph, GEN.DG_GROUPS), (staticgraph, GEN.SG_GROUPS)):
        placed = {n for names in groups.values() for n in names}
        missing = [n for n in module.__all__ if n not in placed and n not in FUNCTIONS]
        assert not missing, f"{module.__name__}: add {missing} to a group of docs/gen_reference.py"
        assert not placed - set(module.__all__), "a group lists a name that is not public"


def test_every_shared_ops_name_has_a_place():
    import shared_ops

    placed = [n for names in GEN.SO_GROUPS.values() for n in names]
    missing = [n for n in shared_ops.__all__ if n not in placed]
    assert not missing, f"shared_ops: add {missing} to a group of SO_GROUPS in docs/gen_reference.py"
    assert not set(placed) - set(shared_ops.__all__), "SO_GROUPS lists a name that is not public"
    assert len(placed) == len(set(placed)), "SO_GROUPS lists a name twice"


def test_every_reference_page_is_walked():
    """The docstring checks (api_walk) cover every page the generator writes: no page is exempt."""
    from .api_walk import PAGES

    assert {name.removesuffix(".md") for name in GEN.pages()} == set(PAGES)


def test_committed_pages_are_what_the_generator_writes():
    for name, text in GEN.pages().items():
        assert (DOCS / "reference" / name).read_text() == text, f"run python docs/gen_reference.py ({name})"


def test_entries_use_the_names_users_type():
    page = (DOCS / "reference" / "dyngraph.md").read_text()
    assert 'heading: "dg.tensor"' in page and 'heading: "dg.to_dot"' in page
    page = (DOCS / "reference" / "staticgraph.md").read_text()
    assert 'heading: "sg.compile"' in page and 'heading: "sg.gradients"' in page
