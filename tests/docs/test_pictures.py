"""The graph pictures are drawn from the framework's own export, committed current, and legible.

The committed ``.dot`` text must equal what ``docs/gen_pictures.py`` exports now (no Graphviz
needed); the committed ``.svg`` must carry every label of that text (where Graphviz is
installed, a fresh rendering must carry the same texts); and every label must be at least
``MIN_PX`` pixels tall when the picture is shown at the page's width.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from .docs_scripts import load

DOCS = Path(__file__).resolve().parents[2] / "docs"
# the width of Material's content column at a 1280 px window with both sidebars (the browser
# test measures it); a picture wider than this is scaled down to it
PAGE_PX = 680
MIN_PX = 10.0


def _gen():
    return load("gen_pictures.py")


GEN = _gen()
NAMES = sorted(GEN.PICTURES)


def _svg_texts(svg: str) -> list[str]:
    return [" ".join(html.unescape(t).split()) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def _dot_labels(dot: str) -> list[str]:
    lines = []
    for label in re.findall(r'label="((?:[^"\\]|\\.)*)"', dot):
        lines += [" ".join(part.split()) for part in label.replace('\\"', '"').split("\\n") if part.strip()]
    return lines


@pytest.mark.parametrize("name", NAMES)
def test_committed_dot_is_what_the_export_gives_now(name):
    committed = (DOCS / "images" / f"{name}.dot").read_text()
    assert GEN.PICTURES[name]() == committed, f"docs/images/{name}.dot is stale: run python docs/gen_pictures.py"


@pytest.mark.parametrize("name", NAMES)
def test_committed_svg_shows_every_label_of_the_dot(name):
    dot = (DOCS / "images" / f"{name}.dot").read_text()
    texts = {t.strip() for t in _svg_texts((DOCS / "images" / f"{name}.svg").read_text())}
    missing = [line for line in _dot_labels(dot) if line not in texts]
    assert not missing, f"docs/images/{name}.svg lacks {missing}: run python docs/gen_pictures.py"


@pytest.mark.parametrize("name", NAMES)
def test_every_label_is_legible_at_page_width(name):
    svg = (DOCS / "images" / f"{name}.svg").read_text()
    width_pt = float(re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', svg).group(1))
    scale = min(1.0, PAGE_PX / (width_pt * 4 / 3))  # 1 pt = 4/3 CSS px
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', svg)]
    assert sizes, name
    smallest = min(sizes) * 4 / 3 * scale
    assert smallest >= MIN_PX, f"{name}.svg: its smallest label is {smallest:.1f} px tall at {PAGE_PX} px page width"


def test_the_legibility_check_fails_on_a_wide_picture():
    """A graph 40 boxes wide cannot be read at page width, and the check says so."""
    wide = 'digraph g { node [fontsize=14]; ' + " ".join(f"n{i};" for i in range(40)) + " }"
    if not GEN.renderers():
        pytest.skip("no Graphviz renderer (apt-get install graphviz, or pip install -e '.[test]')")
    svg = GEN.render(wide)
    width_pt = float(re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', svg).group(1))
    assert 14 * 4 / 3 * min(1.0, PAGE_PX / (width_pt * 4 / 3)) < MIN_PX


@pytest.mark.skipif(not GEN.renderers(), reason="no Graphviz renderer (apt-get install graphviz, or pip install -e '.[test]')")
@pytest.mark.parametrize("renderer", GEN.renderers() or ["none"])
@pytest.mark.parametrize("name", NAMES)
def test_fresh_rendering_matches_the_committed_svg(name, renderer):
    """Every installed renderer (Graphviz's dot, the graphviz-pure wheel) draws the same texts."""
    dot = (DOCS / "images" / f"{name}.dot").read_text()
    fresh = GEN.render(dot, renderer)
    assert _svg_texts(fresh) == _svg_texts((DOCS / "images" / f"{name}.svg").read_text())


def test_every_picture_is_shown_by_a_page():
    pages = "\n".join(p.read_text() for p in DOCS.rglob("*.md"))
    unused = [n for n in NAMES if f"images/{n}.svg" not in pages]
    assert not unused, unused


def test_chain_rule_picture_shows_names_values_weights_and_gradients():
    fwd, bwd, after = (GEN.PICTURES[n]() for n in ("ch2-forward", "ch2-backward", "ch2-after"))
    assert 'label="d\\nvalue 33\\nAddBackward0"' in fwd and "->" in fwd
    assert 'label=" 66"' in bwd  # dL/dd = 2d on the edge from L to d
    assert 'label="a\\nvalue 3\\ngrad 726"' in after


def test_the_life_sequence_follows_dg_stats():
    frames = [GEN.PICTURES[f"ch3-life-{i}"]() for i in (1, 2, 3, 4)]
    assert "1 node alive, 8 saved bytes" in frames[0]
    assert "6 nodes alive, 40 saved bytes" in frames[1]
    assert "6 nodes alive, 0 saved bytes" in frames[2]  # backward() freed the saved values
    assert "0 nodes alive, 0 saved bytes" in frames[3] and "a.grad = 726" in frames[3]
