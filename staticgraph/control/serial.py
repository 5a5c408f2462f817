"""Control flow in ``sg.save`` files: a control node's ``cf`` attribute as plain JSON.

A body is written once, inline, where it is first met (``{"body": id, "kind", "nodes": [...],
"params", "outputs", "captures", "structure"}``); later references give only ``{"ref": id}``
(a gradient node shares its forward node's body, whose graph also holds the gradient's
nodes). Ids inside a body are the positions of its nodes; captures pair a position in the
enclosing graph with one in the body. The loader checks every kind, count and position, and
rebuilds through the same node loader as the top-level graph: no code is loaded.
"""

from __future__ import annotations

from shared_ops import Spec

from .body import Body, BodyGraph
from .declare import GET, KINDS, ControlFlow, record_feeds
from .grad import ADD_TERMS, GRAD_KINDS, Layout

CONTROL = KINDS + GRAD_KINDS
_LAYOUT_KEYS = {"body", "inputs", "outputs", "raw_slots", "raw_keys", "summed_slots", "n_seeds", "seed_src",
                "seed_counts", "n_fcarry", "raw"}


def is_control(op: str) -> bool:
    return op in CONTROL or op in (GET, ADD_TERMS)


class Encoder:
    """Encodes ``cf`` attributes; ``encode_nodes(graph)`` is the file's node encoder."""

    def __init__(self, encode_nodes):
        self.encode_nodes = encode_nodes
        self.ids: dict[int, int] = {}

    def body(self, b: Body) -> dict:
        if id(b) in self.ids:
            return {"ref": self.ids[id(b)]}
        self.ids[id(b)] = bid = len(self.ids)
        pos = {n.id: k for k, n in enumerate(b.graph.nodes)}
        outer_pos = {n.id: k for k, n in enumerate(b.graph.parent.nodes)}
        return {"body": bid, "kind": b.graph.kind, "nodes": self.encode_nodes(b.graph, {}),
                "params": [pos[p.id] for p in b.params], "outputs": [pos[o.id] for o in b.outputs],
                "captures": [[outer_pos[o.id], pos[ph.id]] for o, ph in b.graph.captures],
                "list_seeds": sorted(pos[i] for i in b.graph.list_seeds),
                "structure": _structure(b.structure)}

    def layout(self, L: Layout, raw=None) -> dict:
        pos = {n.id: k for k, n in enumerate(L.body.graph.nodes)}
        return {"body": self.body(L.body), "inputs": [pos[n.id] for n in L.inputs],
                "outputs": [pos[n.id] for n in L.outputs], "raw_slots": L.raw_slots,
                "raw_keys": [[_key(k) for k in ks] for ks in L.raw_keys],
                "summed_slots": L.summed_slots, "n_seeds": L.n_seeds,
                "seed_src": [list(s) for s in getattr(L, "seed_src", [])],
                "seed_counts": getattr(L, "seed_counts", None), "n_fcarry": getattr(L, "n_fcarry", 0),
                "raw": None if raw is None else [pos[p.id] for p in raw]}

    def attrs(self, n) -> dict:
        if n.op == GET:
            return {"index": n.attrs["index"]}
        if n.op == ADD_TERMS:
            keys = n.attrs.get("keys")
            return {"lists": list(n.attrs["lists"])} if keys is None else \
                {"lists": list(n.attrs["lists"]), "keys": [_key(k) for k in keys]}
        cf: ControlFlow = n.attrs["cf"]
        if cf.kind == "cond_grad":
            bodies = {k: self.layout(L, raw) for k, (L, raw) in cf.bodies["layouts"].items()}
        elif cf.kind in GRAD_KINDS:
            bodies = {k: self.layout(L) for k, L in cf.bodies.items()}
        else:
            bodies = {k: self.body(b) for k, b in cf.bodies.items()}
        return {"cf": {"kind": cf.kind, "bodies": bodies, "out_specs": [[list(s.shape), s.dtype] for s in cf.out_specs],
                       "out_kinds": cf.out_kinds, "n": cf.n, "trace": cf.trace}}


def _key(k) -> list:
    return [_key(x) if isinstance(x, tuple) else int(x) for x in k]


def _unkey(k, dec, where):
    if isinstance(k, list) and len(k) <= 64:
        return tuple(_unkey(x, dec, where) for x in k)
    if isinstance(k, int) and not isinstance(k, bool):
        return k
    dec.fail(f"{where}: a term's order key is a list of integers")


def _structure(s):
    if s is None or isinstance(s, (int, str)):
        return s
    return [_structure(x) for x in s]


class Decoder:
    """Rebuilds control nodes for the loader ``L`` (its ``fail``, ``shape`` and ``nodes``)."""

    def __init__(self, loader):
        self.L = loader
        self.bodies: dict[int, Body] = {}

    def fail(self, msg):
        self.L.fail(msg)

    def _int(self, v, hi, where):
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < hi:
            self.fail(f"{where}: {str(v)[:40]!r} is not a position below {hi}")
        return v

    def body(self, d, parent, parent_built, where) -> Body:
        if not isinstance(d, dict):
            self.fail(f"{where}: a body must be an object")
        if set(d) == {"ref"}:
            if self.bodies.get(d["ref"]) is None:
                self.fail(f"{where}: refers to body {str(d['ref'])[:20]} before it is defined")
            return self.bodies[d["ref"]]
        if set(d) != {"body", "kind", "nodes", "params", "outputs", "captures", "list_seeds", "structure"}:
            self.fail(f"{where}: body keys {sorted(d)[:10]} are not those of a body")
        if d["body"] != len(self.bodies) or d["kind"] not in KINDS:
            self.fail(f"{where}: body id or kind is invalid")
        self.bodies[d["body"]] = None  # ids are given in the order bodies start
        g = BodyGraph(parent, d["kind"])
        if not isinstance(d["captures"], list) or not isinstance(d["nodes"], list):
            self.fail(f"{where}: captures and nodes must be lists")
        captures = {}
        for c in d["captures"]:
            if not isinstance(c, list) or len(c) != 2:
                self.fail(f"{where}: a capture is a pair of positions")
            captures[self._int(c[1], len(d["nodes"]), where)] = parent_built[self._int(c[0], len(parent_built), where)]
        built = self.L.nodes(g, d["nodes"], f"{where} body")
        for inner, outer in captures.items():
            ph = built[inner]
            if ph.op != "placeholder" or ph.spec != outer.spec:
                self.fail(f"{where}: capture {inner} is not a placeholder of its outer node's shape")
            g.captures.append((outer, ph))
            g._captured[id(outer)] = ph
        g.list_seeds = {built[self._int(i, len(built), where)].id for i in _list(d["list_seeds"], self, where)}
        params = [built[self._int(i, len(built), where)] for i in _list(d["params"], self, where)]
        outputs = [built[self._int(i, len(built), where)] for i in _list(d["outputs"], self, where)]
        if any(p.op != "placeholder" for p in params):
            self.fail(f"{where}: a body's params must be placeholders")
        b = Body(g, params, outputs, _from_structure(d["structure"], self, where))
        self.bodies[d["body"]] = b
        return b

    def layout(self, d, parent, parent_built, where):
        if not isinstance(d, dict) or set(d) != _LAYOUT_KEYS:
            self.fail(f"{where}: a gradient layout must have the keys {sorted(_LAYOUT_KEYS)}")
        b = self.body(d["body"], parent, parent_built, where)
        nodes = b.graph.nodes
        L = Layout.__new__(Layout)
        L.body = b
        b.grad_layouts.append(L)
        L.inputs = [nodes[self._int(i, len(nodes), where)] for i in _list(d["inputs"], self, where)]
        L.outputs = [nodes[self._int(i, len(nodes), where)] for i in _list(d["outputs"], self, where)]
        n_out = len(L.outputs)
        L.raw_slots = [[self._int(s, n_out, where) for s in _list(r, self, where)] for r in _list(d["raw_slots"], self, where)]
        L.raw_keys = [[_unkey(k, self, where) for k in _list(ks, self, where)] for ks in _list(d["raw_keys"], self, where)]
        if [len(k) for k in L.raw_keys] != [len(r) for r in L.raw_slots]:
            self.fail(f"{where}: a key is needed for every term")
        L.summed_slots = [None if s is None else self._int(s, n_out, where) for s in _list(d["summed_slots"], self, where)]
        L.n_seeds = self._int(d["n_seeds"], 1 << 20, where)
        L.seed_src = []
        for s in _list(d["seed_src"], self, where):
            if not isinstance(s, list) or len(s) != 3 or s[0] not in ("y", "final", "carry"):
                self.fail(f"{where}: a seed source is [\"y\"|\"final\"|\"carry\", index, index]")
            L.seed_src.append((s[0], self._int(s[1], 1 << 20, where), self._int(s[2], 1 << 20, where)))
        if d["seed_counts"] is not None:
            L.seed_counts = [self._int(c, 1 << 20, where) for c in _list(d["seed_counts"], self, where)]
        L.n_fcarry = self._int(d["n_fcarry"], 1 << 20, where)
        if any(x.op != "placeholder" for x in L.inputs):
            self.fail(f"{where}: a gradient body's inputs must be placeholders")
        raw = None if d["raw"] is None else [nodes[self._int(i, len(nodes), where)] for i in _list(d["raw"], self, where)]
        return L, raw

    def node(self, graph, op, inputs, attrs_doc, spec, name, where):
        """A control, ``get`` or ``add_terms`` node, checked against its description."""
        from ..graph import Node

        trace = f"{self.L.source}:{where}"
        if op == GET:
            index = attrs_doc.get("index")
            if set(attrs_doc) != {"index"} or len(inputs) != 1 or "cf" not in inputs[0].attrs:
                self.fail(f"{where}: a get takes one control node and an index")
            cf = inputs[0].attrs["cf"]
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cf.out_specs) \
                    or index in cf.gets or cf.out_specs[index] != spec:
                self.fail(f"{where}: index {str(index)[:20]} is not a new output of that shape of its control node")
            cf.gets[index] = graph._add(Node(graph, GET, inputs, {"index": index}, spec.shape, spec.dtype,
                                             name=name, trace=trace))
            return cf.gets[index]
        if op == ADD_TERMS:
            lists, keys = attrs_doc.get("lists"), attrs_doc.get("keys")
            if not {"lists"} <= set(attrs_doc) <= {"lists", "keys"} or not isinstance(lists, list) \
                    or len(lists) != len(inputs) - 1 or not all(isinstance(f, bool) for f in lists) or inputs[-1].spec != spec:
                self.fail(f"{where}: add_terms takes a flag per term and the value it differentiates")
            attrs = {"lists": tuple(lists)}
            if keys is not None:
                if not isinstance(keys, list) or len(keys) != len(lists) or not all(_ints(k, 1) for k in keys):
                    self.fail(f"{where}: add_terms keys must be one list of integers per term")
                attrs["keys"] = tuple(tuple(k) for k in keys)
            return graph._add(Node(graph, ADD_TERMS, inputs, attrs, spec.shape, spec.dtype, name=name, trace=trace))
        if set(attrs_doc) != {"cf"} or spec != Spec((), "uint8"):
            self.fail(f"{where}: a control node has one attribute, cf, and no value of its own")
        cf = self.cf(attrs_doc["cf"], graph, list(graph.nodes), where)
        if cf.kind != op:
            self.fail(f"{where}: the node is a {op} but its description a {cf.kind}")
        record_feeds(cf, inputs)
        return graph._add(Node(graph, op, inputs, {"cf": cf}, (), "uint8", name=name, trace=trace))

    def cf(self, doc, graph, built, where) -> ControlFlow:
        if not isinstance(doc, dict) or set(doc) != {"kind", "bodies", "out_specs", "out_kinds", "n", "trace"}:
            self.fail(f"{where}: the cf attribute is not a control-flow description")
        kind = doc["kind"]
        if kind not in CONTROL or not isinstance(doc["bodies"], dict) or not isinstance(doc["n"], dict):
            self.fail(f"{where}: unknown control-flow kind {str(kind)[:40]!r}")
        if kind == "cond_grad":
            bodies = {"layouts": {k: self.layout(v, graph, built, where) for k, v in doc["bodies"].items()}}
        elif kind in GRAD_KINDS:
            bodies = {k: self.layout(v, graph, built, where)[0] for k, v in doc["bodies"].items()}
        else:
            bodies = {k: self.body(v, graph, built, where) for k, v in doc["bodies"].items()}
        specs = []
        for s in _list(doc["out_specs"], self, where):
            if not isinstance(s, list) or len(s) != 2:
                self.fail(f"{where}: an output spec is [shape, dtype]")
            specs.append(Spec(self.L.shape(s[0], where), str(s[1])))
        kinds = _list(doc["out_kinds"], self, where)
        if len(kinds) != len(specs) or any(k not in ("array", "terms", "history") for k in kinds):
            self.fail(f"{where}: out_kinds must give array/terms/history for each output")
        for key, v in doc["n"].items():
            ok = isinstance(v, int) and not isinstance(v, bool) or _ints(v, 3)
            if not ok:
                self.fail(f"{where}: count {str(key)[:40]!r} must be an integer or (nested) lists of them")
        return ControlFlow(kind, bodies, specs, list(kinds), dict(doc["n"]), trace=str(doc["trace"])[:512])


def _ints(v, depth: int) -> bool:
    """A list of integers (or bools), or, ``depth`` > 1, of such lists."""
    if not isinstance(v, list) or len(v) > 1 << 20:
        return False
    return all(isinstance(x, int) or (depth > 1 and _ints(x, depth - 1)) for x in v)


def _list(v, dec, where):
    if not isinstance(v, list) or len(v) > 1 << 20:
        dec.fail(f"{where}: expected a list")
    return v


def _from_structure(s, dec, where):
    if s is None or s == "none" or (isinstance(s, int) and not isinstance(s, bool)):
        return s
    if isinstance(s, list) and len(s) <= 64:
        return tuple(_from_structure(x, dec, where) for x in s)
    dec.fail(f"{where}: invalid body structure")


__all__ = ["Encoder", "Decoder", "is_control"]
