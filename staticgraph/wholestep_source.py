"""The numba source of a whole step (``staticgraph.wholestep``): each fused region's loop nest
inlined, matrix products and sums as loops in ``shared_ops.fusion_step``'s fixed order, views
as the same indexing, 0-d constants that only regions read written in as literals."""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from .fusion import FusedKernel, Project, reduced_dims

MATMULS = {"matmul": (False, False), "matmul_nt": (False, True), "matmul_tn": (True, False)}
SUMS = ("sum", "sum_to")
RESHAPES = ("reshape", "expand_dims", "squeeze")
VIEWS = RESHAPES + ("transpose", "broadcast_to", "getitem", "copy", "clone")
_NP = {"float32": "np.float32", "float64": "np.float64", "int64": "np.int64", "int32": "np.int32", "bool": "np.bool_"}


def _index(entries) -> str:
    parts = []
    for e in entries:
        if e[0] == "i":
            parts.append(str(int(e[1])))
        elif e[0] == "e":
            parts.append("...")
        elif e[0] == "s":
            parts.append(":".join("" if v is None else str(int(v)) for v in e[1:]))
    if not parts:
        return "..."
    return ", ".join(parts) + ("," if len(parts) == 1 and parts[0] != "..." else "")


def generate(p) -> tuple:
    """``(module source, argument types, constant arrays)`` of the step of program ``p``:
    ``step(feeds..., variables..., constants...)`` returning its outputs, then the assigned values."""
    from shared_ops.fusion_step import module_source

    feeds = [f"F{k}" for k in range(len(p.inputs))]
    names = {i: f for i, f in zip(p.inputs, feeds)}
    variables = [f"V{k}" for k in range(len(p.variables))]
    names.update(zip(p.variables, variables))
    consts, cnames = [], []
    parts: list = []
    literals = _literals(p)
    L = [f"    L{k} = {lit}" for k, lit in enumerate(literals.values())]
    names.update((i, f"L{k}") for k, i in enumerate(literals))
    for n in p.nodes:
        v = f"v{n.id}"
        if n.op in ("placeholder", "variable") or n.id in literals:
            continue
        if n.op == "constant":
            names[n.id] = f"C{len(consts)}"
            cnames.append(names[n.id])
            consts.append(np.array(n.value, dtype=n.dtype))
            continue
        a = [names[i] for i in n.inputs]
        if n.op == "fused" and isinstance(n.payload, Project):
            names[n.id] = f"{names[n.inputs[0]]}_{n.payload.k}"
            continue
        names[n.id] = v
        if n.op == "fused":
            k = n.payload
            outs = [f"{v}_{j}" for j in range(len(k.outputs))] if len(k.outputs) > 1 else [v]
            L.extend(_inline(k, n.id, a, outs))
        elif n.op in MATMULS:
            ta, tb = MATMULS[n.op]
            x, y = (a[0] + ".T" if ta else a[0]), (a[1] + ".T" if tb else a[1])
            ra, rb = len(p[n.inputs[0]].shape), len(p[n.inputs[1]].shape)
            L.append(f"    {v} = _mm{ra}{rb}({x}, {y})")
        elif n.op in SUMS:
            src = p[n.inputs[0]]
            axes = reduced_dims(n, tuple(src.shape))[0] if n.op == "sum_to" else sum_axes(n, len(src.shape))
            keep = [d for d in range(len(src.shape)) if d not in axes]
            kept, r = math.prod(src.shape[d] for d in keep), math.prod(src.shape[d] for d in axes)
            L.append(f"    {v} = _sumrows(np.ascontiguousarray(np.transpose({a[0]}, {tuple(keep + list(axes))!r}))"
                     f".reshape(({kept}, {r}))).reshape({tuple(n.shape)!r})")
        elif n.op in RESHAPES:
            L.append(f"    {v} = np.ascontiguousarray({a[0]}).reshape({tuple(n.shape)!r})")
        elif n.op == "transpose":
            axes = n.attrs.get("axes")
            perm = tuple(range(len(n.shape)))[::-1] if axes is None else tuple(int(x) % len(n.shape) for x in axes)
            L.append(f"    {v} = np.transpose({a[0]}, {perm!r})")
        elif n.op == "broadcast_to":
            L.append(f"    {v} = np.broadcast_to({a[0]}, {tuple(n.shape)!r})")
        elif n.op == "getitem":
            entries = n.attrs["index"]
            picked = f"{a[0]}[{_index([e for e in entries if e[0] != 'n'])}]"
            if not n.shape:  # numba gives a scalar for a full integer index: keep a 0-d array
                L.append(f"    {v} = np.empty((), {_NP[n.dtype]})")
                L.append(f"    {v}[()] = {picked}")
                continue
            L.append(f"    {v} = {picked}")
            if any(e[0] == "n" for e in entries):
                L.append(f"    {v} = np.ascontiguousarray({v}).reshape({tuple(n.shape)!r})")
        elif n.op in ("copy", "clone"):
            L.append(f"    {v} = {a[0]}.copy()")
        else:  # why_not let through an op this generator does not know
            raise ValueError(f"whole step: no form for %{n.id} {n.op}")
    source_ids = {n.id for n in p.nodes if n.is_source}
    # a 0-d output leaves as a number (numba boxes a number far faster than an array)
    rets = [names[i] + ("[()]" if not p[i].shape else ".copy()" if i in source_ids else "") for i in p.outputs]
    rets += [names[x] + (".copy()" if x in source_ids else "") for _, x in p.assigns]
    head = f"@njit(nogil=True, cache=True, error_model=\"numpy\")\ndef step({', '.join(feeds + variables + cnames)}):"
    # the regions' loops run unchecked (``checks=False``): the arguments' shapes are checked
    # once here (a mismatch raises, and the runner lets the NumPy tier report it)
    guard = [f"{nm}.shape[{d}] != {size}" for nm, i in zip(feeds + variables, list(p.inputs) + list(p.variables))
             for d, size in enumerate(p[i].shape)]
    head_checks = [f"    if {' or '.join(guard)}:", "        raise ValueError('shape')"] if guard else []
    body = head_checks + L + [f"    return ({''.join(r + ', ' for r in rets)})"]
    parts.append("\n".join([head] + body) + "\n")
    args = [(tuple(p[i].shape), p[i].dtype) for i in p.inputs] + \
           [(tuple(p[i].shape), p[i].dtype) for i in p.variables] + [(c.shape, c.dtype.name) for c in consts]
    return module_source(parts), args, consts


_KEEP = frozenset({"np", "math", "sqrt", "abs", "range", "min", "max", "if", "for", "in", "pass", "and", "or", "not",
                   "else", "True", "False", "None"})
# a name of the generated loop (never an attribute after a dot, never a helper: those start with _)
_NAME = re.compile(r"(?<![.\w])([a-z][a-z0-9_]*)\b")


@functools.lru_cache(maxsize=256)
def _loop_template(spec) -> tuple:
    """The region's unchecked loop nest (``fusion_cpu.generate_source``) as ``(lines, locals)``,
    the function's first line dropped."""
    from shared_ops.fusion_cpu import generate_source

    lines = generate_source(spec, "_region", checks=False).rstrip("\n").split("\n")[1:]
    found = {m.group(1) for ln in lines for m in _NAME.finditer(ln)} - _KEEP
    return tuple(lines), frozenset(found)


def _inline(k, nid: int, args: list, results: list) -> list:
    """The region ``k`` (node ``nid``) written into the step: its loop nest with every local
    name made unique to the node (``<name>_r<nid>``), its inputs read from ``args``, its
    outputs allocated and then named ``results`` (in the program's shapes). Inlined rather
    than called: a numba call with dozens of array arguments (a weight gradient summing 32
    steps) costs seconds to type and lower."""
    lines, found = _loop_template(k.spec)
    names = {nm: f"{nm}_r{nid}" for nm in found}
    names.update({f"in{j}": a for j, a in enumerate(args)})
    names.update({f"out{j}": f"o{nid}_{j}" for j in range(len(k.spec.outputs))})
    sub = lambda m: names.get(m.group(1), m.group(1))  # noqa: E731
    L = []
    for j, o in enumerate(k.spec.outputs):
        shape = tuple(1 if d in o.reduce else s for d, s in enumerate(k.spec.shape))
        L.append(f"    o{nid}_{j} = np.empty({shape!r}, {_NP[o.dtype]})")
    L.extend(_NAME.sub(sub, ln) for ln in lines)
    for j, (r, info) in enumerate(zip(results, k.outputs)):
        L.append(f"    {r} = o{nid}_{j}.reshape({tuple(info.shape)!r})" if info.drop else f"    {r} = o{nid}_{j}")
    return L


_LITERAL = {"float32": "_f32", "float64": "_f64", "int32": "_i32", "int64": "_i64"}


def _literals(p) -> dict:
    """node id -> the literal written into the step for each 0-d constant that only fused
    regions read (a region reads a 0-d input with ``_get0``, which takes a number too): numba
    unboxes every array argument on every call, a literal costs nothing. Non-finite and
    very large values stay arguments (a literal must give the same bits)."""
    region = {n.id: n.op == "fused" and isinstance(n.payload, FusedKernel) for n in p.nodes}
    readers: dict = {}
    for n in p.nodes:
        for i in n.inputs:
            readers.setdefault(i, set()).add(region[n.id])
    kept = set(p.outputs) | {x for _, x in p.assigns}
    out = {}
    for n in p.nodes:
        if n.op != "constant" or n.shape or n.id in kept or readers.get(n.id) != {True}:
            continue
        v = np.array(n.value, dtype=n.dtype)[()]
        if n.dtype == "bool":
            out[n.id] = repr(bool(v))
        elif n.dtype in ("float32", "float64") and math.isfinite(v):
            out[n.id] = f"{_LITERAL[n.dtype]}({float(v)!r})"
        elif n.dtype in ("int32", "int64") and abs(int(v)) < 2 ** 62:
            out[n.id] = f"{_LITERAL[n.dtype]}({int(v)})"
    return out


def sum_axes(n, ndim: int) -> tuple:
    axis = n.attrs.get("axis")
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(a % ndim for a in ((axis,) if isinstance(axis, int) else axis)))


__all__ = ["generate", "sum_axes", "MATMULS", "SUMS", "RESHAPES", "VIEWS"]
