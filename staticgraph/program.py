"""The compiler's working IR: a ``Program`` of ``PNode``s, and the pass interface.

``sg.compile`` turns the graph into a ``Program`` (pruned to the fetches, topologically
ordered), lets the pass pipeline rewrite it, and lowers it to an ``Executable``
(``staticgraph.executable``). Interface shared with ``staticgraph.passes`` and
``staticgraph.memory``:

``PNode`` (``staticgraph.pnode``)
    one equation: ``id = op(inputs, attrs) : spec``. A ``'fused'`` node's ``payload`` gives
    the kernel, called as ``kernel(xp, *arrays)``; any other node runs
    ``get_op(op).kernel(xp, *arrays, **attrs)``.
``Program``
    ``nodes`` (topological), ``inputs`` (placeholder ids, feed order), ``outputs`` (ids; one may
    repeat), ``variables`` (variable ids, the order their values are passed in), ``assigns``
    (``(variable_id, value_id)`` pairs applied at the end of a run, in order). Ids are those
    of the graph's nodes; ``add`` gives new ids above them. Edit with ``add``, and the
    rewrites of ``staticgraph.program_edit`` (``replace_uses``, which also rewrites outputs
    and assigns, ``remove_dead``, ``sort``); ``check()`` validates the invariants after a pass.
Pass (``staticgraph.pass_api``)
    ``def run(program: Program, ctx: PassContext) -> PassResult``, rewriting ``program`` in
    place.
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

from shared_ops.registry import Spec

from ._text import _SHORT, attrs_str, type_str, value_str  # noqa: F401 - export imports them from here
from .pass_api import PassContext, PassResult, ProgramError, timed_pass  # noqa: F401 - the passes import them from here
from .pnode import SOURCES, PNode  # noqa: F401 - imported from here
from .program_edit import ProgramEdits


class Program(ProgramEdits):
    """A pruned, topologically ordered list of ``PNode``s with its inputs, outputs and state.

    Like PyTensor's ``FunctionGraph`` it keeps a clients index (``{value id: {consumer id:
    uses}}``), so a rewrite redirects the uses of one value in time proportional to those
    uses, never by scanning the program: every pass stays linear in the program's size.
    ``sg.compile`` builds one from the graph (``fn.program``); a pass rewrites it in place.

    Attributes:
        nodes: the ``PNode``s, in topological order.
        inputs: the placeholders' ids, in feed order.
        outputs: the fetched ids (one may repeat).
        variables: the variables' ids, in the order their values are passed in.
        assigns: ``(variable id, value id)`` pairs applied at the end of a run, in order.

    Examples:
        >>> with sg.Graph():  # x * 2.0, then exp
        ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
        >>> p, p.inputs, p.outputs
        (<Program 4 nodes, 1 inputs, 1 outputs>, [0], [3])
    """

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
        """The node with id ``id`` (also ``program[id]``).

        Args:
            id: a value's id.

        Returns:
            Its ``PNode``.

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> p.node(2), p[2] is p.node(2)
            (PNode(%2 = mul %0 %1 : f32[2]), True)
        """
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
        """The ids of the nodes that read value ``id`` (each once), from the clients index.

        Args:
            id: a value's id.

        Returns:
            The readers' ids (not the outputs or assignments that use it).

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> p.clients(0), p.clients(3)
            ([2], [])
        """
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
        """Every value's uses by position, in program order (built by one scan).

        Returns:
            ``{id: [(consumer id, input position), ...]}`` for every node.

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> p.consumers()
            {0: [(2, 0)], 1: [(2, 1)], 2: [(3, 0)], 3: []}
        """
        out: dict[int, list] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for pos, i in enumerate(n.inputs):
                out[i].append((n.id, pos))
        return out

    def roots(self) -> set[int]:
        """The ids that must survive any rewrite: outputs, assigned values, variables, inputs.

        Returns:
            A set of ids.

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> sorted(p.roots())
            [0, 3]
        """
        r = set(self.outputs) | set(self.inputs) | set(self.variables)
        for v, x in self.assigns:
            r.add(v)
            r.add(x)
        return r

    # -- adding ----------------------------------------------------------------------
    def new_id(self) -> int:
        """A fresh id, above every id the program has held.

        Returns:
            The id (each call gives the next one).

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> p.new_id(), p.new_id()
            (4, 5)
        """
        i = self._next
        self._next += 1
        return i

    def append(self, node: PNode) -> PNode:
        """Append an existing ``PNode`` (its inputs must already be in the program).

        Args:
            node: the node, with an id the program does not hold.

        Returns:
            ``node``, now indexed.

        Raises:
            ProgramError: the program already has a node with that id.

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> p.append(sg.PNode(p.new_id(), "neg", [3], {}, p[3].spec))
            PNode(%4 = neg %3 : f32[2])
        """
        if node.id in self._by_id:
            raise ProgramError(f"node id %{node.id} is already in the program")
        self.nodes.append(node)
        self._index(node)
        self._next = max(self._next, node.id + 1)
        return node

    def add(self, op: str, inputs, attrs: dict | None, spec: Spec, *, value=None, name=None,
            payload=None, origin=None, before: int | None = None) -> PNode:
        """A new node with a fresh id, appended, or inserted just before node ``before``
        (keep topological order: insert before the first consumer).

        Args:
            op: the op's name (or a source, or ``"fused"``).
            inputs: the input ids.
            attrs: the op's attributes, or ``None``.
            spec: the output's shape and dtype.
            value: a source's array.
            name: a placeholder's or variable's name.
            payload: a fused node's kernel.
            origin: the ``sg.Node`` id it stands for, if any.
            before: the id of the node to insert it before (default: at the end).

        Returns:
            The new ``PNode``.

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> p.add("neg", [0], {}, p[0].spec, before=2)
            PNode(%4 = neg %0 : f32[2])
            >>> [n.id for n in p.nodes]
            [0, 1, 4, 2, 3]
        """
        node = PNode(self.new_id(), op, list(inputs), dict(attrs or {}), Spec(tuple(spec.shape), spec.dtype),
                     value=value, name=name, payload=payload, origin=origin)
        if before is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(self.nodes.index(self._by_id[before]), node)  # identity compare, in C
        self._index(node)
        return node

    def replace_with(self, other: "Program") -> None:
        """Become ``other`` (a rewritten copy), its nodes and indexes included.

        Args:
            other: the program to take everything from (not to be used afterwards).

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> q = p.copy()
            >>> q.outputs = [2]
            >>> _ = q.remove_dead()
            >>> p.replace_with(q)
            >>> p
            <Program 3 nodes, 1 inputs, 1 outputs>
        """
        self.__dict__.update(other.__dict__)
        for n in self.nodes:
            n._program = self

    def copy(self) -> "Program":
        """An independent copy: new ``PNode``s (attributes copied, payloads shallow-copied).

        Returns:
            The copy, with the same ids, inputs, outputs, variables and assignments.

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> q = p.copy()
            >>> q.text() == p.text(), q[2] is p[2]
            (True, False)
        """
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
        """One equation per line, like a jaxpr, then the outputs and the assignments.

        Returns:
            The program's text (``str(program)`` is the same).

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> print(p.text())
            %0 = placeholder x : f32[2]
            %1 = constant 2. : f32[]
            %2 = mul %0 %1 : f32[2]
            %3 = exp %2 : f32[2]
            return %3
        """
        lines = [n.text() for n in self.nodes]
        lines.append("return " + ", ".join(f"%{i}" for i in self.outputs))
        for v, x in self.assigns:
            lines.append(f"assign {self._by_id[v].name} <- %{x}")
        return "\n".join(lines)

    __str__ = text

    def __repr__(self) -> str:
        return f"<Program {len(self.nodes)} nodes, {len(self.inputs)} inputs, {len(self.outputs)} outputs>"
