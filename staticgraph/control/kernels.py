"""Running control flow: a control node becomes a ``'fused'`` program node whose payload runs
its bodies' compiled functions (each ``sg.compile``d with the caller's ``optimize``, so every
pass works inside a body), and each ``get`` a ``'fused'`` node picking one output.

``lower(program, optimize, backend)`` rewrites a freshly built ``Program`` in place. Bodies
are called through their executables directly (no feed check per step: the shapes were
checked at declaration). A loop copies its initial carries once, so nothing it keeps (the
history of carries for the gradient) aliases a buffer the caller's memory plan reuses.
"""

from __future__ import annotations

import numpy as np

from shared_ops import Spec, backend_of, default_backend, generation

from ..passes import selected, stack
from . import inline
from .backward import Backward, _rows
from .declare import GET, KINDS
from .grad import ADD_TERMS, GRAD_KINDS, _is_list, residuals
from .terms import _expand, _flat, _has_placed, add_n

_CUT: list = []  # residual nodes the next lowered program takes as inputs (see Compiled)

CONTROL = KINDS + GRAD_KINDS


def _copy(a):
    c = getattr(a, "copy", None)
    return c() if c is not None else a


class Compiled:
    """One body compiled by ``sg.compile``; ``run(arrays)`` calls its executable directly."""

    def __init__(self, outputs, inputs, optimize, backend, what: str, cut=(), empty=False):
        from ..compile import CompiledFunction

        self.what = what
        self.n_outputs = len(outputs)
        self.fn = None
        if outputs or empty:  # ``empty``: a gradient step inlined in its loop even when it gives nothing
            _CUT.append(list(cut))  # taken by the first lower() of this compile: its own program
            try:
                self.fn = CompiledFunction(list(outputs), list(inputs), optimize, backend=backend)
            finally:
                if _CUT and _CUT[-1] == list(cut):
                    _CUT.pop()
        self._exe = {}

    def _exe_for(self, arrays: list):
        if arrays and type(arrays[0]) is np.ndarray:
            exe = self._exe.get("numpycpu")  # NumPy feeds, the common case: one lookup
            if exe is not None and exe._generation == generation():
                return exe
            first = arrays[0]
        else:
            first = next((a for a in arrays if not isinstance(a, list)), None)  # a list: terms of a seed
        b = backend_of(first) if first is not None else default_backend()
        key = b.name + b.device  # "numpycpu" for NumPy
        exe = self._exe.get(key)
        if exe is None or exe._generation != generation():
            exe = self._exe[key] = self.fn.executable(b)
            if exe._generation != generation():
                exe.rebind()
        return exe

    def run(self, arrays: list) -> tuple:
        if self.fn is None:
            return ()
        return self._exe_for(arrays).run(arrays, ())[0]

    def runner(self, arrays: list):
        """The executable's own ``run(feeds, variables) -> (outputs, assigned)`` for
        ``arrays``' backend (the step loops call it directly)."""
        if self.fn is None:
            return lambda feeds, variables: ((), ())
        return self._exe_for(arrays).run

    def report_lines(self) -> list:
        if self.fn is None:
            return [f"{self.what}: no outputs"]
        return [f"{self.what}:"] + ["    " + ln for ln in self.fn.report().splitlines()]


class History:
    """What a forward loop keeps for its gradient: per step the carries it started from and
    the residuals its body computed (``ids``: their node ids in the body)."""

    def __init__(self, ids):
        self.ids = ids
        self.pos = {i: k for k, i in enumerate(ids)}
        self.steps: list = []
        self.xs: tuple = ()  # a scan's xs and their rows (``_rows``), for the gradient loop
        self.rows: list = []

    def __len__(self):
        return len(self.steps)


class Pick:
    """Output ``k`` of a control node's tuple."""

    def __init__(self, k: int):
        self.k = k
        self.label = f"get{k}"

    def kernel(self, xp, t):
        return t[self.k]


class AddTerms:
    """``add_n`` over terms where some inputs are lists of terms (expanded in place); the last
    input is the value differentiated (zeros of its shape when no term arrived). ``keys``: each
    input's sort key; when a list holds terms a control node handed through (``Placed``), the
    terms are sorted by key, so that those land among the value's other terms where dyngraph
    sums them."""

    label = "add_terms"

    def __init__(self, lists: tuple, keys=None):
        self.lists = lists
        self.keys = keys

    def kernel(self, xp, *values):
        first = values[0]
        if len(values) == 2 and type(first) is list and len(first) > 1 and all(type(t) is np.ndarray for t in first):
            return add_n(xp, first)  # one loop's terms of a closure, nothing handed through: the common case
        if self.keys is not None and any(_has_placed(v) for v in values[:-1]):
            keyed: list = []
            for v, key in zip(values[:-1], self.keys):
                _expand(v, tuple(key), keyed)
            keyed.sort(key=lambda kv: kv[0])
            terms = [t for _, t in keyed]
        else:
            terms = _flat(values[:-1])
        if not terms:
            return xp.zeros_like(values[-1])
        # one term: a copy, as the caller's memory plan may reuse the term's buffer after this
        # node, its last reader, while the sum lives on
        return add_n(xp, terms) if len(terms) > 1 else xp.asarray(terms[0], copy=True)


class Loop(Backward):
    """A while_loop or scan, and their gradients: one payload class, kind-specific ``kernel``."""

    def __init__(self, cf, optimize, backend, needed: set):
        self.cf = cf
        self.kind = cf.kind
        self.label = f"{cf.kind} ({len(cf.bodies)} bodies)" if cf.kind in KINDS else cf.kind
        self.keep_history = (len(cf.out_specs) - 1) in needed if cf.kind in ("scan", "while_loop") else False
        self.bodies = {}
        self.res_ids: list = []
        self.layouts: dict = {}  # a gradient body's layout as compiled (the middle steps' may be rewritten)
        self.stacked = None  # passes.stack's rewrite of the middle steps' gradient body
        for name, b in cf.bodies.items():
            if cf.kind == "cond_grad":
                continue
            if cf.kind in GRAD_KINDS:  # b is a Layout: its residuals come in as inputs
                if name == "mid" and selected(optimize)["stack"]:
                    self.stacked = _stack_plan(cf, b)
                    b = self.stacked.layout if self.stacked is not None else b
                res = residuals(b)
                b.res_ids = [r.id for r in res]
                self.layouts[name] = b
                if name == "mid" and self.stacked is not None:
                    stack.resolve_residuals(self.stacked, b.res_ids)
                self.bodies[name] = Compiled(b.outputs, b.inputs, optimize, backend, f"{cf.kind} {name} step", cut=res,
                                             empty=True)
            elif name == "body" and self.keep_history:
                res = {r.id: r for L in b.grad_layouts for r in residuals(L)}
                self.res_ids = sorted(res)
                self.bodies[name] = Compiled(list(b.outputs) + [res[i] for i in self.res_ids], b.inputs, optimize,
                                             backend, f"{cf.kind} {name} (keeping {len(res)} residuals a step)")
            else:
                self.bodies[name] = Compiled(b.outputs, b.inputs, optimize, backend, f"{cf.kind} {name}")
        if cf.kind == "cond_grad":
            for name, (layout, raw) in cf.bodies["layouts"].items():
                self.bodies[name] = Compiled(layout.outputs, layout.inputs, optimize, backend, f"cond_grad {name}")
        self.kernel = getattr(self, "_" + cf.kind)
        self._generated = inline.Generated(self._make_loop)

    def _make_loop(self, *args):
        """The generated step loop of this node (``inline``), for the given body executables."""
        n = self.cf.n
        if self.kind == "scan":
            exe, preallocate = args
            return inline.scan_loop(exe, n["carries"], n["xs"], n["ys"], len(self.cf.bodies["body"].captures),
                                    self.keep_history, preallocate, [s.shape for s in self.cf.out_specs[:n["carries"]]])
        if self.kind == "while_loop":
            cond, body = args
            return inline.while_loop(cond, body, n["vars"], len(self.cf.bodies["cond"].captures),
                                     len(self.cf.bodies["body"].captures), self.keep_history,
                                     [s.shape for s in self.cf.out_specs[:n["vars"]]])
        last_exe, mid_exe, ids = args
        plans, fcarry = self.plans(), self.fcarry()
        pos = {i: k for k, i in enumerate(ids)}
        for p in plans.values():
            p.respos = [pos[i] for i in p.res_ids]
        return inline.grad_loop(last_exe, mid_exe, plans["last"], plans["mid"], n["carries"], n["xs"], n["caps"], fcarry)

    def report_lines(self) -> list:
        out = self.stacked.lines() if self.stacked is not None else []
        for b in self.bodies.values():
            out.extend(b.report_lines())
        return out

    # -- forward ---------------------------------------------------------------------
    def _cond(self, xp, pred, *arrays):
        no = self.cf.n["operands"]
        nt = len(self.cf.bodies["true"].captures)
        ops = list(arrays[:no])
        if bool(pred):
            return tuple(self.bodies["true"].run(ops + list(arrays[no:no + nt])))
        return tuple(self.bodies["false"].run(ops + list(arrays[no + nt:])))

    def _scan(self, xp, *arrays):
        n = self.cf.n
        nc, nx, ny = n["carries"], n["xs"], n["ys"]
        carries = [_copy(a) for a in arrays[:nc]]
        xs = arrays[nc:nc + nx]
        caps = arrays[nc + nx:]
        length = xs[0].shape[0]
        for k, x in enumerate(xs[1:], 1):
            if x.shape[0] != length:
                raise ValueError(f"scan (declared at {self.cf.trace}): xs[0] has {length} steps but xs[{k}] has {x.shape[0]}")
        history = History(self.res_ids) if self.keep_history else None
        ys: tuple = ((),) * ny
        if length:
            rows = [_rows(x, length) for x in xs]
            if history is not None:  # the gradient loop reads the same rows of the same xs
                history.xs, history.rows = xs, rows
            exe = self.bodies["body"]._exe_for(carries + [r[0] for r in rows] + list(caps))
            loop = self._generated.get((exe,), xp.__name__ == "numpy")
            carries, ys = loop(length, carries, rows, caps, history.steps if history is not None else None)
        stacked = []
        for j in range(ny):
            if not length:
                spec = self.cf.out_specs[nc + j]
                if None in spec.shape[1:]:
                    raise ValueError(f"scan (declared at {self.cf.trace}): zero steps, and y{j}'s shape "
                                     f"{spec.shape[1:]} is not known without running a step")
                stacked.append(xp.zeros((0,) + tuple(spec.shape[1:]), dtype=spec.dtype))
            else:
                stacked.append(ys[j] if not isinstance(ys[j], list) else xp.stack(ys[j], axis=0))
        return (*carries, *stacked, history)

    def _while_loop(self, xp, *arrays):
        nv = self.cf.n["vars"]
        nc = len(self.cf.bodies["cond"].captures)
        carries = [_copy(a) for a in arrays[:nv]]
        ccaps, bcaps = arrays[nv:nv + nc], arrays[nv + nc:]
        history = History(self.res_ids) if self.keep_history else None
        cond = self.bodies["cond"]._exe_for(carries + list(ccaps))
        body = self.bodies["body"]._exe_for(carries + list(bcaps))
        carries = self._generated.get((cond, body))(carries, ccaps, bcaps, history.steps if history is not None else None)
        return (*carries, history)

    # -- gradients -------------------------------------------------------------------
def _stack_plan(cf, layout):
    """``passes.stack``'s plan for a loop gradient's middle-step body, or None where the loop's
    closures' terms are merged with other inputs', ordered by key, or hold a nested control
    node's lists."""
    n = cf.n
    if n.get("merge") or n.get("mix") or n.get("keyed"):
        return None
    nf = sum(n["fcarry"])
    if any(_is_list(layout.outputs[s]) for sl in layout.raw_slots[nf:] for s in sl):
        return None
    return stack.plan(layout, nf, n["carries"], n["xs"], _is_list)


def lower(program, optimize, backend) -> None:
    """Turn control, ``get`` and ``add_terms`` nodes of ``program`` into ``'fused'`` nodes.

    When a gradient body is compiled (``Compiled(..., cut=residuals)``), its residuals first
    become inputs, fed from the forward loop, and what computed them is pruned."""
    cut = _CUT.pop() if _CUT else []
    if cut:
        for r in cut:
            n = program[r.id]
            n.op, n.inputs, n.attrs, n.value, n.name = "placeholder", [], {}, None, f"residual{r.id}"
            program.inputs.append(r.id)
        program.remove_dead()
    if not any(n.op in CONTROL or n.op in (GET, ADD_TERMS) for n in program.nodes):
        return
    used: dict[int, set] = {}
    for n in program.nodes:
        if n.op == GET:
            used.setdefault(n.inputs[0], set()).add(n.attrs["index"])
    for n in program.nodes:
        if n.op in CONTROL:
            n.payload = Loop(n.attrs["cf"], optimize, backend, used.get(n.id, set()))
            n.spec = Spec((), "uint8")
        elif n.op == GET:
            n.payload = Pick(n.attrs["index"])
        elif n.op == ADD_TERMS:
            n.payload = AddTerms(n.attrs["lists"], n.attrs.get("keys"))
        else:
            continue
        n.op, n.attrs = "fused", {}


def regions(program) -> list:
    """The fused regions inside the bodies of every control node of ``program`` (nested
    bodies included), so that ``fn.wait_compiled()`` and ``fn.use_tier()`` reach them."""
    out = []
    for n in program.nodes:
        if isinstance(n.payload, Loop):
            for b in n.payload.bodies.values():
                if b.fn is not None:
                    out.extend(b.fn.regions())
    return out


def report_lines(program) -> list:
    """The compiled bodies of every control node of ``program``, for ``fn.report()``."""
    out = []
    for n in program.nodes:
        lines = getattr(n.payload, "report_lines", None)
        if isinstance(n.payload, Loop) and lines is not None:
            out.append(f"%{n.id} = {n.payload.label}, declared at {n.payload.cf.trace}:")
            out.extend("    " + ln for ln in lines())
    return out


__all__ = ["lower", "regions", "report_lines", "Loop", "Pick", "AddTerms", "Compiled"]
