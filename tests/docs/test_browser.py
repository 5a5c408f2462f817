"""Every page in a real browser: headless Chromium (Debian's package) at a 1280 px window.

No code block and no table may be wider than its box, every image must load, every formula
must be rendered by the site's own KaTeX, and every graph picture's labels must be legible at
the width the browser really shows it. Skipped only where Chromium is not installed.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
MIN_PX = 10.0


def _module():
    spec = importlib.util.spec_from_file_location("screenshots", DOCS / "screenshots.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SHOTS = _module()
pytestmark = pytest.mark.skipif(SHOTS.chromium() is None, reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    SHOTS.build(site)
    with SHOTS.serve(site) as base:
        found = SHOTS.check_all(base)
    assert len(found) == len(SHOTS.pages(site)) >= 20
    return found


def test_no_code_block_or_table_overflows_and_every_image_and_formula_renders(findings):
    problems = [f"/{page}: {p}" for page, f in findings.items() for p in f["problems"]]
    assert not problems, "\n".join(problems)


def test_math_is_rendered_on_the_pages_that_have_it(findings):
    # the check reports an unrendered formula as a problem; this says the pages do have some
    site_pages = {p: (DOCS / (p.rstrip("/") + ".md")) for p in findings if p}
    with_math = [p for p, md in site_pages.items() if md.exists() and "$$" in md.read_text()]
    assert {"tutorial/02-graph/", "tutorial/03-backward/", "deeper/tolerance/"} <= set(with_math)


def test_graph_labels_are_legible_as_the_browser_shows_them(findings):
    small = []
    for page, f in findings.items():
        for img in f["images"]:
            name = img["src"].rsplit("/", 1)[-1]
            if "/images/" not in img["src"] or not name.endswith(".svg"):
                continue
            svg = (DOCS / "images" / name).read_text()
            smallest = min(float(s) for s in re.findall(r'font-size="([\d.]+)"', svg)) * 4 / 3 * img["scale"]
            if smallest < MIN_PX:
                small.append(f"/{page} {name}: {smallest:.1f} px")
    assert not small, small


def test_the_check_catches_an_overflowing_code_block(tmp_path):
    """A page with a line that cannot wrap (no break opportunity in CSS's pre-wrap) fails."""
    page = tmp_path / "site" / "bad"
    page.mkdir(parents=True)
    code = '<pre><code style="display:block; overflow:auto; white-space:pre">' + "x" * 400 + "</code></pre>"
    body = f'<div class="md-content" style="width:300px"><div class="md-typeset">{code}<img src="missing.png"></div></div>'
    (page / "index.html").write_text(f"<html><body>{body}</body></html>")
    with SHOTS.serve(tmp_path / "site") as base:
        found = SHOTS.check(base + "bad/")
    kinds = " ".join(found["problems"])
    assert "code block wider than its box" in kinds and "image did not load" in kinds
