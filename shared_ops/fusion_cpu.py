"""Fused elementwise kernels for the NumPy backend, generated as numba loops.

A fused region (``KernelSpec``) is compiled to ONE loop nest over the broadcast output shape
that reads every input once, computes every op of the region in registers and writes each
output once (XLA's loop fusion). Several outputs are allowed (a forward value that the
backward region also needs, two gradients), and so are reductions: a ``sum``/``sum_to`` of a
region value accumulates inside the same loop instead of materialising its input.

Why numba and not numexpr (one core, 4M float32; ``benchmarks/bench_compiler.py --numexpr``
measures it): numexpr computes one expression per call and calls libm per element (``tanh``: 52 ms
against NumPy's 1.5 ms), and cannot return several outputs or run a backward region; numba
compiles real loops, costs 0.3 us per call on tiny arrays (NumPy's ufunc call: 0.36 us) and
lets us emit vectorisable transcendental functions. Like XLA's CPU backend
(``polynomial_approximations.cc``), float32 ``exp``/``tanh`` (and so ``sigmoid``) are written
out in the kernel as range-reduced polynomials evaluated in float64 (within 1 ulp of the
correctly rounded float32 result; tests: at most 2 ulp from NumPy's), because numba's calls to
libm's ``tanhf`` do not vectorise (12 ns an element); float64 uses libm, as NumPy does.
Conditionals (``a if c else b``) become an LLVM ``select`` (``_sel``), not branches: numba's
compile time grows superlinearly with basic blocks, and branches block vectorisation. Kernels
use ``error_model="numpy"`` (x / 0 is inf, as in NumPy, and the loop vectorises).

Every op's scalar code comes from ``OpDef.scalar_expr`` (an expression over its inputs'
expressions, in Python syntax, with ``math.``/``np.`` functions); each op's result is cast back
to its dtype, so ``+ - * / sqrt`` round exactly as NumPy's ufuncs do (a float32 op computed in
float64 and rounded once is correctly rounded).

Compile cache: in process, by ``KernelSpec`` (the region's structure, dtypes, ranks and
broadcasting pattern), so a graph compiled twice compiles once; on disk, numba's
``cache=True`` over the generated module written to ``$GRAPHCOMPARE_CACHE`` (default
``~/.cache/graphcompare/fusion``), so a fresh process loads machine code instead of compiling.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any


from .registry import REGISTRY

__all__ = ["KernelSpec", "Step", "Output", "compile_kernel", "generate_source", "cache_info", "clear_cache", "loop_view"]


@dataclass(frozen=True)
class Step:
    """One op of the region: ``values[k] = op(values[args...], **attrs)`` with dtype ``dtype``.

    ``op`` ``"copy"`` or ``"broadcast_to"`` is the identity (the broadcast of a region input
    lives in that input's index pattern)."""

    op: str
    args: tuple
    attrs: tuple  # sorted (name, value) pairs
    dtype: str


@dataclass(frozen=True)
class Output:
    """What the kernel writes: ``value`` (an index into inputs + steps) stored whole
    (``reduce == ()``) or summed over the loop axes ``reduce`` into an array of the loop rank
    with those axes of size 1 (keepdims layout; the caller reshapes)."""

    value: int
    reduce: tuple = ()
    dtype: str = ""


@dataclass(frozen=True)
class KernelSpec:
    """A fused region: the hashable description both code generators (numba, CuPy) read.

    ``shape``: the loop (output) shape, ``None`` where only known at run time.
    ``inputs``: ``(dtype, dims)`` per input; ``dims`` has one entry per input dimension: the
    loop dim it runs along, or ``None`` for a size-1 (broadcast) dimension. NumPy broadcasting
    is the right-aligned case; an ``expand_dims`` or ``transpose`` of an input folds into its
    ``dims`` (like the indexing maps of MLIR's ``linalg.generic``). Values are numbered inputs
    first, then steps.
    """

    shape: tuple
    inputs: tuple
    steps: tuple
    outputs: tuple

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def loop_sources(self) -> list:
        """For each loop dim: ``("static", n)`` or ``("input", j, axis)`` giving its size."""
        out = []
        for d in range(self.ndim):
            src = None
            for j, (_, dims) in enumerate(self.inputs):
                if d in dims:
                    src = ("input", j, dims.index(d))
                    break
            if src is None:
                if self.shape[d] is None:
                    raise ValueError(f"loop dim {d} has no static size and no input along it")
                src = ("static", int(self.shape[d]))
            out.append(src)
        return out

    def label(self) -> str:
        ops = ",".join(s.op for s in self.steps)
        return ops if len(ops) <= 60 else ops[:57] + "..."


def loop_view(xp, a, dims: tuple, nd: int):
    """``a`` as an array of the loop's rank that broadcasts against it (NumPy's rules),
    following its index map: the views the fusion pass folded in, undone."""
    if dims == tuple(range(nd - len(dims), nd)):
        return a
    keep = [k for k, d in enumerate(dims) if d is not None]
    order = sorted(keep, key=lambda k: dims[k])
    a = xp.reshape(a, tuple(a.shape[k] for k in keep))
    perm = [keep.index(k) for k in order]
    if perm != sorted(perm):
        a = (getattr(xp, "permute_dims", None) or xp.transpose)(a, tuple(perm))
    shape = [1] * nd
    for j, k in enumerate(order):
        shape[dims[k]] = a.shape[j]
    return xp.reshape(a, tuple(shape))


# --------------------------------------------------------------------------- scalar code

_PREFIX = re.compile(r"\b(?:math|np|numpy|xp)\.")


def _scalar_code(step: Step, args: list[str], prefix: str = "t") -> tuple[list[str], str]:
    """``(statements, expression)`` computing one step from its inputs' names."""
    if step.op in ("copy", "broadcast_to"):  # the broadcast is in the input's index pattern
        return [], args[0]
    op = REGISTRY.get(step.op)
    if op.scalar_expr is None:
        raise ValueError(f"op '{step.op}' has no scalar_expr; it cannot be fused")
    expr = _PREFIX.sub("", op.scalar_expr(*args, **dict(step.attrs)))
    stmts: list[str] = []
    if step.dtype == "float32" and re.search(r"\b(exp|tanh)\(", expr):
        stmts, expr = _expand_inline(expr, prefix)
    if " if " in expr:
        expr = _selects(expr)
    return stmts, f"{_CAST[step.dtype]}({expr})"


_CAST = {
    "float16": "_f16", "float32": "_f32", "float64": "_f64", "bool": "_bool",
    "int8": "_i8", "int16": "_i16", "int32": "_i32", "int64": "_i64",
    "uint8": "_u8", "uint16": "_u16", "uint32": "_u32", "uint64": "_u64",
}


BLOCK = 2048  # elements a full-sum block holds (16 kB of float64: stays in L1)


def _index(dims: tuple) -> str:
    if not dims:
        return "()"
    return ", ".join("0" if d is None else f"j{d}" for d in dims)


def generate_source(spec: KernelSpec, name: str = "kernel") -> str:
    """The Python source of the numba kernel for ``spec`` (readable; tests compare it).

    ``kernel(in0, ..., out0, ...)`` returns nothing: it writes its outputs into the arrays
    it is given (the memory plan's buffers, or fresh ones)."""
    n_in, nd = len(spec.inputs), spec.ndim
    ins = [f"in{j}" for j in range(n_in)]
    outs = [f"out{k}" for k in range(len(spec.outputs))]
    L = [f"def {name}({', '.join(ins + outs)}):"]
    sources = spec.loop_sources()
    for d, src in enumerate(sources):
        L.append(f"    n{d} = {src[1]}" if src[0] == "static" else f"    n{d} = in{src[1]}.shape[{src[2]}]")
    # the compiled loop trusts the broadcasting pattern: check it (a mismatch -> caller falls back)
    for j, (_, dims) in enumerate(spec.inputs):
        for k, d in enumerate(dims):
            if d is not None and sources[d] != ("input", j, k):
                L.append(f"    if in{j}.shape[{k}] != n{d}: raise ValueError('shape')")
            elif d is None:
                L.append(f"    if in{j}.shape[{k}] != 1: raise ValueError('shape')")
    for k, o in enumerate(spec.outputs):  # a wrong output buffer must not be written past its end
        for d in range(nd):
            L.append(f"    if out{k}.shape[{d}] != {'1' if d in o.reduce else f'n{d}'}: raise ValueError('out')")
    # reductions. A partial sum accumulates in a float64 array in loop order. A full sum (all
    # loop dims) must not depend on the path the compiled loop takes at run time (vector or
    # scalar after an alias check): its values go to a float64 scratch array - per block of
    # BLOCK elements for a 1-d loop (inputs sliced per block, so indices stay non-negative and
    # the loop vectorises), per innermost position otherwise - which is then summed by eight
    # partial sums in a fixed order (``_sum8``).
    fulls = [k for k, o in enumerate(spec.outputs) if o.reduce and len(o.reduce) == nd]
    blocked = bool(fulls) and nd == 1
    for k, o in enumerate(spec.outputs):
        if o.reduce and k not in fulls:
            dims = ", ".join("1" if d in o.reduce else f"n{d}" for d in range(nd))
            L.append(f"    acc{k} = np.zeros(({dims},), np.float64)")
    for k in fulls:
        L.append(f"    acc{k} = 0.0")
        L.append(f"    tmp{k} = np.empty({BLOCK}, np.float64)" if blocked else f"    tmp{k} = np.zeros(n{nd - 1}, np.float64)")
    # scalars (no loop dim) are read once, before the loops
    hoisted = {j for j, (_, dims) in enumerate(spec.inputs) if all(d is None for d in dims)}
    for j in sorted(hoisted):
        dims = spec.inputs[j][1]
        L.append(f"    v{j} = _get0(in{j})" if not dims else f"    v{j} = in{j}[{_index(dims)}]")
    ind = "    "
    name_in = {j: f"in{j}" for j in range(n_in)}
    name_out = {k: f"out{k}" for k in range(len(spec.outputs))}
    if blocked:
        L.append("    for jb in range(0, n0, %d):" % BLOCK)
        L.append("        m = min(%d, n0 - jb)" % BLOCK)
        for j, (_, dims) in enumerate(spec.inputs):
            if j not in hoisted:
                L.append(f"        b{j} = in{j}[jb:jb + m]")
                name_in[j] = f"b{j}"
        for k, o in enumerate(spec.outputs):
            if not o.reduce:
                L.append(f"        c{k} = out{k}[jb:jb + m]")
                name_out[k] = f"c{k}"
        L.append("        for j0 in range(m):")
        ind = "            "
    else:
        for d in range(nd):
            L.append(f"{ind}for j{d} in range(n{d}):")
            ind += "    "
    for j, (_, dims) in enumerate(spec.inputs):
        if j not in hoisted:
            L.append(f"{ind}v{j} = {name_in[j]}[{_index(dims)}]")
    for s, step in enumerate(spec.steps):
        stmts, expr = _scalar_code(step, [f"v{a}" for a in step.args], f"t{n_in + s}")
        L.extend(ind + st for st in stmts)
        L.append(f"{ind}v{n_in + s} = {expr}")
    full = ", ".join(f"j{d}" for d in range(nd)) or "()"
    for k, o in enumerate(spec.outputs):
        if not o.reduce:
            L.append(f"{ind}{name_out[k]}[{full}] = v{o.value}")
        elif k in fulls:
            L.append(f"{ind}tmp{k}[j{nd - 1}] {'=' if blocked else '+='} v{o.value}")
        else:
            idx = ", ".join("0" if d in o.reduce else f"j{d}" for d in range(nd))
            L.append(f"{ind}acc{k}[{idx}] += v{o.value}")
    for k in fulls:
        if blocked:
            L.append(f"        acc{k} += _sum8(tmp{k}, m)")
        else:
            L.append(f"    acc{k} = _sum8(tmp{k}, n{nd - 1})")
    for k, o in enumerate(spec.outputs):
        if k in fulls:
            L.append(f"    out{k}[{', '.join('0' for _ in range(nd)) or '()'}] = acc{k}")
        elif o.reduce:
            L.append(f"    out{k}[...] = acc{k}")
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------- vectorisable math


def _math_helpers():
    """The one intrinsic the inlined float32 math needs: an int64's bits as a float64."""
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic, overload

    @intrinsic
    def _bits_f64(typingctx, x):
        if isinstance(x, types.Integer) and x.bitwidth == 64:
            def codegen(context, builder, sig, args):
                return builder.bitcast(args[0], ir.DoubleType())
            return types.float64(x), codegen
        return None

    @intrinsic
    def _sel(typingctx, c, a, b):
        # LLVM's select: `a if c else b` without a branch (numba's ternary makes basic blocks,
        # which cost compile time superlinearly and block vectorisation)
        t = typingctx.unify_pairs(a, b)
        if not isinstance(c, types.Boolean) or t is None or not isinstance(t, types.Number):
            return None

        def codegen(context, builder, sig, args):
            cond, x, y = args
            x = context.cast(builder, x, sig.args[1], t)
            y = context.cast(builder, y, sig.args[2], t)
            return builder.select(cond, x, y)
        return t(c, a, b), codegen

    def _get0(x):  # pragma: no cover - replaced by the overload inside compiled code
        return x

    @overload(_get0)
    def _get0_impl(x):
        # a 0-d input arrives as a 0-d array, or as a NumPy scalar (NumPy returns those)
        if isinstance(x, types.Array):
            return lambda x: x[()]
        return lambda x: x

    from numba import njit

    @njit(cache=False, error_model="numpy")
    def _sum8(t, m):
        # eight partial sums taking the values in turn, combined pairwise: a fixed order
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        i = 0
        while i + 8 <= m:
            a0 += t[i]
            a1 += t[i + 1]
            a2 += t[i + 2]
            a3 += t[i + 3]
            a4 += t[i + 4]
            a5 += t[i + 5]
            a6 += t[i + 6]
            a7 += t[i + 7]
            i += 8
        while i < m:
            a0 += t[i]
            i += 1
        return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))

    return {"_bits_f64": _bits_f64, "_get0": _get0, "_sel": _sel, "_sum8": _sum8}


# float32 exp and tanh, written out as statements in the kernel itself (so they inline and
# vectorise without numba's slow IR inlining): range reduction e**x = 2**n * e**r with
# |r| <= ln2/2, Taylor to degree 8 (relative error < 3e-10, 0.005 ulp of float32), all in
# float64, rounded once to float32. {t} is a unique prefix, {x} the argument's name.
_EXP64 = """\
{t}n = np.floor({t}y * 1.4426950408889634 + 0.5)
{t}r = {t}y - {t}n * 0.6931471805599453
{t}p = 1.0 + {t}r * (1.0 + {t}r * (0.5 + {t}r * (0.16666666666666666 + {t}r * (0.041666666666666664 + {t}r * (0.008333333333333333 + {t}r * (0.001388888888888889 + {t}r * (0.0001984126984126984 + {t}r * 2.48015873015873e-05)))))))
{t}e = {t}p * _bits_f64((np.int64({t}n) + 1023) << 52)"""
_INLINE = {
    "exp": """\
{t}x = np.float64({x})
{t}y = _sel({t}x > 89.0, 89.0, _sel({t}x < -104.0, -104.0, {t}x))
""" + _EXP64 + """
{t}v = np.float32(_sel({t}x == {t}x, {t}e, {t}x))""",
    "tanh": """\
{t}x = np.float64({x})
{t}a = abs({t}x)
{t}y = 2.0 * _sel({t}a > 10.0, 10.0, {t}a)
""" + _EXP64 + """
{t}h = math.copysign(({t}e - 1.0) / ({t}e + 1.0), {t}x)
{t}v = np.float32(_sel(({t}a < 1e-6) | ({t}x != {t}x), {t}x, {t}h))""",
}


def _selects(expr: str) -> str:
    """``a if c else b`` -> ``_sel(c, a, b)`` (both sides are computed; they have no effects)."""
    import ast

    class Sel(ast.NodeTransformer):
        def visit_IfExp(self, node):
            self.generic_visit(node)
            return ast.Call(ast.Name("_sel", ast.Load()), [node.test, node.body, node.orelse], [])

    return ast.unparse(Sel().visit(ast.parse(expr, mode="eval")))


def _expand_inline(expr: str, prefix: str) -> tuple[list[str], str]:
    """Hoist every ``exp(...)``/``tanh(...)`` of ``expr`` into statements (inner calls first);
    returns ``(statements, the rewritten expression)``."""
    import ast

    stmts: list[str] = []
    count = [0]

    class Hoist(ast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            if isinstance(node.func, ast.Name) and node.func.id in _INLINE and len(node.args) == 1:
                t = f"{prefix}_{count[0]}_"
                count[0] += 1
                arg = f"{t}arg"
                stmts.append(f"{arg} = {ast.unparse(node.args[0])}")
                stmts.extend(_INLINE[node.func.id].format(t=t, x=arg).splitlines())
                return ast.Name(id=f"{t}v", ctx=ast.Load())
            return node

    tree = Hoist().visit(ast.parse(expr, mode="eval"))
    return stmts, ast.unparse(tree)


_HELPERS: dict = {}


def helpers() -> dict:
    if not _HELPERS:
        _HELPERS.update(_math_helpers())
    return _HELPERS


# --------------------------------------------------------------------------- compile + cache

_CACHE: dict = {}
_STATS = {"hits": 0, "misses": 0, "disk_modules": 0}
_LOCK = threading.Lock()
_SELF_HASH = hashlib.sha1(open(__file__, "rb").read()).hexdigest()[:12]

_PRELUDE = """\
import math
import numpy as np
from numba import njit
from shared_ops.fusion_cpu import helpers as _h
_bits_f64 = _h()["_bits_f64"]
_get0 = _h()["_get0"]
_sel = _h()["_sel"]
_sum8 = _h()["_sum8"]
exp, log, tanh, sqrt = np.exp, np.log, np.tanh, np.sqrt
log1p, expm1, sin, cos = np.log1p, np.expm1, np.sin, np.cos  # scalar_expr may use any of these
_f16, _f32, _f64, _bool = np.float16, np.float32, np.float64, np.bool_
_i8, _i16, _i32, _i64 = np.int8, np.int16, np.int32, np.int64
_u8, _u16, _u32, _u64 = np.uint8, np.uint16, np.uint32, np.uint64
"""


def _cache_dir() -> str | None:
    d = os.environ.get("GRAPHCOMPARE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "graphcompare", "fusion")
    try:
        os.makedirs(d, exist_ok=True)
        return d if os.access(d, os.W_OK) else None
    except OSError:
        return None


def _fastmath(spec: KernelSpec):
    # 'reassoc' only: measured 8x faster on W4's kernel (LLVM vectorises the inlined float64
    # polynomials with it). Every op's result is still rounded to its dtype, and the one
    # reduction pattern (the blocked full sum) reads a scratch buffer and writes no memory, so
    # no run-time alias check can pick a differently associated path: results are reproducible
    return {"reassoc"}


def _build(spec: KernelSpec):
    src = generate_source(spec)
    fm = _fastmath(spec)
    body = _PRELUDE + f"\n\n@njit(nogil=True, cache=True, error_model=\"numpy\", fastmath={fm!r})\n" + src
    digest = hashlib.sha1((body + _SELF_HASH).encode()).hexdigest()[:20]
    d = _cache_dir()
    if d is not None:  # a real file, so numba's on-disk cache can key machine code on it
        path = os.path.join(d, f"gc_fused_{digest}.py")
        if not os.path.exists(path):
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(body)
            os.replace(tmp, path)
        modname = f"_gc_fused_{digest}"
        mod = sys.modules.get(modname)
        if mod is None:
            spec_ = importlib.util.spec_from_file_location(modname, path)
            mod = importlib.util.module_from_spec(spec_)
            spec_.loader.exec_module(mod)
            sys.modules[modname] = mod
            _STATS["disk_modules"] += 1
        return mod.kernel, src
    ns: dict[str, Any] = {}
    exec(compile(body.replace("cache=True", "cache=False"), f"<fused {digest}>", "exec"), ns)
    return ns["kernel"], src


def compile_kernel(spec: KernelSpec):
    """The numba kernel for ``spec`` (cached in process by ``spec``; on disk by its source).

    Compilation itself happens lazily at the first call for each argument layout (numba
    specialises on C-contiguous vs strided arrays); ``warm(kernel, arrays)`` forces it."""
    with _LOCK:
        hit = _CACHE.get(spec)
        if hit is not None:
            _STATS["hits"] += 1
            return hit
        _STATS["misses"] += 1
        kernel, _ = _build(spec)
        _CACHE[spec] = kernel
        return kernel


def cache_info() -> dict:
    """``{"hits", "misses", "entries", "disk_modules"}`` of the in-process compile cache."""
    return dict(_STATS, entries=len(_CACHE))


def clear_cache() -> None:
    """Forget the in-process cache (the on-disk numba cache stays)."""
    with _LOCK:
        _CACHE.clear()
