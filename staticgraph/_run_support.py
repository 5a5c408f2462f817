"""What a ``CompiledFunction`` does around its run: flattening the user's nested outputs, reading
its inputs, explaining a failed run and storing the assigned values (``staticgraph.compile``
holds the function itself; ``staticgraph.entry`` recognises feeds that need no check)."""

from __future__ import annotations

from shared_ops import backend_of
from shared_ops.dtypes import FLOATING, INTEGER

from .executable import Executable
from .graph import GraphError, Node
from .lower import needed


def _kind(dtype: str) -> str:
    return "float" if dtype in FLOATING else "int" if dtype in INTEGER else dtype


def _flatten_outputs(outputs):
    """(list of nodes, a function rebuilding the user's nested structure from a list of values)."""
    nodes: list = []

    def walk(o, depth=0):
        if depth > 32:
            raise GraphError("outputs are nested more than 32 levels deep")
        if isinstance(o, Node):
            nodes.append(o)
            k = len(nodes) - 1
            return lambda vals: vals[k]
        if isinstance(o, (list, tuple)):
            parts = [walk(x, depth + 1) for x in o]
            kind = type(o)
            if kind in (list, tuple) and depth == 0 and all(isinstance(x, Node) for x in o):
                return kind  # a flat list of outputs: the values in order (most calls take this path)
            if kind in (list, tuple):
                return lambda vals: kind(p(vals) for p in parts)
            return lambda vals: kind(*(p(vals) for p in parts))  # a namedtuple
        if isinstance(o, dict):
            parts = {key: walk(x, depth + 1) for key, x in o.items()}
            return lambda vals: {key: p(vals) for key, p in parts.items()}
        raise GraphError(f"compile: outputs must be graph nodes (in lists, tuples or dicts), got {type(o).__name__} {o!r}")

    rebuild = walk(outputs)
    return nodes, rebuild


def _fmt(shape) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class RunSupport:
    """The private half of ``CompiledFunction``: its inputs, a failed run's note and the
    assignments' store."""

    def _resolve_inputs(self, inputs, outputs) -> list[Node]:
        if inputs is None:
            return [n for n in needed(outputs) if n.op == "placeholder"]
        if isinstance(inputs, (Node, str)):
            inputs = [inputs]
        out = []
        for x in inputs:
            if isinstance(x, str):
                x = self.graph.get(x)
            if not isinstance(x, Node) or x.op != "placeholder":
                raise GraphError(f"compile: inputs must be placeholders (or their names), got {x!r}")
            if any(x is o for o in out):
                raise GraphError(f"compile: placeholder {x.label} is listed twice in inputs")
            out.append(x)
        return out

    def _current(self, exe) -> list:
        """The variables' values, in the program's order, on ``exe``'s backend (the state moves
        to the backend the feeds are on)."""
        state, backend = self.state, exe.backend
        for vid in self.program.variables:
            v = state[vid]
            if not backend.is_array(v):
                state[vid] = backend.asarray(backend_of(v).to_numpy(v))
        return [state[v] for v in self.program.variables]

    def _annotate(self, exe: Executable, exc: Exception, arrays) -> None:
        nid = exe.failed_node(exc)
        if nid is None:
            return
        node = self.program[nid]
        origin = None
        if node.origin is not None and self.graph is not None and node.origin < len(self.graph.nodes):
            origin = self.graph.nodes[node.origin]
        where = f" (declared at {origin.trace})" if origin is not None and origin.trace else ""
        fed = ", ".join(f"{name}: {tuple(getattr(a, 'shape', ()))}" for (name, _), a in zip(self._specs, arrays))
        exc.add_note(f"staticgraph: raised while running {node.text()}{where}; fed {fed or 'nothing'}. "
                     "No variable was changed by this run.")

    def _store(self, assigned, feeds, current) -> None:
        """Assignments land at the end of the run, in declaration order. A value that is (or
        may view) a feed, a constant or a variable's array is copied: state never aliases
        memory the caller or another variable owns."""
        sources = self._sources
        for (vid, xid), value in zip(self.program.assigns, assigned):
            if (xid in sources or getattr(value, "base", None) is not None
                    or any(value is a for a in feeds) or any(value is a for a in current)):
                c = getattr(value, "copy", None)
                value = c() if c is not None else value
            self.state[vid] = value
