"""Every page in a real browser: headless Chromium (Debian's package) at a 1280 px window.

No code block and no table may be wider than its box, every image must load, every formula
must be rendered by the site's own KaTeX, and every graph picture's labels must be legible at
the width the browser really shows it. Skipped only where Chromium is not installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import once_per_session, screenshots_module

DOCS = Path(__file__).resolve().parents[2] / "docs"
MIN_PX = 10.0
SHOTS = screenshots_module()
pytestmark = pytest.mark.skipif(SHOTS.chromium() is None, reason="Chromium is not installed (apt-get install chromium)")

# The negative control, checked in the same browser run as the site: a line that cannot wrap
# (no break opportunity in CSS's pre-wrap) in a 300 px box, and an image that does not exist.
BAD = "__negative-control/"
BAD_PAGE = ('<html><body><div class="md-content" style="width:300px"><div class="md-typeset">'
            '<pre><code style="display:block; overflow:auto; white-space:pre">' + "x" * 400 + "</code></pre>"
            '<img src="missing.png"></div></div></body></html>')


@pytest.fixture(scope="session")
def checked(built_site, tmp_path_factory):
    """Every page's findings, the negative control's among them, from one browser start, once
    per session (conftest.py): the site is the one test_build built."""
    site, result = built_site
    assert result["returncode"] == 0, result["output"]

    def check(_folder):
        with SHOTS.serve(site, extra={BAD: BAD_PAGE}) as base:
            return SHOTS.check_all(base)

    found = once_per_session(tmp_path_factory, "docs-browser", check)
    assert len(found) == len(SHOTS.pages(site)) + 1 >= 21
    return found


@pytest.fixture(scope="module")
def findings(checked):
    return {page: f for page, f in checked.items() if page != BAD}


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


def test_the_check_catches_an_overflowing_code_block_and_a_missing_image(checked):
    kinds = " ".join(checked[BAD]["problems"])
    assert "code block wider than its box" in kinds and "image did not load" in kinds
