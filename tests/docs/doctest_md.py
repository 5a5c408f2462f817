"""Run the code blocks of a Markdown page and check the output it shows.

Rules (the same for every page of ``docs/``):

- every fenced ```` ```python ```` block is executed, the blocks of one page in order, in one
  namespace that is fresh for each page, with the working directory a new temporary folder;
- a python block immediately followed (only blank lines between) by a ```` ```text ```` block
  must print exactly that text (trailing whitespace of each line and trailing blank lines are
  ignored); a python block that prints but shows no text block is an error, so nothing a page
  prints goes unseen;
- ``<!-- doctest: output-without-gpu -->`` on the line before a text block: compare only on a
  machine where CuPy cannot use a CUDA device (the block still runs everywhere).

Used by ``tests/docs/test_pages.py``; run as a script to (re)write a page's text blocks from
what its code really prints::

    python tests/docs/doctest_md.py --update docs/tutorial/01-tensors.md
    python tests/docs/doctest_md.py docs/tutorial/01-tensors.md       # check only
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The pages document this checkout: import it, whatever the cwd (the pages run in a temp dir).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)[^\n]*$")
DIRECTIVE = re.compile(r"<!--\s*doctest:\s*(?P<what>[\w-]+)\s*-->")


@dataclass
class Block:
    lang: str
    code: str
    start: int  # 1-based line of the opening fence
    end: int  # 1-based line of the closing fence
    directives: set = field(default_factory=set)
    expect: "Block | None" = None


def parse(text: str) -> list[Block]:
    """Every fenced block of ``text``; a python block's ``expect`` is the text block after it."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m["indent"], m["fence"], m["lang"].lower()
        directives = set()
        j = i - 1
        while j >= 0 and DIRECTIVE.search(lines[j]):
            directives.add(DIRECTIVE.search(lines[j])["what"])
            j -= 1
        body = []
        k = i + 1
        while k < len(lines) and not (lines[k].strip().startswith(fence[0] * len(fence)) and lines[k].strip().strip(fence[0]) == ""):
            line = lines[k]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            k += 1
        if k == len(lines):
            raise ValueError(f"line {i + 1}: code fence {fence} is never closed")
        blocks.append(Block(lang, "\n".join(body) + "\n", i + 1, k + 1, directives))
        i = k + 1
    # pair each python block with the text block right after it
    for a, b in zip(blocks, blocks[1:]):
        if a.lang == "python" and b.lang == "text":
            between = lines[a.end:b.start - 1]
            if all(not s.strip() or DIRECTIVE.search(s) for s in between):
                a.expect = b
    return blocks


def normalise(out: str) -> str:
    return "\n".join(line.rstrip() for line in out.rstrip().split("\n")).rstrip()


def gpu_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@dataclass
class Result:
    block: Block
    output: str
    error: str | None = None
    namespace: dict = field(default_factory=dict)  # the page's variables right after the block


def run_page(path: str | os.PathLike, namespace: dict | None = None) -> list[Result]:
    """Execute the python blocks of one page in order; stops at the first exception.

    ``namespace`` (fresh when not given) holds the page's variables afterwards."""
    path = Path(path).resolve()
    blocks = parse(path.read_text())
    if namespace is None:
        namespace = {}
    namespace.update({"__name__": "__main__", "__file__": str(path)})
    results = []
    old_cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="docs-") as tmp:
        os.chdir(tmp)
        try:
            for block in blocks:
                if block.lang != "python":
                    continue
                buf = io.StringIO()
                try:
                    # padded so tracebacks and "declared at" name the page's own line numbers
                    code = compile("\n" * block.start + block.code, path.name, "exec")
                    with contextlib.redirect_stdout(buf):
                        exec(code, namespace)
                except BaseException as exc:  # noqa: BLE001 - report any failure of a block
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    results.append(Result(block, buf.getvalue(), traceback.format_exc(), dict(namespace)))
                    break
                results.append(Result(block, buf.getvalue(), None, dict(namespace)))
        finally:
            os.chdir(old_cwd)
    return results


def check_page(path) -> list[str]:
    """Problems with one page (empty when every block ran and printed what the page shows)."""
    problems = []
    gpu = None
    name = Path(path).name
    for r in run_page(path):
        where = f"{name}, block at line {r.block.start}"
        if r.error:
            problems.append(f"{where} raised:\n{r.error}")
            continue
        got = normalise(r.output)
        if r.block.expect is None:
            if got:
                problems.append(f"{where} prints output but the page shows no ```text block after it:\n{got}")
            continue
        if "output-without-gpu" in r.block.expect.directives:
            gpu = gpu_available() if gpu is None else gpu
            if gpu:
                continue
        want = normalise(r.block.expect.code)
        if got != want:
            problems.append(f"{where}: output differs from the page\n--- page shows\n{want}\n--- code prints\n{got}")
    return problems


def check_page_isolated(path, timeout: float = 900) -> list[str]:
    """``check_page`` in a fresh interpreter: a page may register ops or change defaults, and
    nothing it does may leak into the rest of the test session (or into the next page)."""
    import subprocess

    proc = subprocess.run([sys.executable, __file__, str(path)], capture_output=True, text=True, timeout=timeout)
    if proc.returncode == 0:
        return []
    return [f"{Path(path).name} (exit code {proc.returncode}):\n{proc.stdout}{proc.stderr}"]


def update_page(path) -> int:
    """Rewrite the text blocks of a page with what its code prints; returns blocks changed."""
    path = Path(path)
    text = path.read_text()
    lines = text.split("\n")
    changed = 0
    edits = []
    for r in run_page(path):
        if r.error:
            print(f"{path}:{r.block.start}: {r.error}", file=sys.stderr)
            break
        if r.block.expect is not None:
            exp = r.block.expect
            indent = FENCE.match(lines[exp.start - 1])["indent"]  # a block inside a tab or an admonition
            new = [indent + ln if ln else ln for ln in normalise(r.output).split("\n")] if normalise(r.output) else []
            if normalise(exp.code) != normalise(r.output):
                edits.append((exp.start, exp.end - 1, new))
                changed += 1
        elif normalise(r.output):
            print(f"{path}:{r.block.start}: prints output but has no text block:\n{r.output}", file=sys.stderr)
    for start, end, new in reversed(edits):  # replace the lines between the fences
        lines[start:end] = new
    path.write_text("\n".join(lines))
    return changed


if __name__ == "__main__":
    import subprocess

    args = sys.argv[1:]
    mode = "--update" if "--update" in args else "--update-once" if "--update-once" in args else "check"
    pages = [a for a in args if not a.startswith("--")]
    status = 0
    for page in pages:
        if mode == "--update-once":
            n = update_page(page)
            print(f"{page}: {n} output block(s) rewritten")
            status = max(status, min(n, 1))
        elif mode == "--update":
            # rewriting an output block moves the lines after it, and outputs may quote line
            # numbers ("declared at page.md:42"): repeat, each time in a fresh interpreter
            # (a page may register ops), until nothing changes
            for _ in range(4):
                if subprocess.run([sys.executable, __file__, "--update-once", page]).returncode == 0:
                    break
        else:
            problems = check_page(page)
            for p in problems:
                print(p, "\n")
            status |= bool(problems)
            print(f"{page}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    sys.exit(status)
