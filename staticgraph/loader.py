"""Reading a saved staticgraph file: the format's constants and limits, ``LoadError``, and the
loader that checks every position of a parsed document and builds the graph (used by
``staticgraph.serialize.load``/``loads``; it loads no code: only registered ops)."""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
from typing import Any

import numpy as np

from shared_ops import GraphCompareError, Spec
from shared_ops.dtypes import ALL as DTYPES
from shared_ops.registry import REGISTRY

from .graph import ASSIGN, SOURCE_OPS, Graph, Node

FORMAT = "graphcompare.staticgraph"
VERSION = 2  # 2 adds control flow; version 1 files load unchanged
MAX_FILE_BYTES = 1 << 30
MAX_RANK = 32
MAX_DIM = 1 << 31
MAX_ELEMENTS = 1 << 31
MAX_NODES = 10_000_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]{0,127}$")
_NODE_KEYS = {"id", "op", "inputs", "attrs", "shape", "dtype", "name", "value"}


class LoadError(GraphCompareError, ValueError):
    """A file ``sg.load`` refuses: not this format, a newer version, or invalid content."""


def _plain(v, where: str, depth: int = 0):
    """A JSON attribute value as the hashable Python value (lists -> tuples); rejects the rest."""
    if depth > 8:
        raise LoadError(f"{where}: attribute nested too deeply")
    if v is None or isinstance(v, (bool, str)):
        if isinstance(v, str) and len(v) > 256:
            raise LoadError(f"{where}: attribute string longer than 256 characters")
        return v
    if isinstance(v, int):
        if abs(v) > 1 << 62:
            raise LoadError(f"{where}: attribute integer {v} is out of range")
        return v
    if isinstance(v, float):
        return v
    if isinstance(v, list):
        if len(v) > 64:
            raise LoadError(f"{where}: attribute list longer than 64 entries")
        return tuple(_plain(x, where, depth + 1) for x in v)
    raise LoadError(f"{where}: attribute of type {type(v).__name__} is not allowed (only numbers, strings, null, lists)")


class _Loader:
    def __init__(self, source: str):
        self.source = source

    def fail(self, msg: str):
        raise LoadError(f"{self.source}: {msg}")

    def build(self, doc: Any):
        if not isinstance(doc, dict):
            self.fail("the top level must be a JSON object")
        if doc.get("format") != FORMAT:
            self.fail(f"format is {doc.get('format')!r}, expected {FORMAT!r}; this is not a staticgraph file")
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            self.fail("version must be an integer")
        if version > VERSION:
            self.fail(f"version {version} is newer than this graphcompare reads ({VERSION}); upgrade graphcompare")
        if version < 1:
            self.fail(f"unknown version {version}")
        extra = set(doc) - {"format", "version", "nodes", "function"}
        if extra:
            self.fail(f"unexpected top-level key(s) {sorted(extra)}")
        nodes = doc.get("nodes")
        if not isinstance(nodes, list):
            self.fail("'nodes' must be a list")
        if len(nodes) > MAX_NODES:
            self.fail(f"{len(nodes)} nodes is more than the {MAX_NODES} allowed")
        graph = Graph(os.path.basename(self.source))
        built = self.nodes(graph, nodes)
        fn_doc = doc.get("function")
        if fn_doc is None:
            return graph
        return self.function(graph, fn_doc, built)

    def nodes(self, graph: Graph, entries: list, where: str = "") -> list:
        if not isinstance(entries, list) or len(entries) > MAX_NODES:
            self.fail(f"{where} nodes must be a list of at most {MAX_NODES}")
        built: list[Node] = []
        built.extend(self.node(graph, k, entry, built, where) for k, entry in enumerate(entries))
        return built

    def node(self, graph: Graph, k: int, e: Any, built: list, prefix: str = "") -> Node:
        from .control.serial import Decoder, is_control

        where = f"{prefix} node {k}".strip()
        if not isinstance(e, dict):
            self.fail(f"{where} must be an object")
        if set(e) != _NODE_KEYS:
            self.fail(f"{where} has keys {sorted(e)}, expected {sorted(_NODE_KEYS)}")
        if e["id"] != k or isinstance(e["id"], bool):
            self.fail(f"{where} has id {e['id']!r}; ids must be the node positions 0, 1, 2, ...")
        op = e["op"]
        if not isinstance(op, str) or not (op in SOURCE_OPS or op == ASSIGN or op in REGISTRY or is_control(op)):
            self.fail(f"{where}: unknown op {str(op)[:80]!r} (not in the registry)")
        where = f"{where} ({op})"
        name = e["name"]
        if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
            self.fail(f"{where}: name {str(name)[:80]!r} is not a valid identifier-like name")
        if name is not None and name in graph._names:
            self.fail(f"{where}: name {name!r} is used twice")
        shape = self.shape(e["shape"], where)
        dtype = e["dtype"]
        if dtype not in DTYPES:
            self.fail(f"{where}: unknown dtype {str(dtype)[:40]!r}")
        ins = e["inputs"]
        if not isinstance(ins, list) or len(ins) > 4096:
            self.fail(f"{where}: inputs must be a list")
        for i in ins:
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < k:
                self.fail(f"{where}: input {i!r} does not refer to an earlier node (edges must point back)")
        inputs = tuple(built[i] for i in ins)
        attrs_doc = e["attrs"]
        if not isinstance(attrs_doc, dict):
            self.fail(f"{where}: attrs must be an object")
        if is_control(op):  # checked against its description (control.serial)
            if e["value"] is not None:
                self.fail(f"{where}: only constants and variables carry a value")
            self.decoder = getattr(self, "decoder", None) or Decoder(self)
            return self.decoder.node(graph, op, inputs, attrs_doc, Spec(shape, dtype), name, where)
        attrs = {a: _plain(v, f"{where} attribute {a!r}") for a, v in attrs_doc.items()}
        value = e["value"]
        if op in SOURCE_OPS:
            if inputs or attrs:
                self.fail(f"{where}: a {op} takes no inputs or attributes")
            if op == "placeholder":
                if value is not None:
                    self.fail(f"{where}: a placeholder carries no value")
                arr = None
            else:
                if None in shape:
                    self.fail(f"{where}: a {op} cannot have a free dimension")
                arr = self.value(value, shape, dtype, where)
            if op == "placeholder" and name is None:
                self.fail(f"{where}: a placeholder needs a name")
            return graph._add(Node(graph, op, (), {}, shape, dtype, name=name, trace=f"{self.source}:{where}", value=arr))
        if value is not None:
            self.fail(f"{where}: only constants and variables carry a value")
        if op == ASSIGN:
            if len(inputs) != 2 or inputs[0].op != "variable" or attrs:
                self.fail(f"{where}: an assign takes a variable and a value, and no attributes")
            var, val = inputs
            if var.spec != Spec(shape, dtype) or val.dtype != dtype or len(val._shape) != len(shape):
                self.fail(f"{where}: the assigned value does not match the variable's shape and dtype")
            return graph._add(Node(graph, ASSIGN, inputs, {}, shape, dtype, name=name, trace=f"{self.source}:{where}"))
        opdef = REGISTRY.get(op)
        if opdef.n_inputs is not None and len(inputs) not in (opdef.n_inputs, opdef.n_inputs + 1):
            self.fail(f"{where}: takes {opdef.n_inputs} inputs, the file gives {len(inputs)}")
        try:
            attrs = opdef.bind_attrs(attrs)
        except GraphCompareError as exc:
            self.fail(f"{where}: {str(exc).splitlines()[0]}")
        try:
            spec = opdef.infer(*(x.spec for x in inputs), **attrs)
        except Exception as exc:  # noqa: BLE001 - any failure of the shape rule means a bad file
            self.fail(f"{where}: inputs and attributes are inconsistent ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
        if tuple(spec.shape) != shape or spec.dtype != dtype:
            self.fail(f"{where}: the file says {dtype}{list(shape)} but the op gives {spec.dtype}{list(spec.shape)}")
        return graph._add(Node(graph, op, inputs, attrs, shape, dtype, name=name, trace=f"{self.source}:{where}"))

    def shape(self, s: Any, where: str) -> tuple:
        if not isinstance(s, list) or len(s) > MAX_RANK:
            self.fail(f"{where}: shape must be a list of at most {MAX_RANK} sizes")
        for d in s:
            if d is not None and (not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= MAX_DIM):
                self.fail(f"{where}: shape {str(s)[:80]} has an invalid size {d!r}")
        known = math.prod(d for d in s if d is not None)
        if known > MAX_ELEMENTS:
            self.fail(f"{where}: shape {s} has {known} elements, more than the {MAX_ELEMENTS} allowed")
        return tuple(s)

    def value(self, v: Any, shape: tuple, dtype: str, where: str) -> np.ndarray:
        if not isinstance(v, dict) or set(v) != {"dtype", "shape", "base64"}:
            self.fail(f"{where}: value must be an object with dtype, shape and base64")
        if v["dtype"] != dtype or self.shape(v["shape"], where) != shape:
            self.fail(f"{where}: the value's dtype/shape does not match the node's")
        if not isinstance(v["base64"], str):
            self.fail(f"{where}: value data must be a base64 string")
        try:
            data = base64.b64decode(v["base64"].encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            self.fail(f"{where}: value data is not valid base64")
        itemsize = np.dtype(dtype).itemsize
        n = math.prod(shape)
        if len(data) != n * itemsize:
            self.fail(f"{where}: value has {len(data)} bytes, {dtype}{list(shape)} needs {n * itemsize}")
        arr = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)
        if dtype == "bool" and not np.isin(np.frombuffer(data, dtype=np.uint8), (0, 1)).all():
            self.fail(f"{where}: a bool value holds bytes other than 0 and 1")
        arr.flags.writeable = False
        return arr

    def function(self, graph: Graph, f: Any, built: list):
        from .compile import CompiledFunction

        if not isinstance(f, dict) or set(f) != {"inputs", "outputs", "structure", "optimize"}:
            self.fail("'function' must be an object with inputs, outputs, structure and optimize")
        ids = []
        for key in ("inputs", "outputs"):
            lst = f[key]
            if not isinstance(lst, list) or any(not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(built) for i in lst):
                self.fail(f"function {key} must be a list of node ids")
            ids.append([built[i] for i in lst])
        inputs, outputs = ids
        if any(x.op != "placeholder" for x in inputs) or len(set(map(id, inputs))) != len(inputs):
            self.fail("function inputs must be distinct placeholders")
        if f["structure"] not in ("single", "list", "tuple") or (f["structure"] == "single" and len(outputs) != 1):
            self.fail("function structure must be 'single' (one output), 'list' or 'tuple'")
        optimize = f["optimize"]
        if isinstance(optimize, dict):
            from .passes import ALL, PassOptionError, selected

            plain = all(isinstance(v, bool) or (k == "simplify" and isinstance(v, dict)
                                                and all(isinstance(b, bool) for b in v.values()))
                        for k, v in optimize.items())
            try:
                if not plain:
                    raise PassOptionError("a switch is not true or false")
                selected(optimize)
            except PassOptionError as exc:
                self.fail(f"function optimize must map pass names ({', '.join(ALL)}) to true or false: "
                          f"{str(exc).splitlines()[0]}")
        elif not isinstance(optimize, bool):
            self.fail("function optimize must be true, false or an object of pass switches")
        structure = outputs[0] if f["structure"] == "single" else (outputs if f["structure"] == "list" else tuple(outputs))
        try:
            return CompiledFunction(structure, inputs, optimize)
        except GraphCompareError as exc:
            self.fail(f"the saved function does not compile: {str(exc).splitlines()[0]}")
