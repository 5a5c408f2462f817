"""Lowering a ``Program`` to a flat list of instructions, and running it.

An ``Instruction`` is (kernel, input slots, output slot, slots to free after it): the
inspectable IR of a compiled function. Running it with a Python loop over that list would
spend most of its time on the loop itself (indexing slots, building argument tuples), so the
list is turned once into straight-line Python source: one line per instruction, slots as
local variables, kernels, attributes and constants bound as globals, ``del`` where a slot is
freed; the pick of a multi-output fused region's element (``Project``) is an inline index,
not a call. The run loop then does nothing per instruction beyond calling the kernel.
``Executable.source`` shows the generated code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from shared_ops import bind, generation

from .fusion import FusedKernel, Project
from .liveness import simple_plan
from .program import Program


@dataclass
class Instruction:
    node: int                 # the PNode id it computes
    op: str
    kernel: Callable
    inputs: tuple             # slots
    output: int               # slot
    free: tuple = ()          # slots released after it ran
    attrs: dict = field(default_factory=dict)  # passed as keywords
    args: tuple = ()          # the names the generated code passes (slots, or constants C<id>)

    def text(self) -> str:
        ins = ", ".join(self.args[1:]) if self.args else ", ".join(f"s{i}" for i in self.inputs)
        free = f"   ; free {', '.join(f's{i}' for i in self.free)}" if self.free else ""
        return f"s{self.output} = {self.op}({ins}){free}"


def _copier(xp):
    def _copy(x):
        c = getattr(x, "copy", None)
        return c() if c is not None else xp.asarray(x, copy=True)

    return _copy


def _probe():  # pragma: no cover - never called: bind returns it unchanged while nothing wraps kernels
    return None


class Executable:
    """``run(feeds, variables) -> (outputs, assigned values)`` for one program on one backend."""

    def __init__(self, program: Program, backend, plan=None, whole_step=None):
        self.program = program
        self.backend = backend
        self.plan = plan if plan is not None else simple_plan(program)
        # a whole-step tier (``staticgraph.wholestep``): its NumPy-tier kernels replace the
        # nodes' own, and its compiled function runs the step once built
        self.whole_step = whole_step if backend.name == "numpy" else None
        self._overrides = self.whole_step.overrides if self.whole_step is not None else {}
        self.instructions: list[Instruction] = []
        self._lower()
        self.source = self._generate()
        self._compile()

    # -- lowering ------------------------------------------------------------------
    def _kernel_for(self, n):
        """The node's kernel, through the dispatch point: a registry op's ``op.kernel``; the
        memory plan's kernel writing into a planned buffer, bound under the op's name; a fused
        region, bound as ``"fused"`` (``shared_ops.bind``: itself while nothing is on). The
        element pick of a multi-output region (``Project``) is no kernel and is not bound."""
        kernel, takes_attrs = n.kernel()
        if n.id in self._overrides:
            return bind(n.op, self._overrides[n.id]), False
        planned = getattr(self.plan, "kernels", None) or {}
        if n.id in planned:
            op = n.opdef
            return bind(op.name, planned[n.id], exact=op.exact), takes_attrs
        if n.op == "fused" and isinstance(n.payload, FusedKernel):
            return bind("fused", kernel), takes_attrs
        return kernel, takes_attrs

    def _lower(self) -> None:
        slot_of, free_after = self.plan.slot_of, self.plan.free_after
        for n in self.program.nodes:
            if n.is_source:
                continue
            kernel, takes_attrs = self._kernel_for(n)  # the plan's kernel when it gave one
            self.instructions.append(Instruction(
                n.id, n.op, kernel, tuple(slot_of[i] for i in n.inputs), slot_of[n.id],
                tuple(free_after.get(n.id, ())), dict(n.attrs) if takes_attrs else {}))

    def _generate(self) -> str:
        p, slot_of, free_after = self.program, self.plan.slot_of, self.plan.free_after
        g: dict[str, Any] = {"xp": self.backend.xp, "_copy": _copier(self.backend.xp)}
        self._globals = g
        self._kernel_names: dict[str, int] = {}
        self._line_node: dict[int, int] = {}
        feed_pos = {i: k for k, i in enumerate(p.inputs)}
        var_pos = {i: k for k, i in enumerate(p.variables)}
        holder: dict[int, str] = {}   # slot -> expression naming its current value
        lines = ["def run(F, V):"]
        instr = iter(self.instructions)
        for n in p.nodes:
            s = slot_of[n.id]
            if n.op == "constant":
                name = f"C{n.id}"
                g[name] = self.backend.asarray(n.value)
                holder[s] = name       # constants are read from globals, never copied into a slot
            elif n.op == "placeholder":
                lines.append(f"    s{s} = F[{feed_pos[n.id]}]")
                holder[s] = f"s{s}"
            elif n.op == "variable":
                lines.append(f"    s{s} = V[{var_pos[n.id]}]")
                holder[s] = f"s{s}"
            elif n.op == "fused" and isinstance(n.payload, Project):
                next(instr)  # the pick is an index into the region's tuple, written inline: no call
                lines.append(f"    s{s} = {holder[slot_of[n.inputs[0]]]}[{n.payload.k}]")
                self._line_node[len(lines)] = n.id
                holder[s] = f"s{s}"
            else:
                ins = next(instr)
                kname = f"K{n.id}"
                g[kname] = ins.kernel
                self._kernel_names[kname] = n.id
                args = ["xp"] + [holder[i] for i in ins.inputs]
                ins.args = tuple(args)
                for k, v in ins.attrs.items():
                    aname = f"A{n.id}_{k}"
                    g[aname] = v
                    args.append(f"{k}={aname}")
                lines.append(f"    s{s} = {kname}({', '.join(args)})")
                self._line_node[len(lines)] = n.id  # 1-based line of the generated source
                holder[s] = f"s{s}"
            dead = [f"s{i}" for i in free_after.get(n.id, ()) if holder.get(i, "").startswith("s")]
            for i in free_after.get(n.id, ()):
                holder.pop(i, None)
            if dead:
                lines.append(f"    del {', '.join(dead)}")
        by_id = {n.id: n for n in p.nodes}

        def read(i: int) -> str:
            e = holder[slot_of[i]]
            return f"_copy({e})" if by_id[i].is_source else e  # never hand out state or a constant

        outs = "".join(read(i) + ", " for i in p.outputs)
        assigned = "".join(holder[slot_of[x]] + ", " for _, x in p.assigns)
        lines.append(f"    return ({outs}), ({assigned})")
        return "\n".join(lines) + "\n"

    def _compile(self) -> None:
        self._filename = f"<staticgraph executable {id(self):x}>"
        code = compile(self.source, self._filename, "exec")
        exec(code, self._globals)  # our own generated source: names and slots only, no user text
        self.python_run = self.run = self._globals["run"]
        self._generation = generation()
        if self.whole_step is not None:
            self.whole_step.exes.append(self)
            self.choose_run()

    def choose_run(self) -> None:
        """``run`` is the whole-step function once built, unless something wraps the kernels
        (instrumentation, perturbation: they must see each kernel) or its tier is held back."""
        fast = None
        if self.whole_step is not None and bind("fused", _probe) is _probe:
            fast = self.whole_step.runner(self)
        self.run = fast or self.python_run

    def failed_node(self, exc: BaseException) -> int | None:
        """The id of the node whose kernel raised ``exc`` inside ``run`` (None if not there)."""
        tb = exc.__traceback__
        found = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._filename:
                found = self._line_node.get(tb.tb_lineno)
            tb = tb.tb_next
        return found

    def rebind(self) -> None:
        """Re-read every kernel from the registry (after ``shared_ops.instrument`` swapped them)."""
        nodes = {n.id: n for n in self.program.nodes}
        for name, nid in self._kernel_names.items():
            self._globals[name] = self._kernel_for(nodes[nid])[0]
        self._generation = generation()
        self.choose_run()

    def run(self, feeds, variables):  # replaced by the generated function  # pragma: no cover
        raise NotImplementedError

    def text(self) -> str:
        return "\n".join(i.text() for i in self.instructions)

    def __len__(self) -> int:
        return len(self.instructions)


__all__ = ["Instruction", "Executable"]
