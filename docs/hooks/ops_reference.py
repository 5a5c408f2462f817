"""An mkdocs hook: the reference page of the ops (docs/reference/ops.md), written from the registry.

Each registered op, grouped by the module that declares it: the call a gradient rule makes
(``ops.name(x, *, axis=None)``), its ``doc=`` sentence, its traits, and its gradient rule as
declared, the very code that runs in ``backward()``, under ``create_graph=True`` and in
``sg.gradients``. Written at build time, so the page follows every change to an op with no
committed copy to regenerate.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- ops-reference -->"
_TREES: dict = {}


def _call(op) -> str:
    """``name(x, y, *, axis=None)``: the forward's array parameters, then the attributes."""
    params = list(inspect.signature(op.forward).parameters.values())[1:]  # the first is xp
    arrays = [("*" if p.kind is p.VAR_POSITIONAL else "") + p.name for p in params
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) and p.name not in op.attrs]
    from shared_ops.registry import REQUIRED

    attrs = [k if v is REQUIRED else f"{k}={v!r}" for k, v in op.attrs.items()]
    return f"{op.name}({', '.join(arrays + (['*'] + attrs if attrs else []))})"


def _md(sentence: str) -> str:
    """A ``doc=`` sentence as Markdown: code spans kept, ``[``, ``*``, ``_``, ``<`` outside them
    escaped (``out[i][j]`` is not a link, ``H*W`` no emphasis)."""
    parts = re.split(r"(``.*?``|`[^`]*`)", sentence)
    return "".join(p if i % 2 else re.sub(r"([\\[\]*_<>|])", r"\\\1", p) for i, p in enumerate(parts))


def _traits(op) -> str:
    said = [w for w, on in (("elementwise", op.elementwise), ("linear", op.linear), ("a reduction", op.reduction),
                            ("exact (never rounds)", op.exact), ("commutative", op.commutative)) if on]
    if op.view_of:
        said.append(f"a view of input {', '.join(map(str, op.view_of))}")
    if op.vjp is not None:
        saves = "every input" if op.save_inputs is True else "no input" if not op.save_inputs else \
            "input" + ("s " if len(op.save_inputs) > 1 else " ") + ", ".join(map(str, op.save_inputs))
        said.append(f"saves {saves}{' and its output' if op.save_output else ''} for the gradient")
        if op.nondiff:
            said.append(f"no gradient for input {', '.join(map(str, sorted(op.nondiff)))}")
    return "; ".join(said)


def rule_source(fn) -> str:
    """The source of a gradient rule: the function, or the lambda alone (not the whole
    ``register(...)`` line it sits in)."""
    if fn.__name__ != "<lambda>":
        return textwrap.dedent(inspect.getsource(fn)).rstrip()
    path = inspect.getsourcefile(fn)
    if path not in _TREES:
        text = Path(path).read_text()
        _TREES[path] = (text, ast.parse(text))
    text, tree = _TREES[path]
    code = fn.__code__
    names = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Lambda) and node.lineno == code.co_firstlineno
                and [a.arg for a in (*node.args.args, *node.args.kwonlyargs)] == names):
            source = textwrap.dedent(ast.get_source_segment(text, node, padded=True))
            # a lambda over several lines was inside the register(...) call's parentheses
            return f"vjp = {source}" if "\n" not in source else f"vjp = (\n{textwrap.indent(source, '    ')}\n)"
    raise LookupError(f"the source of the rule {fn!r} was not found")  # a rule made by exec or eval


def generate() -> str:
    """The page's generated part: one section per module of ops, one entry per op."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import shared_ops

    families: dict = {}
    for op in shared_ops.all_ops():
        families.setdefault(op.forward.__module__, []).append(op)
    out = []
    for module, ops in families.items():
        summary = (inspect.getdoc(sys.modules[module]) or "").split("\n\n")[0].replace("\n", " ")
        out += [f"## {module.rsplit('.', 1)[1]}: {', '.join(op.name for op in ops)}", "",
                f"`{module}`: {summary}", ""]
        for op in ops:
            out += [f"### `ops.{op.name}`", "", f"`{_call(op)}`", "", _md(op.doc), ""]
            traits = _traits(op)
            if traits:
                out += [f"*{traits[0].upper() + traits[1:]}.*", ""]
            if op.vjp is None:
                out += ["No gradient: declared non-differentiable.", ""]
            else:
                out += ["Gradient rule:",
                        "", "```python", rule_source(op.vjp), "```", ""]
    return "\n".join(out)


def on_page_markdown(markdown, page, config, files):  # the mkdocs hook
    if page.file.src_uri == "reference/ops.md":
        return markdown.replace(MARKER, generate())
    return markdown
