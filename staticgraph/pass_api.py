"""What a compiler pass sees and reports: ``PassContext`` (the switches and options it may
consult), ``PassResult`` (one line of ``fn.report()``), ``timed_pass`` and ``ProgramError``.

A pass is ``def run(program: Program, ctx: PassContext) -> PassResult``, rewriting ``program``
in place; ``run_pipeline(program, options, ctx)`` in ``staticgraph.passes`` returns the list of
``PassResult``, each adding its ``line()`` and ``details`` to the compile report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


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
    """What one pass did: its name, the program's size before and after, what it changed.

    Args:
        name: the pass's name.
        nodes_before: the program's node count before it ran.
        nodes_after: the count after it.
        details: lines for the compile report (``"%4 = mul %1 %2 -> %3"``...).
        seconds: how long it ran.

    Examples:
        >>> sg.PassResult("cse", 12, 9, ["%7 -> %4"], 0.0004).line()
        'cse: 12 -> 9 nodes (0.40 ms)'
    """

    name: str
    nodes_before: int
    nodes_after: int
    details: list = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        """The pass's line in ``fn.report()``.

        Returns:
            ``"name: before -> after nodes (time ms)"``.

        Examples:
            >>> sg.PassResult("fold", 5, 4).line()
            'fold: 5 -> 4 nodes (0.00 ms)'
        """
        return f"{self.name}: {self.nodes_before} -> {self.nodes_after} nodes ({self.seconds * 1e3:.2f} ms)"


def timed_pass(name: str, program, fn, *args) -> PassResult:
    """Run ``fn(program, *args) -> details`` and time it into a ``PassResult``."""
    before = len(program.nodes)
    t0 = time.perf_counter()
    details = fn(program, *args) or []
    return PassResult(name, before, len(program.nodes), list(details), time.perf_counter() - t0)


class ProgramError(RuntimeError):
    """A pass left the program inconsistent (a bug in the pass, not in user code)."""


__all__ = ["PassContext", "PassResult", "timed_pass", "ProgramError"]
