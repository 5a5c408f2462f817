"""``sg.save`` / ``sg.load``: a graph as versioned JSON that loads no code.

Format ``graphcompare.staticgraph`` version 2 (control flow: ``staticgraph.control.serial``)::

    {"format": "graphcompare.staticgraph", "version": 1,
     "nodes": [{"id": 0, "op": "placeholder", "inputs": [], "attrs": {}, "shape": [null, 3],
                "dtype": "float32", "name": "x", "value": null}, ...],
     "function": null | {"inputs": [ids], "outputs": [ids], "structure": "single|list|tuple",
                         "optimize": true|false|{"pass name": true|false, ...}}}

Node ids are their positions; an input always refers to an earlier node. Constants and
variables carry ``value``: ``{"dtype", "shape", "base64"}`` (little-endian bytes, C order); a
variable's value is its current one. Attributes are JSON scalars and lists (lists become
tuples).

``load`` trusts nothing: every op name must be registered (or a source / ``assign``), every
attribute is checked by the op's ``bind_attrs`` and must be a plain JSON value, every shape
and dtype is checked (sizes bounded), every edge must point back, names must be identifiers,
and the op's ``infer`` is re-run and must give the stored shape and dtype. No ``eval``, no
pickle, no import by name. Anything else raises ``LoadError`` saying what was wrong where.
"""

from __future__ import annotations

import base64
import json
import os

import numpy as np

from shared_ops import GraphCompareError

from .graph import Graph, Node
from .loader import (  # noqa: F401  (the format's limits stay importable from here)
    FORMAT, MAX_DIM, MAX_ELEMENTS, MAX_FILE_BYTES, MAX_NODES, MAX_RANK, VERSION, LoadError, _Loader,
)


# --------------------------------------------------------------------------- save


def _encode_value(arr) -> dict:
    arr = np.array(arr, order="C", copy=True)  # ascontiguousarray would make 0-d arrays 1-d
    data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return {"dtype": arr.dtype.name, "shape": list(arr.shape), "base64": base64.b64encode(data).decode("ascii")}


def _encode_attr(v):
    if isinstance(v, tuple):
        return [_encode_attr(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def _to_numpy(x):
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np.asarray(x)
    get = getattr(x, "get", None)  # CuPy
    return np.asarray(get() if callable(get) else x)


def dumps(obj) -> str:
    """The JSON text ``save`` writes."""
    from .compile import CompiledFunction
    from .function import Function

    fn = None
    if isinstance(obj, Function):
        if not obj._cache:
            raise GraphCompareError("save: this sg.function was never called, so it has no graph yet; call it once first")
        fn = list(obj._cache.values())[-1][0]
    elif isinstance(obj, CompiledFunction):
        fn = obj
    if fn is not None:
        graph, state = fn.graph, fn.state
    elif isinstance(obj, Graph):
        graph, state = obj, obj.state
    else:
        raise GraphCompareError(f"save: expected an sg.Graph, a compiled function or an sg.function, got {type(obj).__name__}")
    index = {n.id: k for k, n in enumerate(graph.nodes)}
    nodes = _encode_nodes(graph, state, None)
    doc = {"format": FORMAT, "version": VERSION, "nodes": nodes, "function": None}
    if fn is not None:
        s = fn.structure
        kind = "single" if isinstance(s, Node) else "list" if type(s) is list else "tuple"
        if not isinstance(s, Node) and not (type(s) in (list, tuple) and all(isinstance(o, Node) for o in s)):
            raise GraphCompareError("save: only a compiled function returning a node or a flat list/tuple of nodes "
                                    "can be saved; save its graph instead (sg.save(fn.graph, path))")
        doc["function"] = {"inputs": [index[x.id] for x in fn.inputs], "outputs": [index[o.id] for o in fn.outputs],
                           "structure": kind, "optimize": _optimize_doc(fn.optimize)}
    return json.dumps(doc, separators=(",", ":"))


def _optimize_doc(optimize):
    """The ``optimize=`` a function was compiled with, as JSON: a bool, or every pass's switch
    (``simplify``'s may be a dict of its rule switches)."""
    if isinstance(optimize, bool) or optimize is None:
        return bool(optimize)
    from .passes import MODES, selected

    on = selected(optimize)
    if isinstance(optimize, dict):
        if isinstance(optimize.get("simplify"), dict):
            on["simplify"] = {str(k): bool(v) for k, v in optimize["simplify"].items()}
        on.update({k: bool(optimize[k]) for k in MODES if k in optimize})
    return on


def _encode_nodes(graph: Graph, state: dict, enc) -> list:
    """The ``nodes`` list of a graph (a control-flow body's too, through ``enc``)."""
    from .control.serial import Encoder, is_control

    enc = enc or Encoder(lambda g, st: _encode_nodes(g, st, enc))
    index = {n.id: k for k, n in enumerate(graph.nodes)}
    nodes = []
    for k, n in enumerate(graph.nodes):
        value = _encode_value(n.value) if n.op == "constant" else \
            _encode_value(_to_numpy(state.get(n.id, n.value))) if n.op == "variable" else None
        attrs = enc.attrs(n) if is_control(n.op) else {a: _encode_attr(v) for a, v in n.attrs.items()}
        nodes.append({"id": k, "op": n.op, "inputs": [index[i.id] for i in n.inputs], "attrs": attrs,
                      "shape": list(n._shape), "dtype": n.dtype, "name": n.name, "value": value})
    return nodes


def save(obj, path) -> None:
    """Write a graph, a compiled function or an ``sg.function`` (its latest trace) to ``path``.

    Parameters:
        obj: an ``sg.Graph``, a ``CompiledFunction`` or an ``sg.function`` that has run.
        path: the file to write (JSON; ``sg.load`` reads it back).

    Returns:
        None.

    Examples:
        >>> import json, os, tempfile
        >>> with sg.Graph() as g:
        ...     x = sg.placeholder((2,), name="x")
        ...     y = x * 3.0
        >>> path = os.path.join(tempfile.mkdtemp(), "g.json")
        >>> sg.save(g, path)
        >>> isinstance(json.load(open(path)), dict)
        True
    """
    text = dumps(obj)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# --------------------------------------------------------------------------- load


def load(path):
    """Read a file ``save`` wrote: an ``sg.Graph``, or a ``CompiledFunction`` if a function was
    saved (its graph is ``fn.graph``). Raises ``LoadError`` for anything invalid.

    The format is JSON and loading runs no code: every op is looked up in the registry and
    every field is validated.

    Parameters:
        path: the file's path.

    Returns:
        An ``sg.Graph``, or a ``CompiledFunction`` when a compiled function was saved.

    Raises:
        LoadError: the file is missing, too large, not valid JSON, or describes an invalid
            graph (an unknown op, a bad shape, an input that does not exist).

    Examples:
        >>> import os, tempfile
        >>> with sg.Graph():
        ...     x = sg.placeholder((2,), name="x")
        ...     fn = sg.compile(x * 3.0, inputs=[x])
        >>> path = os.path.join(tempfile.mkdtemp(), "triple.json")
        >>> sg.save(fn, path)
        >>> sg.load(path)(np.array([1.0, 2.0], np.float32))
        array([3., 6.], dtype=float32)
    """
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise LoadError(f"cannot read {path!r}: {exc.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise LoadError(f"{path!r} is {size} bytes, more than the {MAX_FILE_BYTES} this loader accepts")
    with open(path, "rb") as f:
        raw = f.read()
    return loads(raw, source=str(path))


def loads(raw, source: str = "<string>"):
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start}); is it a staticgraph file?") from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise LoadError(f"{source}: JSON nested too deeply") from None
    except ValueError as exc:
        raise LoadError(f"{source}: not valid JSON ({exc}); the file may be truncated") from None
    try:
        return _Loader(source).build(doc)
    except LoadError:
        raise
    except (GraphCompareError, ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError,
            AttributeError, MemoryError) as exc:  # a check we did not foresee: still the documented error
        raise LoadError(f"{source}: invalid content ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None


__all__ = ["save", "load", "dumps", "loads", "LoadError", "FORMAT", "VERSION"]
