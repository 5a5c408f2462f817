"""How a pass rewrites a ``Program`` in place: redirect the uses of a value, drop what no
root needs, restore or change the order, and check the invariants afterwards. A mixin of
``staticgraph.program.Program``, which holds the node list and the clients index these use."""

from __future__ import annotations

import heapq

from .pass_api import ProgramError

class ProgramEdits:
    """``replace_uses``, ``remove_dead``, ``sort``, ``place_before`` and ``check``."""

    __slots__ = ()

    def replace_uses(self, old: int, new: int) -> int:
        """Make every use of ``old`` (inputs, outputs, assigned values) use ``new``.

        Time: the uses of ``old`` (the clients index), plus the outputs and assignments.

        Args:
            old: the id whose uses move.
            new: the id they read instead (defined before each of them).

        Returns:
            How many nodes, output lists and assignment lists changed.

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> p.replace_uses(2, 0), p.remove_dead()  # exp reads x: the mul and 2.0 are dead
            (1, 2)
            >>> print(p.text())
            %0 = placeholder x : f32[2]
            %3 = exp %0 : f32[2]
            return %3
        """
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
        """Drop the nodes no root depends on (inputs, variables and roots are kept).

        Returns:
            How many nodes were dropped.

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> p.outputs = [2]  # return the product: exp is dead
            >>> p.remove_dead(), len(p)
            (1, 3)
        """
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
        """Restore topological order after edits (stable: keeps the current order where legal).

        Raises:
            ProgramError: the edits made a cycle.

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> p.nodes.reverse()
            >>> p.sort()
            >>> [n.id for n in p.nodes]
            [1, 0, 2, 3]
        """
        pos = {n.id: k for k, n in enumerate(self.nodes)}
        placed: set[int] = set()
        out = []
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
        """Validate the invariants after a pass: every node indexed, every input defined before
        its use, every fused node with a kernel, every input/output/variable/assign a node.

        Raises:
            ProgramError: naming the first broken invariant (a bug in the pass).

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> p.check()
            >>> p.nodes.reverse()
            >>> p.check()
            Traceback (most recent call last):
            ...
            staticgraph.pass_api.ProgramError: %3 (exp) uses %2, which is not defined before it
        """
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
        """Move each node just before another, in one pass over the list (for passes that add
        many nodes; ``add(before=...)`` moves one).

        Args:
            moves: ``{node id: id of the node it goes just before}``.

        Examples:
            >>> with sg.Graph():  # x * 2.0, then exp
            ...     p = sg.compile((sg.placeholder((2,), name="x") * 2.0).exp(), optimize=False).program
            >>> n = p.add("neg", [0], {}, p[0].spec)  # appended after the exp
            >>> p.place_before({n.id: 2})
            >>> [m.id for m in p.nodes]
            [0, 1, 4, 2, 3]
        """
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

