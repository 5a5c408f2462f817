"""Build the site, serve it on 127.0.0.1, and look at every page in headless Chromium.

For each page it checks, in the browser's own layout at a 1280 px window, that no code block
and no table is wider than its box, that every image loaded, and that every formula was
rendered by KaTeX (every tab and every collapsed exercise is opened first, so hidden content
is checked too); and it takes a screenshot of the whole page. Chromium is Debian's package
(``apt-get install chromium``)::

    python docs/screenshots.py                      # screenshots into ./site-screenshots/
    python docs/screenshots.py --out /tmp/shots --no-screenshots   # checks only

The checks run by a script the local server adds to each page it serves (the built site is
not changed); Chromium's ``--dump-dom`` returns the page with the script's findings in it.
``tests/docs/test_browser.py`` runs the same checks.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import html
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 1280

CHECK_JS = r"""
<style>.tabbed-set > .tabbed-content > .tabbed-block { display: block !important; }</style>
<script>
window.addEventListener("load", () => setTimeout(() => {
  document.querySelectorAll("details").forEach(d => d.open = true);
  const problems = [];
  const text = el => el.textContent.trim().slice(0, 60);
  document.querySelectorAll(".md-typeset pre > code").forEach(el => {
    if (el.scrollWidth > el.clientWidth + 1)
      problems.push(`code block wider than its box (${el.scrollWidth} > ${el.clientWidth} px): ${text(el)}`);
  });
  const column = document.querySelector(".md-content").getBoundingClientRect();
  document.querySelectorAll(".md-typeset table").forEach(t => {
    const box = t.closest(".md-typeset__scrollwrap") || t.parentElement;
    if (box.scrollWidth > box.clientWidth + 1 || t.getBoundingClientRect().right > column.right + 1)
      problems.push(`table wider than its box (${box.scrollWidth} > ${box.clientWidth} px): ${text(t)}`);
  });
  const images = [];
  document.querySelectorAll(".md-typeset img").forEach(img => {
    if (!img.complete || img.naturalWidth === 0) problems.push(`image did not load: ${img.getAttribute("src")}`);
    else images.push({src: img.getAttribute("src"), scale: img.getBoundingClientRect().width / img.naturalWidth});
  });
  document.querySelectorAll(".arithmatex").forEach(m => {
    if (!m.querySelector(".katex") || m.querySelector(".katex-error"))
      problems.push(`formula not rendered: ${text(m)}`);
  });
  const out = document.createElement("pre");
  out.id = "layout-check";
  out.style.display = "none";
  const found = {problems, images, height: document.documentElement.scrollHeight, column: column.width};
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
  if (window.parent !== window) window.parent.postMessage(found, "*");
}, 300));
</script>
"""

# One browser start for every page: this page loads them one after another in a 1280 px frame
# and collects what each one's check script posts back.
CHECK_ALL = """<!doctype html><html><body>
<iframe id="frame" style="width: %(width)dpx; height: 1000px; border: 0"></iframe>
<script>
const pages = %(pages)s, found = {};
let i = 0;
const frame = document.getElementById("frame");
window.addEventListener("message", e => {
  found[pages[i]] = e.data;
  i += 1;
  if (i < pages.length) frame.src = pages[i];
  else {
    const out = document.createElement("pre");
    out.id = "layout-check";
    out.textContent = JSON.stringify(found);
    document.body.appendChild(out);
  }
});
frame.src = pages[0];
</script></body></html>"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def build(site: Path, check: bool = True) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` into ``site``; ``check``: raise if it fails."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, check=check, env=env, capture_output=True, text=True, timeout=600)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site; an HTML page asked for with ``?check`` gets the check script
    before ``</body>``. ``extra`` pages (``{"name/": html}``) are served from memory beside it."""

    def log_message(self, *args):  # quiet
        pass

    pages: list = []
    extra: dict = {}

    def send_head(self):
        if self.path.startswith("/__check_all.html"):
            return self._send(CHECK_ALL % {"width": WIDTH, "pages": json.dumps(["/" + p + "?check" for p in self.pages])})
        name = self.path.lstrip("/").split("?")[0]
        if name in self.extra:
            return self._send(self.extra[name].replace("</body>", CHECK_JS + "</body>"))
        if "/workers/" in self.path and "?check" in (self.headers.get("Referer") or ""):
            # the search worker builds the whole site's index on every page load; the checks
            # are about layout, so a checked page goes without it
            self.send_error(404)
            return None
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            path = os.path.join(path, "index.html")
        if not path.endswith(".html") or not os.path.exists(path):
            return super().send_head()
        page = Path(path).read_text()
        if "?check" in self.path:  # the screenshots show the page as readers see it
            page = page.replace("</body>", CHECK_JS + "</body>")
        return self._send(page)

    def _send(self, text: str):
        import io

        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@contextlib.contextmanager
def serve(site: Path, extra: dict | None = None):
    """The site on http://127.0.0.1:PORT/ (a free port), for the duration of the block;
    ``extra``: more pages (``{"name/": html}``), checked with the site's."""
    extra = dict(extra or {})
    handler = type("Handler", (_Handler,), {"pages": pages(site) + sorted(extra), "extra": extra})
    handler = functools.partial(handler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def pages(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site).parent).replace(".", "") + "/" if p.parent != site else ""
                  for p in site.rglob("index.html") if "assets" not in p.parts)


def _browser(args: list[str], timeout: float = 60) -> str:
    cmd = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout


def check_all(base: str) -> dict:
    """What the check script found on every page served (the site's and the extra ones), in
    one browser start: ``{page: {"problems": [...], "images": [{src, scale}], "height": px}}``."""
    dom = _browser([f"--window-size={WIDTH + 40},1100", "--virtual-time-budget=120000", "--dump-dom",
                    base + "__check_all.html"], timeout=600)
    m = re.search(r'<pre id="layout-check"[^>]*>(.*?)</pre>', dom, re.S)
    if m is None:
        raise RuntimeError("the pages' checks did not all report (a page did not load?)")
    return {k.lstrip("/").removesuffix("?check"): v for k, v in json.loads(html.unescape(m.group(1))).items()}


def screenshot(url: str, path: Path, height: int) -> None:
    _browser([f"--window-size={WIDTH},{max(600, min(height, 16000))}", "--virtual-time-budget=8000",
              f"--screenshot={path}", url])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="site-screenshots", help="folder for the PNGs (default ./site-screenshots)")
    ap.add_argument("--no-screenshots", action="store_true", help="run the checks only")
    args = ap.parse_args(argv)
    if chromium() is None:
        print("Chromium is not installed: apt-get install chromium", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build(site)
        with serve(site) as base:
            findings = check_all(base)
            for page in pages(site):
                found = findings[page]
                name = (page.strip("/").replace("/", "-") or "index") + ".png"
                if not args.no_screenshots:
                    screenshot(base + page, out / name, found["height"])
                status = "ok" if not found["problems"] else f"{len(found['problems'])} problem(s)"
                print(f"/{page:<40} {status}")
                for p in found["problems"]:
                    print(f"    {p}")
                failed += bool(found["problems"])
    if not args.no_screenshots:
        print(f"screenshots in {out}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
