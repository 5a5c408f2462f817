"""Step loops as generated code: a loop's bodies inlined into one Python ``for``.

A body's executable is straight-line source (``Executable.source``): ``def run(F, V):``, one
line per instruction (``s3 = K7(xp, s1, s2, axis=A7_axis)``), ``del`` of dead slots and
``return (outputs, ), (assigned, )``. Calling it once per step would cost, per step, a call,
the list of its feeds, the tuple of its outputs and the slicing of that tuple into carries,
ys and residuals: several microseconds against kernels of about one microsecond at small
sizes. So each loop gets one generated function whose ``for`` body *is* the step body's code,
its names prefixed (``bs3``, ``bK7``) so that two bodies never share a name, its feeds
replaced by the loop's own locals (the carries, ``rows[t]``, the captures, the seeds) and its
outputs assigned straight to the next step's carries. Each step runs exactly the kernels the
body's executable runs, on the same arrays in the same order: the results are bitwise those
of calling the executable.

The forward scan writes its ys into one preallocated ``(T, ...)`` buffer (NumPy) instead of
stacking a list of per-step arrays afterwards: the same values, no list, no second copy.

Carries reuse their buffers across iterations when nothing keeps a step's carry (no gradient
asked for, so no history; ys copied into their buffer): the kernel computing a carry writes,
from the third step on, into the array it returned two steps before (``op.forward_into``, the
same ufunc or BLAS call with ``out=``, so the same bits), two buffers per carry for any
length. Only for carries of a fully known shape, computed by an op with ``forward_into``, on
NumPy; an elementwise op with a non-contiguous input allocates as its plain kernel would
(``memory._out_kernel``'s rule: the layout of the result must not change).

``Generated`` caches one function per set of body executables (a new executable after
``shared_ops.instrument`` re-binds kernels gives a new function).
"""

from __future__ import annotations

import re

import numpy as np

from shared_ops import bind

from .terms import _fit, _flat, to_next

_NAME = re.compile(r"\b(s\d+|K\d+|A\d+_\w+|C\d+)\b")   # slots, kernels, attributes, constants
_FEED = re.compile(r"\bF\[(\d+)\]")
_GLOBAL = re.compile(r"(K\d+|A\d+_\w+|C\d+)")


def inline(exe, tag: str, feeds: list, g: dict, indent: str) -> tuple[list, list]:
    """``exe``'s body as lines (``indent`` first) reading ``feeds`` (expressions), and the
    expressions of its outputs; its kernels, attributes and constants go into ``g`` under
    ``tag``-prefixed names."""
    src = exe.source.splitlines()
    if src[0] != "def run(F, V):" or not src[-1].startswith("    return ("):
        raise AssertionError(f"inline: unexpected executable source header/footer: {src[0]!r} {src[-1]!r}")
    for k, v in exe._globals.items():
        if _GLOBAL.fullmatch(k):
            g[tag + k] = v
    g.setdefault("xp", exe._globals["xp"])
    g.setdefault("_copy", exe._globals["_copy"])

    def rename(text: str) -> str:
        text = _NAME.sub(lambda m: tag + m.group(1), text)
        return _FEED.sub(lambda m: feeds[int(m.group(1))], text)

    lines = []
    for ln in src[1:-1]:
        if "V[" in ln:
            raise AssertionError("inline: a loop body reads a variable (bodies take captures as feeds)")
        lines.append(indent + rename(ln[4:]))
    lines = _drop_unread_feeds(lines, {f for f in feeds if "(" not in f})
    ret = src[-1].strip()
    head, _, assigned = ret[len("return ("):].rpartition("), (")
    if assigned != ")":
        raise AssertionError("inline: a loop body assigns a variable")
    outs = [rename(o.strip()) for o in head.split(", ") if o.strip()]
    return lines, outs


def _drop_unread_feeds(lines: list, feeds: set) -> list:
    """``lines`` without a feed read into a slot that the next line deletes unread (an input
    the body does not use: in a loop it would cost a load and a ``del`` every step)."""
    out: list = []
    k = 0
    while k < len(lines):
        name, _, value = lines[k].strip().partition(" = ")
        dead = value in feeds and k + 1 < len(lines) and lines[k + 1].strip().startswith("del ")
        names = lines[k + 1].strip()[4:].split(", ") if dead else []
        if dead and name in names:
            rest = [n for n in names if n != name]
            indent = lines[k][:len(lines[k]) - len(lines[k].lstrip())]
            out.extend([indent + "del " + ", ".join(rest)] if rest else [])
            k += 2
            continue
        out.append(lines[k])
        k += 1
    return out


def _pingpong(op, kernel, shape: tuple):
    """``kernel`` writing into ``bufs[t & 1]`` once that holds an array of ``shape`` that this
    loop call allocated (the result of step ``t - 2``, dead by now)."""
    into = bind(op.name, op.forward_into, exact=op.exact)  # counted and perturbed as the plain kernel
    check = op.elementwise

    def run(bufs, t, xp, *arrays):
        b = bufs[t & 1]
        if b is not None and (not check or all(a.flags.c_contiguous for a in arrays)):
            return into(xp, *arrays, out=b)
        r = kernel(xp, *arrays)
        if type(r) is np.ndarray and r.shape == shape and r.flags.c_contiguous and r.flags.owndata and r.flags.writeable:
            bufs[t & 1] = r
        return r

    return run


def reuse_carries(exe, tag: str, body: list, outs: list, shapes: list, g: dict) -> list:
    """Rewrite ``body`` so that each carry (``outs[k]`` for ``shapes[k]``) whose kernel can write
    into a given array reuses two buffers; returns the ``bufs`` locals to create per call."""
    producers = {}
    for k in range(len(shapes)):
        m = re.fullmatch(tag + r"s\d+", outs[k]) and [re.fullmatch(r"\s*" + outs[k] + r" = " + tag + r"K(\d+)\(xp, .*\)", ln)
                                                     for ln in body if ln.strip().startswith(outs[k] + " = ")]
        if m:
            producers[k] = m[-1]
        elif not outs[k].startswith("_copy("):  # a carry handed on as it is: it may be a buffer's
            return []
    for k, m in producers.items():  # a carry that may view another value could view a buffer
        op = exe.program[int(m.group(1))].opdef if m is not None else None
        if op is None or op.view_of or op.may_alias:
            return []
    made = []
    seen = set()
    for k, shape in enumerate(shapes):
        name = outs[k]
        if shape is None or None in shape or not re.fullmatch(tag + r"s\d+", name) or name in seen or outs.count(name) > 1:
            continue
        seen.add(name)
        at = max((i for i, ln in enumerate(body) if ln.strip().startswith(name + " = ")), default=None)
        if at is None:
            continue
        m = re.fullmatch(r"(\s*)" + name + r" = " + tag + r"K(\d+)\(xp, ([^=]*)\)", body[at])
        if m is None:  # a feed, or a kernel taking attributes
            continue
        node = exe.program[int(m.group(2))]
        op = node.opdef
        if op is None or op.forward_into is None:
            continue
        helper = f"_P{k}"
        g[helper] = _pingpong(op, g[f"{tag}K{m.group(2)}"], tuple(shape))
        body[at] = f"{m.group(1)}{name} = {helper}(_B{k}, t, xp, {m.group(3)})"
        made.append(f"_B{k}")
    return made


def tup(exprs) -> str:
    return "(" + "".join(f"{e}, " for e in exprs) + ")"


def build(lines: list, g: dict, what: str):
    source = "\n".join(lines) + "\n"
    code = compile(source, f"<staticgraph {what} loop>", "exec")
    exec(code, g)  # our own generated source: names and slots only, no user text
    fn = g["loop"]
    fn.source = source
    return fn


def scan_loop(exe, nc: int, nx: int, ny: int, ncap: int, keep: bool, preallocate: bool, shapes: list):
    """``loop(length, carries, rows, caps, kept) -> (carries, ys)``: ``rows[j][t]`` is step
    ``t`` of ``xs[j]``; with ``keep``, each step appends ``(carries, residuals)`` to ``kept``."""
    g: dict = {}
    c = [f"_c{k}" for k in range(nc)]
    feeds = c + [f"_R{j}[t]" for j in range(nx)] + [f"_k{k}" for k in range(ncap)]
    body, outs = inline(exe, "b", feeds, g, "        ")
    bufs = reuse_carries(exe, "b", body, outs, shapes, g) if preallocate and not keep else []
    L = ["def loop(length, carries, rows, caps, kept):"]
    L += [f"    {b} = [None, None]" for b in bufs]
    L += [f"    {x} = carries[{k}]" for k, x in enumerate(c)]
    L += [f"    _R{j} = rows[{j}]" for j in range(nx)]
    L += [f"    _k{k} = caps[{k}]" for k in range(ncap)]
    L += [f"    _Y{j} = {'None' if preallocate else '[]'}" for j in range(ny)]
    if keep:
        L.append("    _keep = kept.append")
    L.append("    for t in range(length):")
    L += body
    if keep:
        L.append(f"        _keep(({tup(c)}, {tup(outs[nc + ny:])}))")
    for j in range(ny):
        y = outs[nc + j]
        if preallocate:
            L.append(f"        if _Y{j} is None:")
            L.append(f"            _y = {y}")
            L.append(f"            _Y{j} = xp.empty((length,) + _y.shape, dtype=_y.dtype)")
            L.append(f"        _Y{j}[t] = {y}")
        else:
            L.append(f"        _Y{j}.append({y})")
    if nc:
        L.append(f"        {', '.join(c)}, = {tup(outs[:nc])}")
    L.append(f"    return {tup(c)}, {tup(f'_Y{j}' for j in range(ny))}")
    return build(L, g, "scan")


def while_loop(cond_exe, body_exe, nv: int, ncc: int, nbc: int, keep: bool, shapes: list):
    """``loop(carries, ccaps, bcaps, kept) -> carries``, while the cond body says so."""
    g: dict = {}
    c = [f"_c{k}" for k in range(nv)]
    cbody, couts = inline(cond_exe, "c", c + [f"_q{k}" for k in range(ncc)], g, "        ")
    bbody, bouts = inline(body_exe, "b", c + [f"_k{k}" for k in range(nbc)], g, "        ")
    bufs = reuse_carries(body_exe, "b", bbody, bouts, shapes, g) if not keep and body_exe.backend.name == "numpy" else []
    L = ["def loop(carries, ccaps, bcaps, kept):"]
    L += [f"    {b} = [None, None]" for b in bufs]
    if bufs:
        L.append("    t = 0")
    L += [f"    {x} = carries[{k}]" for k, x in enumerate(c)]
    L += [f"    _q{k} = ccaps[{k}]" for k in range(ncc)]
    L += [f"    _k{k} = bcaps[{k}]" for k in range(nbc)]
    if keep:
        L.append("    _keep = kept.append")
    L.append("    while True:")
    L += cbody
    L.append(f"        if not bool({couts[0]}):")
    L.append("            break")
    L += bbody
    if keep:
        L.append(f"        _keep(({tup(c)}, {tup(bouts[nv:])}))")
    if nv:
        L.append(f"        {', '.join(c)}, = {tup(bouts[:nv])}")
    if bufs:
        L.append("        t += 1")
    L.append(f"    return {tup(c)}")
    return build(L, g, "while_loop")


def grad_loop(last_exe, mid_exe, last, mid, nc: int, nx: int, ncap: int, fcarry: list):
    """``loop(T, kept, rows, caps, dyrows, finals) -> (carry_slots, steps, dx, stacked)``, the gradient
    loop of a scan or while_loop, last step first: ``last`` and ``mid`` are the two gradient
    bodies' plans (``backward._Plan``, with ``respos``: where each residual lies in a step of
    ``kept``). ``carry_slots`` (per float carry, the terms its last-run step gave, None for
    zero steps), ``steps`` (per step, last first, per closure its terms) and ``dx`` (per
    differentiated xs, the step values) are what ``Backward._loop_grad`` folds afterwards;
    ``stacked``: the middle steps' operands of ``passes.stack``'s terms, one buffer each."""
    g: dict = {"_fit": _fit, "_flat": _flat, "_to_next": to_next}
    # mid steps hand their carry terms to the step before in the order its seeds take them
    direct = all(len(mid.carry_slots[r]) == mid.seed_counts[r] for r in range(len(fcarry)))
    L = ["def loop(T, kept, rows, caps, dyrows, finals):"]
    L += [f"    _k{k} = caps[{k}]" for k in range(ncap)]
    L += [f"    _R{j} = rows[{j}]" for j in range(nx)]
    L += [f"    _D{k} = dyrows[{k}]" for k in sorted({k for p in (last, mid) for src, k, _ in p.seed_src if src == "y"})]
    L += ["    _steps = []", "    _push = _steps.append", "    _cs = None"]
    L += [f"    _X{j} = [None] * T" for j, _ in mid.dx]
    L += [f"    _S{i} = None" for i, _ in mid.stack_steps]

    def step(plan, exe, tag, seeds, to_vars):
        feeds = [f"_ct[{k}]" for k in range(nc)] + [f"_R{j}[t]" for j in range(nx)] + [f"_k{k}" for k in range(ncap)]
        feeds += seeds + [f"finals[{k}][{i}]" if src == "final" else f"_D{k}[t]" for src, k, i in plan.seed_src]
        feeds += [f"_rt[{p}]" for p in plan.respos]
        body, outs = inline(exe, tag, feeds, g, "        ")
        out = ["        _ct, _rt = kept[t]"] + body
        if to_vars:
            out += [f"        _g{r}_{i} = {outs[s]}" for r, slots in enumerate(plan.carry_slots) for i, s in enumerate(slots)]
        else:
            out.append(f"        _cs = {tup(tup(outs[s] for s in slots) for slots in plan.carry_slots)}")
        if plan.push:
            out.append(f"        _push({tup(tup(outs[s] for s in slots) for slots in plan.cap_slots)})")
        for i, s in plan.stack_steps:  # passes.stack: the step's operand into its row of a (T - 1, ...) buffer
            out += [f"        _v = {outs[s]}", f"        if _S{i} is None:",
                    f"            _S{i} = xp.empty((T - 1,) + _v.shape, dtype=_v.dtype)", f"        _S{i}[t, ...] = _v"]
        for j, s in plan.dx:
            out.append(f"        _X{j}[t] = {outs[s]}" if s is not None else f"        _X{j}[t] = xp.zeros_like(_R{j}[t])")
        return out

    L += ["    if T:", "        t = T - 1"] + step(last, last_exe, "l", [], False)
    seeds, pre, adapt = [], [], []
    for r, k in enumerate(fcarry):
        m = mid.seed_counts[r]
        fit = f"_v if len(_v) == {m} else _fit(xp, _flat(_v), {m}, kept[t + 1][0][{k}])"
        if not direct:  # a pass-through carry's terms can outgrow its seeds: fitted every step
            pre += [f"        _v = _cs[{r}]", f"        _s{r} = {fit}"]
            seeds += [f"_s{r}[{i}]" for i in range(m)]
            continue
        # a list of terms may hold handed-through terms keyed in this body: as seeds, their keys
        # take the seeds' prefix
        seeds += [f"_to_next(_g{r}_{i})" if mid.carry_lists[r][i] else f"_g{r}_{i}" for i in range(m)]
        at = _match(last.keys[r], mid.keys[r], m)
        if at is not None:  # the last step lacks some terms (no cotangent reached them): -0.0 there,
            # which added to any x gives x, bit for bit (+0.0 would turn a -0.0 sum into +0.0)
            adapt += [f"        _g{r}_{i} = _cs[{r}][{j}]" if j >= 0 else f"        _g{r}_{i} = xp.full_like(kept[T - 1][0][{k}], -0.0)"
                      for i, j in enumerate(at)]
        else:
            adapt += ["        t = T - 2", f"        _v = _cs[{r}]", f"        _s = {fit}"] + [f"        _g{r}_{i} = _s[{i}]" for i in range(m)]
    if adapt:
        L += ["    if T >= 2:"] + adapt
    L += ["    for t in range(T - 2, -1, -1):"] + pre + step(mid, mid_exe, "m", seeds, direct)
    if direct:
        L += ["    if T >= 2:", f"        _cs = {tup(tup(f'_g{r}_{i}' for i in range(len(sl))) for r, sl in enumerate(mid.carry_slots))}"]
    L.append(f"    return _cs, _steps, {tup(f'_X{j}' for j, _ in mid.dx)}, {tup(f'_S{i}' for i, _ in mid.stack_steps)}")
    return build(L, g, "gradient")


def _match(last_keys: list, mid_keys: list, m: int):
    """Where each of the ``m`` mid-step seeds of a carry lies among the last step's terms (by
    their keys: consumer, position), -1 where the last step has no such term; None when the
    keys do not say (a term of the last step the mid steps do not have)."""
    last_keys, mid_keys = [tuple(k) for k in last_keys], [tuple(k) for k in mid_keys]
    if len(mid_keys) != m or len(set(mid_keys)) != m or not set(last_keys) <= set(mid_keys) or len(set(last_keys)) != len(last_keys):
        return None
    pos = {k: j for j, k in enumerate(last_keys)}
    return [pos.get(k, -1) for k in mid_keys]


class Generated:
    """One generated function per tuple of body executables (and their kernel binding)."""

    def __init__(self, make):
        self.make = make
        self._fns: dict = {}

    def get(self, exes: tuple, *extra):
        key = tuple((id(e), e._generation) for e in exes) + extra
        fn = self._fns.get(key)
        if fn is None:
            if len(self._fns) > 8:  # stale executables (re-bound kernels): keep the cache small
                self._fns.clear()
            fn = self._fns[key] = self.make(*exes, *extra)
        return fn


__all__ = ["inline", "scan_loop", "while_loop", "grad_loop", "Generated", "tup", "build"]
