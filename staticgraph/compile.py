"""``sg.compile``: prune, optimise (the pass pipeline), lower, and run many times.

A ``CompiledFunction`` owns the variable state it reads and writes (a ``Session`` passes its
own). One run: check every feed (a bad one raises ``FeedError`` before anything runs), read
the variables, run the executable, and only then store the assigned values: a run that fails
changes no state, and every fetched value sees the variables as they were at its start.
"""

from __future__ import annotations

import operator
import time
from typing import Any

import numpy as np

from shared_ops import GraphCompareError, backend_of, common_backend, default_backend, generation, get_backend

from . import entry, memory, passes
from ._run_support import RunSupport, _flatten_outputs, _fmt, _kind
from ._tiers import TierSupport
from .control.kernels import lower as lower_control, report_lines as control_report
from .executable import Executable
from .graph import GraphError, Node
from .lower import build_program
from .program import PassContext


class FeedError(GraphCompareError, ValueError):
    """A feed that does not fit its placeholder (missing, extra, wrong shape or dtype kind)."""


class _EntryCall(property):
    """``CompiledFunction.__call__``: read on an instance (``fn(x)``: Python looks ``__call__`` up
    on the class and honours descriptors), the instance's entry, through ``property``'s C getter,
    so no Python frame stands between the caller and the entry (0.2 us of a 4.6 us W1 call,
    ``benchmarks/bench_entry.py``); read on the class (``inspect.signature``,
    ``CompiledFunction.__call__(fn, x)``), a method ``(self, *args, **kwargs)``."""

    def __call__(self, fn, *args, **kwargs):
        return fn._entry(*args, **kwargs)


class CompiledFunction(RunSupport, TierSupport):
    """The callable ``sg.compile`` returns: ``fn(*arrays)`` or ``fn(feed_dict)``.

    A 0-d output comes back as a NumPy scalar of its dtype (as TF1's ``Session.run`` and
    NumPy's reductions give it) at every ``optimize`` level and on every tier; every other
    output as an array.

    Args:
        outputs: a node, or a list, tuple or dict of nodes (the results come in that form).
        inputs: the placeholders (nodes or names) in call order; default every one needed.
        optimize: ``True``, ``False``, a dict of passes to switch, or a list of pass names.
        state: variable node id -> array, shared with a ``Session``; default the graph's.
        backend: where it runs (``"numpy"``, ``"cupy"``); default where the feeds are.

    Examples:
        >>> with sg.Graph(): x = sg.placeholder((2,), name="x")
        >>> fn = sg.CompiledFunction(x * 2.0, [x], optimize=False)
        >>> fn(np.array([1.0, 2.0], np.float32))
        array([2., 4.], dtype=float32)
    """

    def __init__(self, outputs, inputs=None, optimize: Any = True, *, state: dict | None = None,
                 backend=None):
        nodes, self._rebuild = _flatten_outputs(outputs)
        for o in nodes:
            if not isinstance(o, Node):
                raise GraphError(f"compile: every output must be a graph node, got {type(o).__name__} {o!r}")
        graphs = {id(o.graph) for o in nodes}
        if len(graphs) > 1:
            raise GraphError("compile: the outputs belong to different graphs")
        self.graph = nodes[0].graph if nodes else None
        self.outputs = nodes
        self.structure = outputs
        self.inputs = self._resolve_inputs(inputs, nodes)
        self.optimize = optimize
        t0 = time.perf_counter()
        self.program = build_program(nodes, self.inputs)
        lower_control(self.program, optimize, backend)  # control flow: bodies compiled as their own functions
        self._report = [f"prune: graph {len(self.graph.nodes) if self.graph else 0} nodes -> {len(self.program)} nodes "
                        f"needed by the outputs ({(time.perf_counter() - t0) * 1e3:.2f} ms)"]
        self.pass_results = []
        self.ctx = PassContext(backend=None if backend is None else get_backend(backend).name,
                               switches=passes.selected(optimize),
                               options=optimize if isinstance(optimize, dict) else {})
        if optimize is not False:
            self.pass_results = passes.run_pipeline(self.program, optimize, self.ctx)
            for r in self.pass_results:
                self._report.append(r.line())
                self._report.extend(f"    {d}" for d in r.details)
        self.whole_step, self._whole_step_reason = self._whole_step(optimize)
        self.plan = memory.plan(self.program, self.ctx)
        self._report.extend(self.plan.lines)
        self._backend = get_backend(backend) if backend is not None else None
        self._executables: dict[str, Executable] = {}
        # state: variable node id -> array; shared with a Session when it made us
        if state is None and self.graph is not None:
            state = self.graph.state  # the functions of one graph share its variables
        self.state = state if state is not None else {}
        self._var_nodes = {n.id: n for n in self.program.nodes if n.op == "variable"}
        for vid, n in self._var_nodes.items():
            self.state.setdefault(vid, n.value)
        self._specs = [(self.program[i].name, self.program[i].spec) for i in self.program.inputs]
        # fast path of the feed check: exact NumPy arrays of the declared dtype and fixed dims
        self._fast = [(np.dtype(spec.dtype), len(spec.shape), tuple((k, d) for k, d in enumerate(spec.shape) if d is not None))
                      for _, spec in self._specs]
        self._plain = entry.plain_checker(self._fast)
        self._zero_d = {k for k, i in enumerate(self.program.outputs) if not self.program[i].shape}
        self._sources = {n.id for n in self.program.nodes if n.is_source}
        self._numpy_exe: Executable | None = None
        self.calls = 0
        # lower now for the expected backend, so compile() pays for code generation and the
        # first call does not (feeds on another backend get their own executable then)
        t0 = time.perf_counter()
        exe = self.executable()
        if exe.backend.name == "numpy":
            self._numpy_exe = exe
        self._report.append(f"lower: {len(exe)} instructions, straight-line code generated "
                            f"({(time.perf_counter() - t0) * 1e3:.2f} ms)")
        self._entry = entry.make(self)

    # -- inputs --------------------------------------------------------------------
    def _feeds_from(self, args, kwargs) -> list:
        names = [n.name for n in self.inputs]
        if len(args) == 1 and isinstance(args[0], dict) and not kwargs:
            feed = {}
            for k, v in args[0].items():
                key = k.name if isinstance(k, Node) else k
                if isinstance(k, Node) and not any(k is i for i in self.inputs):
                    raise FeedError(f"fed node {k.label} is not an input of this function (inputs: {', '.join(names)})")
                if key not in names:
                    raise FeedError(f"fed name {key!r} is not an input of this function (inputs: {', '.join(names) or 'none'})")
                feed[key] = v
            missing = [n for n in names if n not in feed]
            if missing:
                raise FeedError(f"placeholder {missing[0]!r} was not fed (this function takes {', '.join(names)})")
            return [feed[n] for n in names]
        if kwargs:
            return self._feeds_from(({**{n: a for n, a in zip(names, args)}, **kwargs},), {})
        if len(args) != len(names):
            raise FeedError(f"this function takes {len(names)} input(s) ({', '.join(names) or 'none'}), got {len(args)}")
        return list(args)

    def check_feeds(self, arrays: list) -> list:
        """Check the feeds against the placeholders (shape, dtype kind, backend).

        Args:
            arrays: one array per input, in call order.

        Returns:
            The arrays to run on, cast to their placeholder's dtype within its kind.

        Raises:
            FeedError: a feed is not an array, has the wrong shape or kind; it names the placeholder.

        Examples:
            >>> with sg.Graph(): x = sg.placeholder((2,), name="x")
            >>> fn = sg.compile(x + 1.0, optimize=False)
            >>> fn.check_feeds([np.array([1.0, 2.0])])[0].dtype
            dtype('float32')
        """
        out = []
        for (name, spec), a in zip(self._specs, arrays):
            shape = getattr(a, "shape", None)
            dt = getattr(a, "dtype", None)
            if shape is None or dt is None or isinstance(a, (list, tuple)):
                raise FeedError(f"placeholder {name!r}: expected an array of shape {_fmt(spec.shape)} and dtype "
                                f"{spec.dtype}, got {type(a).__name__}; wrap it with numpy.asarray(..., dtype={spec.dtype!r})")
            try:
                backend_of(a)
            except GraphCompareError:
                raise FeedError(f"placeholder {name!r}: {type(a).__name__} is not an array of a supported backend; "
                                "pass a NumPy or CuPy array") from None
            shape = tuple(shape)
            if len(shape) != len(spec.shape) or any(d is not None and d != s for d, s in zip(spec.shape, shape)):
                raise FeedError(f"placeholder {name!r} has shape {_fmt(spec.shape)} but was fed shape {_fmt(shape)}")
            got = np.dtype(getattr(dt, "name", str(dt)).split(".")[-1]).name if not isinstance(dt, np.dtype) else dt.name
            if got != spec.dtype:
                if _kind(got) != _kind(spec.dtype):
                    raise FeedError(f"placeholder {name!r} is {spec.dtype} but was fed {got} (a different kind); "
                                    f"convert with .astype({spec.dtype!r})")
                a = a.astype(spec.dtype)
            out.append(a)
        return out

    def _executable(self, arrays) -> Executable:
        if self._backend is not None:
            backend = self._backend
        elif arrays:
            try:
                backend = common_backend(arrays, "feeds")
            except GraphCompareError as exc:
                names = ", ".join(repr(n) for n, _ in self._specs)
                raise FeedError(f"the feeds ({names}) are on different backends or devices: "
                                f"{str(exc).splitlines()[0]}") from None
        else:
            backend = default_backend()
        exe = self._executables.get(backend.name + backend.device)
        if exe is None:
            exe = self._executables[backend.name + backend.device] = Executable(self.program, backend, self.plan,
                                                                                self.whole_step)
        elif exe._generation != generation():
            exe.rebind()
        if backend.name == "numpy" and self._backend in (None, backend):
            self._numpy_exe = exe
        return exe

    # -- running -------------------------------------------------------------------
    # ``fn(...)`` runs the entry (``staticgraph.entry``), straight-line code for this function's
    # common call, which hands anything else to ``_call``.
    __call__ = _EntryCall(operator.attrgetter("_entry"), doc="Run: ``fn(*arrays)`` or ``fn(feed_dict)``.")

    def _call(self, args: tuple, kwargs: dict):
        """The full path of a call: feeds by name, feeds to check or cast, any backend."""
        if kwargs or (len(args) == 1 and type(args[0]) is dict) or len(args) != len(self._fast):
            args = self._feeds_from(args, kwargs)
        exe = self._numpy_exe
        if exe is not None and self._plain(*args) and exe._generation == generation():
            arrays = args  # feeds by name that need no check, or the entry went stale
        else:
            arrays = self.check_feeds(list(args))
            exe = self._executable(arrays)
        if exe is self._numpy_exe and entry.stale(self):
            self._entry = entry.make(self)  # a tier switch or a generation moved: the next call is fast
        current = self._current(exe) if self.program.variables else ()
        try:
            outs, assigned = exe.run(arrays, current)
        except Exception as exc:  # a kernel failed: say which node, where it was declared
            self._annotate(exe, exc, arrays)
            raise
        self.calls += 1
        if assigned:
            self._store(assigned, arrays, current)
        # a 0-d output is a NumPy scalar, as NumPy's own reductions give (``[()]``; CuPy and
        # array-api-strict, which have no scalar type, keep a 0-d array)
        return self._rebuild([o[()] if k in self._zero_d else o for k, o in enumerate(outs)])

    # -- inspection ----------------------------------------------------------------
    def text(self) -> str:
        """The compiled program, a node a line.

        Returns:
            The program's text (``%id = op inputs : dtype[shape]``), as optimised.

        Examples:
            >>> with sg.Graph(): x = sg.placeholder((2,), name="x")
            >>> print(sg.compile(x * 2.0, optimize=False).text())
            %0 = placeholder x : f32[2]
            %1 = constant 2. : f32[]
            %2 = mul %0 %1 : f32[2]
            return %2
        """
        return self.program.text()

    def report(self) -> str:
        """What compiling did: pruning, each pass, the memory plan, lowering, the tiers, the program.

        Returns:
            The report, a line per step (timings included).

        Examples:
            >>> with sg.Graph(): x = sg.placeholder((2,), name="x")
            >>> print(sg.compile(x * 2.0, optimize=False).report())
            prune: graph 3 nodes -> 3 nodes needed by the outputs (... ms)
            ...
        """
        lines = list(self._report)
        nodes = {id(n.payload): n.id for n in self.program.nodes if n.op == "fused"}
        regions = [k for k in self.regions() if id(k) in nodes]  # a body's regions: in its own report
        if self.whole_step is not None:
            lines.append("tiers:")
            lines.append(f"    {self.whole_step.tier_line()}")
        elif regions:
            lines.append("tiers:")
            lines.extend(f"    %{nodes[id(k)]} {k.tier_line()}" for k in regions)
        lines.extend(control_report(self.program))
        lines.append(f"program ({len(self.program)} nodes):")
        lines.extend("    " + ln for ln in self.program.text().splitlines())
        return "\n".join(lines)

    def executable(self, backend=None) -> Executable:
        """The lowered program for one backend (built on first use, then kept).

        Args:
            backend: ``"numpy"``, ``"cupy"`` (or a device); default the function's backend.

        Returns:
            The ``Executable``: its ``instructions`` are the inspectable IR.

        Examples:
            >>> with sg.Graph(): x = sg.placeholder((2,), name="x")
            >>> sg.compile(x * 2.0, optimize=False).executable().backend.name
            'numpy'
        """
        b = get_backend(backend) if backend is not None else (self._backend or default_backend())
        key = b.name + b.device
        if key not in self._executables:
            self._executables[key] = Executable(self.program, b, self.plan, self.whole_step)
        return self._executables[key]

    @property
    def instructions(self) -> list:
        """The flat instruction list of the default backend's executable (the inspectable IR)."""
        return self.executable().instructions

    @property
    def variables(self) -> dict:
        """``{name: current value}`` of the variables this function reads or writes."""
        return {n.name: self.state[vid] for vid, n in self._var_nodes.items()}

    def __repr__(self) -> str:
        return f"<sg.CompiledFunction {len(self.inputs)} inputs -> {len(self.outputs)} outputs, {len(self.program)} nodes>"


def compile(outputs, inputs=None, optimize: Any = True, *, backend=None, block: bool = False) -> CompiledFunction:
    """Compile ``outputs`` (a node, or a list/tuple/dict of nodes) into a callable.

    ``inputs``: the placeholders (nodes or names) in the order ``fn(*arrays)`` takes them;
    default: every placeholder the outputs need, in declaration order. ``optimize``: ``True``
    (every pass), ``False`` (nothing but pruning), a dict ``{"cse": False, ...}`` or a list of
    pass names. Assign nodes among the outputs update the function's variables.

    Never waits for machine code: fused regions run at once on their NumPy tier while numba
    builds their loops in the background (the same results, bit for bit). A small program
    runs in whole-step mode (``staticgraph.wholestep``): numba builds the whole step as one
    function, and the same arithmetic runs on NumPy meanwhile. ``block=True`` returns only
    once every region (or the step) runs on its best tier (as ``fn.wait_compiled()``).

    Parameters:
        outputs: a node, or a list, tuple or dict of nodes (the results come in that form).
        inputs: the placeholders (nodes or names), in the order the function takes them.
        optimize: ``True``, ``False``, a dict of passes to switch, or a list of pass names.
        backend: ``"numpy"``, ``"cupy"`` (or a device), where the function runs.
        block: wait until every fused region runs on its best tier.

    Returns:
        A ``CompiledFunction``: call it as ``fn(*arrays)`` or ``fn({placeholder: array})``;
        ``fn.text()`` prints its program, ``fn.report()`` what each pass did.

    Raises:
        GraphError: an output needs a placeholder that is not among ``inputs``.
        PassOptionError: an unknown pass name in ``optimize``.

    Examples:
        >>> with sg.Graph():
        ...     x = sg.placeholder((2,), name="x")
        ...     y = (x * 2.0).sum()
        >>> fn = sg.compile(y, inputs=[x])
        >>> float(fn(np.array([1.0, 2.0], np.float32)))
        6.0
    """
    fn = CompiledFunction(outputs, inputs, optimize, backend=backend)
    if block:
        fn.wait_compiled()
    return fn


__all__ = ["CompiledFunction", "FeedError", "compile"]
