"""The walk over the API reference's entries, and what a complete docstring has.

The walk follows ``docs/gen_reference.py``: each ``::: path`` entry of every reference page
(dyngraph, staticgraph, the shared surface, shared_ops and graphcompare) (and each dg/sg entry written from a live object), a
module's public members, a class and the public methods mkdocstrings shows for it: those it
defines itself, or with the entry's ``inherited_members`` those of its project bases too, less
what the entry's ``filters`` hide.

A function needs, in Google style:

- ``Args:`` (or ``Parameters:``) when it takes a parameter other than ``self``/``cls``;
- ``Returns:`` (or ``Yields:``) when its own body returns a value;
- ``Raises:`` naming every exception class its own body raises (``raise KeyError(...)``);
- ``Examples:`` with a ``>>>`` line; test_docstring_examples.py runs them. (The singular
  ``Example:`` is not enough: griffe renders it as a note, whose ``>>>`` lines become nested
  quotes, not code.)

A class needs ``Args:`` for its constructor's parameters and an example; an exception class
only its summary (it is raised by the library, not built). Properties read as attributes and
need only their summary.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

from .docs_scripts import load

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ("dyngraph", "staticgraph", "surface", "shared_ops", "graphcompare")
# raised by abstract methods and iterator protocol, never for a caller to handle
_SKIP_RAISES = {"NotImplementedError", "StopIteration"}


def _gen():
    return load("gen_reference.py")


def _resolve(path: str):
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for p in parts[cut:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(path)


def _shown(name: str, filters: list) -> bool:
    """mkdocstrings' ``filters``: a name is shown unless a ``!pattern`` matches it."""
    return not any(re.search(f[1:], name) for f in filters if f.startswith("!")) and all(
        re.search(f, name) for f in filters if not f.startswith("!"))


def _own_members(klass, filters, inherited=False):
    bases = [k for k in klass.__mro__ if k.__module__.split(".")[0] in ("shared_ops", "dyngraph", "staticgraph")]
    members = {}
    for k in reversed(bases if inherited else [klass]):
        members.update(vars(k))
    for attr, member in members.items():
        if not _shown(attr, filters):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(member):
            yield attr, member


def _module_members(module):
    names = getattr(module, "__all__", None)
    for name in names if names is not None else sorted(vars(module)):
        obj = getattr(module, name)
        if name.startswith("_") or inspect.ismodule(obj):
            continue
        if getattr(obj, "__module__", None) != module.__name__ and names is None:
            continue  # imported, documented where it is defined
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj


def entries():
    """(name, object) for everything the reference pages document, as they document it."""
    gen = _gen()
    seen: set = set()
    found = []

    def add(name, obj, filters=("!^_",), inherited=False):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        found.append((name, obj))
        if inspect.isclass(obj):
            for attr, member in _own_members(obj, filters, inherited):
                add(f"{name}.{attr}", member)

    for page, text in gen.pages().items():
        if page.removesuffix(".md") not in PAGES:
            continue
        for path, options in re.findall(r"^::: (\S+)\n((?:    .*\n)*)", text, flags=re.M):
            obj = _resolve(path)
            listed = re.search(r"filters: (\[.*\])", options)
            filters = ast.literal_eval(listed.group(1)) if listed else ["!^_"]
            inherited = "inherited_members: true" in options
            if inspect.ismodule(obj):
                for name, member in _module_members(obj):
                    if _shown(name.rsplit(".", 1)[1], filters):
                        add(name, member, filters, inherited)
            else:
                add(path, obj, filters, inherited)
        import dyngraph
        import staticgraph

        from shared_ops.surface import TensorSurface

        alias = {"dyngraph": ("dg", dyngraph), "staticgraph": ("sg", staticgraph),
                 "surface": ("x", TensorSurface)}.get(page.removesuffix(".md"))
        if alias:
            for name in re.findall(r"^### `(?:dg|sg|x)\.(\w+)`", text, flags=re.M):
                obj = getattr(alias[1], name)
                if inspect.isfunction(obj):
                    add(f"{alias[0]}.{name}", obj)
    return found


def _sections(doc: str) -> dict:
    """Google-style section name -> its text."""
    out, current = {}, None
    for line in doc.splitlines():
        head = re.fullmatch(r"(\w+):\s*", line)
        if head and not line.startswith(" "):
            current = head.group(1)
            out[current] = ""
        elif current:
            out[current] += line + "\n"
    return out


class _Body(ast.NodeVisitor):
    """What a function's own body does (nested functions and classes are theirs, not its)."""

    def __init__(self):
        self.returns = self.yields = False
        self.raises: set = set()
        self.depth = 0

    def _nested(self, node):
        if self.depth == 0:
            self.depth += 1
            self.generic_visit(node)
            self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _nested

    def visit_Return(self, node):
        if node.value is not None and not (isinstance(node.value, ast.Constant) and node.value.value is None):
            self.returns = True

    def visit_Yield(self, node):
        self.yields = True

    visit_YieldFrom = visit_Yield

    def visit_Raise(self, node):
        exc = node.exc
        if isinstance(exc, ast.Call):
            exc = exc.func
        if isinstance(exc, ast.Name) and exc.id[:1].isupper():
            self.raises.add(exc.id)
        elif isinstance(exc, ast.Attribute) and exc.attr[:1].isupper():
            self.raises.add(exc.attr)


def _body(func) -> _Body | None:
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None
    tree = ast.parse(source)
    body = _Body()
    body.visit(tree.body[0])
    return body


def missing(obj) -> list[str]:
    """The sections ``obj``'s docstring lacks (empty when complete)."""
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj) and doc == (inspect.getdoc(obj.__mro__[1]) or "") and obj.__doc__ is None:
        doc = ""
    sections = _sections(doc)
    lacks = []
    if not doc.strip():
        return ["a docstring"]
    target = obj
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            target = None  # raised by the library, never built by the user: the summary says when
        else:
            target = obj.__init__ if "__init__" in vars(obj) else None
    try:
        params = [p for p in inspect.signature(target).parameters if p not in ("self", "cls")] if target else []
    except (TypeError, ValueError):
        params = []
    if params and not ({"Args", "Parameters", "Arguments"} & sections.keys()):
        lacks.append(f"Args ({', '.join(params)})")
    if inspect.isfunction(obj):
        body = _body(obj)
        if body and (body.returns or body.yields) and not ({"Returns", "Yields"} & sections.keys()):
            lacks.append("Returns")
        if body:
            raised = body.raises - _SKIP_RAISES
            text = sections.get("Raises", "")
            absent = sorted(e for e in raised if e not in text)
            if absent:
                lacks.append(f"Raises ({', '.join(absent)})")
    if not (inspect.isclass(obj) and issubclass(obj, BaseException)):
        if ">>>" in sections.get("Example", ""):
            lacks.append("Examples (titled 'Example:', which renders as text: title it 'Examples:')")
        elif ">>>" not in sections.get("Examples", ""):
            lacks.append("Example")
    return lacks


