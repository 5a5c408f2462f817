"""The compiler's working IR: a ``Program`` of ``PNode``s, and the pass interface.

``sg.compile`` turns the graph into a ``Program`` (pruned to the fetches, topologically
ordered), lets the pass pipeline rewrite it, and lowers it to an ``Executable``
(``staticgraph.executable``). Interface shared with ``staticgraph.passes`` and
``staticgraph.memory``:

``PNode(id, op, inputs, attrs, spec, value=None, name=None, payload=None, origin=None)``
    ``op`` is a registry op name, a source (``'placeholder'``, ``'variable'``, ``'constant'``,
    whose ``value`` holds the NumPy array) or ``'fused'``. A ``'fused'`` node's ``payload`` gives
    the kernel: ``payload.kernel`` if it has that attribute, else ``payload`` itself; it is
    called as ``kernel(xp, *arrays)`` (no attributes; ``attrs`` is shown in the text only).
    Any other node runs ``get_op(op).kernel(xp, *arrays, **attrs)``. ``origin`` is the id of
    the ``sg.Node`` it came from (``None`` for nodes a pass created).
``Program``
    ``nodes`` (topological), ``inputs`` (placeholder ids, feed order), ``outputs`` (ids; one may
    repeat), ``variables`` (variable ids, the order their values are passed in), ``assigns``
    (``(variable_id, value_id)`` pairs applied at the end of a run, in order). Ids are those
    of the graph's nodes; ``add`` gives new ids above them. Edit with ``add``,
    ``replace_uses`` (also rewrites outputs and assigns), ``remove_dead`` and ``sort``;
    ``check()`` validates the invariants after a pass.
Pass
    ``def run(program: Program, ctx: PassContext) -> PassResult``, rewriting ``program`` in
    place. ``run_pipeline(program, options, ctx)`` in ``staticgraph.passes`` returns the list
    of ``PassResult``; each adds its ``line()`` and ``details`` to ``fn.report()``.
Memory plan
    ``staticgraph.memory.plan(program) -> plan`` (when that module exists; otherwise
    ``simple_plan`` below) with ``slot_of: dict[value id -> slot]``, ``free_after: dict[node
    id -> list of slots]`` (slots whose value is dead once that node ran; never an output's or
    assigned value's slot), ``n_slots``, optional ``lines`` (report text) and optional
    ``kernels: dict[node id -> kernel]`` (same calling convention as the op's kernel, e.g.
    writing into a planned buffer with ``out=``; the executable uses it instead of
    ``op.kernel``, except while ``shared_ops.instrument()`` is on, so every call is still
    counted). Sources get slots too (a constant's slot is only a name). Two values share a
    slot only if their lifetimes do not overlap; a node may reuse the slot of an input that
    dies at it. With ``optimize=False`` the executable uses ``simple_plan`` (no buffers).
Lowering (``staticgraph.executable``)
    one ``Instruction(node, op, kernel, inputs, output, free, attrs)`` per non-source node, in
    program order, turned once into straight-line Python (``Executable.source``).
"""

from __future__ import annotations

import copy as _copy
import time
from dataclasses import dataclass, field
from typing import Any

from shared_ops.registry import REGISTRY, OpDef, Spec

SOURCES = ("placeholder", "variable", "constant")

from ._text import _SHORT, attrs_str, type_str, value_str  # noqa: F401 - export imports them from here


class PNode:
    """One equation of a ``Program``. Setting ``inputs`` keeps the program's clients index
    (who reads each value) up to date; change inputs by assigning a new list, never in place."""

    __slots__ = ("id", "op", "_inputs", "attrs", "spec", "value", "name", "payload", "origin", "_program")

    def __init__(self, id: int, op: str, inputs, attrs: dict, spec: Spec, value: Any = None,
                 name: str | None = None, payload: Any = None, origin: int | None = None):
        self.id, self.op, self._inputs, self.attrs, self.spec = id, op, list(inputs), attrs, spec
        self.value, self.name, self.payload, self.origin, self._program = value, name, payload, origin, None

    @property
    def inputs(self) -> list:
        return self._inputs

    @inputs.setter
    def inputs(self, value) -> None:
        value = list(value)
        if self._program is not None:
            self._program._rewire(self.id, self._inputs, value)
        self._inputs = value

    def __repr__(self) -> str:
        return f"PNode({self.text()})"

    @property
    def shape(self) -> tuple:
        return self.spec.shape

    @property
    def dtype(self) -> str:
        return self.spec.dtype

    @property
    def is_source(self) -> bool:
        return self.op in SOURCES

    @property
    def opdef(self) -> OpDef | None:
        return REGISTRY.get(self.op) if self.op not in SOURCES and self.op != "fused" else None

    def kernel(self):
        """The callable the executable calls, and whether it takes the attributes."""
        if self.op == "fused":
            return getattr(self.payload, "kernel", self.payload), False
        return REGISTRY.get(self.op).kernel, True

    def text(self) -> str:
        lhs = f"%{self.id}"
        t = type_str(self.spec)
        if self.op == "placeholder":
            return f"{lhs} = placeholder {self.name} : {t}"
        if self.op == "variable":
            return f"{lhs} = variable {self.name} : {t}"
        if self.op == "constant":
            return f"{lhs} = constant {value_str(self.value)} : {t}"
        args = " ".join(f"%{i}" for i in self.inputs)
        op = self.op
        if op == "fused":
            label = getattr(self.payload, "label", None)
            op = f"fused[{label}]" if label else "fused"
        return f"{lhs} = {op} {args}{attrs_str(self.attrs)} : {t}"


@dataclass
class PassContext:
    """What a pass (and the memory planner after them) may consult besides the program.

    Args:
        backend: the backend's name, or ``None`` (decided at the first call).
        switches: ``{pass name: on}`` (``"memory"`` included); a pass not named is on.
        options: per-pass options from ``optimize=`` (``{"simplify": {rule: bool}}``).
        naive_before: the program's naive bytes before the pipeline (for the memory report).
        shared: a free-form dict for passes to share facts.

    Examples:
        >>> sg.PassContext(switches={"cse": False}).on("fuse")
        True
    """

    backend: str | None = None
    switches: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # per-pass options from optimize= ({"simplify": {rule: bool}})
    naive_before: int | None = None
    shared: dict = field(default_factory=dict)

    def on(self, name: str) -> bool:
        """Whether pass ``name`` is switched on.

        Args:
            name: a pass name (``"cse"``, ``"fuse"``, ``"memory"``...).

        Returns:
            False only when ``switches`` turns it off.

        Examples:
            >>> sg.PassContext(switches={"cse": False}).on("cse")
            False
        """
        return self.switches.get(name, True)


@dataclass
class PassResult:
    name: str
    nodes_before: int
    nodes_after: int
    details: list = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return f"{self.name}: {self.nodes_before} -> {self.nodes_after} nodes ({self.seconds * 1e3:.2f} ms)"


def timed_pass(name: str, program: "Program", fn, *args) -> PassResult:
    """Run ``fn(program, *args) -> details`` and time it into a ``PassResult``."""
    before = len(program.nodes)
    t0 = time.perf_counter()
    details = fn(program, *args) or []
    return PassResult(name, before, len(program.nodes), list(details), time.perf_counter() - t0)


class ProgramError(RuntimeError):
    """A pass left the program inconsistent (a bug in the pass, not in user code)."""


class Program:
    """A pruned, topologically ordered list of ``PNode``s with its inputs, outputs and state.

    Like PyTensor's ``FunctionGraph`` it keeps a clients index (``{value id: {consumer id:
    uses}}``), so a rewrite redirects the uses of one value in time proportional to those
    uses, never by scanning the program: every pass stays linear in the program's size."""

    def __init__(self):
        self.nodes: list[PNode] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self.variables: list[int] = []
        self.assigns: list[tuple[int, int]] = []
        self._by_id: dict[int, PNode] = {}
        self._clients: dict[int, dict[int, int]] = {}
        self._next = 0

    # -- access --------------------------------------------------------------------
    def node(self, id: int) -> PNode:
        return self._by_id[id]

    def __getitem__(self, id: int) -> PNode:
        return self._by_id[id]

    def __contains__(self, id: int) -> bool:
        return id in self._by_id

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self):
        return iter(self.nodes)

    def clients(self, id: int) -> list[int]:
        """The ids of the nodes that read value ``id`` (each once)."""
        return list(self._clients.get(id, ()))

    def _rewire(self, nid: int, old, new) -> None:
        clients = self._clients
        for i in old:
            c = clients.get(i)
            if c is not None and nid in c:
                c[nid] -= 1
                if not c[nid]:
                    del c[nid]
        for i in new:
            c = clients.setdefault(i, {})
            c[nid] = c.get(nid, 0) + 1

    def _index(self, node: PNode) -> None:
        self._by_id[node.id] = node
        node._program = self
        self._rewire(node.id, (), node.inputs)

    def _unindex(self, node: PNode) -> None:
        self._rewire(node.id, node.inputs, ())
        del self._by_id[node.id]
        node._program = None

    def consumers(self) -> dict[int, list[tuple[int, int]]]:
        """``{id: [(consumer id, input position), ...]}`` in program order."""
        out: dict[int, list] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for pos, i in enumerate(n.inputs):
                out[i].append((n.id, pos))
        return out

    def roots(self) -> set[int]:
        """Ids that must survive any rewrite: outputs, assigned values, variables, inputs."""
        r = set(self.outputs) | set(self.inputs) | set(self.variables)
        for v, x in self.assigns:
            r.add(v)
            r.add(x)
        return r

    # -- editing -------------------------------------------------------------------
    def new_id(self) -> int:
        i = self._next
        self._next += 1
        return i

    def append(self, node: PNode) -> PNode:
        """Append an existing ``PNode`` (its inputs must already be in the program)."""
        if node.id in self._by_id:
            raise ProgramError(f"node id %{node.id} is already in the program")
        self.nodes.append(node)
        self._index(node)
        self._next = max(self._next, node.id + 1)
        return node

    def add(self, op: str, inputs, attrs: dict | None, spec: Spec, *, value=None, name=None,
            payload=None, origin=None, before: int | None = None) -> PNode:
        """A new node with a fresh id, appended, or inserted just before node ``before``
        (keep topological order: insert before the first consumer)."""
        node = PNode(self.new_id(), op, list(inputs), dict(attrs or {}), Spec(tuple(spec.shape), spec.dtype),
                     value=value, name=name, payload=payload, origin=origin)
        if before is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(self.nodes.index(self._by_id[before]), node)  # identity compare, in C
        self._index(node)
        return node

    def replace_uses(self, old: int, new: int) -> int:
        """Make every use of ``old`` (inputs, outputs, assigned values) use ``new``; count them.
        Time: the uses of ``old`` (the clients index), plus the outputs and assignments."""
        count = 0
        for c in list(self._clients.get(old, ())):
            n = self._by_id[c]
            n.inputs = [new if i == old else i for i in n.inputs]
            count += 1
        if old in self.outputs:
            self.outputs = [new if i == old else i for i in self.outputs]
            count += 1
        if any(x == old for _, x in self.assigns):
            self.assigns = [(v, new if x == old else x) for v, x in self.assigns]
            count += 1
        return count

    def remove_dead(self) -> int:
        """Drop nodes no root depends on (inputs, variables and roots are kept); count them."""
        live = self.roots()
        for n in reversed(self.nodes):
            if n.id in live:
                live.update(n.inputs)
        dead = [n for n in self.nodes if n.id not in live]
        if dead:
            self.nodes = [n for n in self.nodes if n.id in live]
            for n in dead:
                self._unindex(n)
        return len(dead)

    def sort(self) -> None:
        """Restore topological order after edits (stable: keeps the current order where legal)."""
        import heapq

        pos = {n.id: k for k, n in enumerate(self.nodes)}
        placed: set[int] = set()
        out: list[PNode] = []
        pending = {n.id: len(set(n.inputs)) for n in self.nodes}
        users = self._clients
        ready = [pos[n.id] for n in self.nodes if pending[n.id] == 0]
        heapq.heapify(ready)
        while ready:
            n = self.nodes[heapq.heappop(ready)]
            out.append(n)
            placed.add(n.id)
            for u in users.get(n.id, ()):
                pending[u] -= 1
                if pending[u] == 0:
                    heapq.heappush(ready, pos[u])
        if len(out) != len(self.nodes):
            raise ProgramError("the program has a cycle")
        self.nodes = out

    def check(self) -> None:
        """Raise ``ProgramError`` unless every edge points back and every id is known."""
        seen: set[int] = set()
        for n in self.nodes:
            if self._by_id.get(n.id) is not n:
                raise ProgramError(f"%{n.id} is not indexed (add nodes with Program.add/append)")
            for i in n.inputs:
                if i not in seen:
                    raise ProgramError(f"%{n.id} ({n.op}) uses %{i}, which is not defined before it")
            if n.op == "fused" and not callable(getattr(n.payload, "kernel", n.payload)):
                raise ProgramError(f"%{n.id} is fused but its payload gives no kernel")
            seen.add(n.id)
        if len(seen) != len(self._by_id):
            raise ProgramError("the index holds nodes that are not in the node list")
        for i in self.outputs + self.inputs + self.variables + [x for a in self.assigns for x in a]:
            if i not in seen:
                raise ProgramError(f"%{i} is an input, output, variable or assign but not a node")

    def place_before(self, moves: dict) -> None:
        """Move each node ``new id -> before id`` just before node ``before`` (one pass over
        the list: for passes that add many nodes; ``add(before=...)`` moves one)."""
        if not moves:
            return
        at: dict[int, list] = {}
        for nid, before in moves.items():
            at.setdefault(before, []).append(self._by_id[nid])
        out = []
        for n in self.nodes:
            if n.id in moves:
                continue
            out.extend(at.get(n.id, ()))
            out.append(n)
        self.nodes = out

    def replace_with(self, other: "Program") -> None:
        """Become ``other`` (a rewritten copy), its nodes and indexes included."""
        self.__dict__.update(other.__dict__)
        for n in self.nodes:
            n._program = self

    def copy(self) -> "Program":
        p = Program()
        for n in self.nodes:
            p.append(PNode(n.id, n.op, list(n.inputs), dict(n.attrs), n.spec, n.value, n.name,
                           _copy.copy(n.payload), n.origin))
        p.inputs, p.outputs, p.variables = list(self.inputs), list(self.outputs), list(self.variables)
        p.assigns = list(self.assigns)
        p._next = self._next
        return p

    # -- text ----------------------------------------------------------------------
    def text(self) -> str:
        """One equation per line, like a jaxpr."""
        lines = [n.text() for n in self.nodes]
        lines.append("return " + ", ".join(f"%{i}" for i in self.outputs))
        for v, x in self.assigns:
            lines.append(f"assign {self._by_id[v].name} <- %{x}")
        return "\n".join(lines)

    __str__ = text

    def __repr__(self) -> str:
        return f"<Program {len(self.nodes)} nodes, {len(self.inputs)} inputs, {len(self.outputs)} outputs>"
