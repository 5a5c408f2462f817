"""An mkdocs hook: the error pointers that outputs show become links.

Every graphcompare error ends with ``(see docs/errors.md#section)``, a path that makes sense in
a terminal. In a page's output block the build turns it into a link to that section of the
site's errors page (the text stays what the code printed, so the page runner's comparison is
unaffected: it reads the Markdown, not the HTML).
"""

from __future__ import annotations

import re

POINTER = re.compile(r"\(see docs/errors\.md#([\w-]+)\)")


def link(html: str, page_url: str) -> str:
    """``html`` with each pointer linked, relative to a page at ``page_url`` (``tutorial/03-backward/``)."""
    up = "../" * page_url.strip("/").count("/") + ("../" if page_url.strip("/") else "")
    return POINTER.sub(lambda m: f'(see <a href="{up}errors/#{m.group(1)}">docs/errors.md#{m.group(1)}</a>)', html)


def on_page_content(html, page, config, files):  # the mkdocs hook
    return link(html, page.url)
