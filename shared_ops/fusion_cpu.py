"""The second tier of a fused region: a numba loop nest generated for it (NumPy backend).

A fused region (``KernelSpec``) is compiled to ONE loop nest over the broadcast output shape
that reads every input once, computes every op of the region in registers and writes each
output once (XLA's loop fusion). Several outputs are allowed (a forward value that the
backward region also needs, two gradients), and so are reductions: a ``sum``/``sum_to`` of a
region value accumulates inside the same loop instead of materialising its input.

Why numba and not numexpr: numexpr computes one expression per call and calls libm per
element, and cannot return several outputs or run a backward region; numba compiles real
loops, costs about a NumPy ufunc call's overhead per call, and vectorises the written-out
float32 ``exp``/``tanh`` (``fusion_spec``), 8 float32 lanes wide on AVX2 (``_wide_vectors``). Conditionals become an LLVM ``select`` (``_sel``),
not branches: numba's compile time grows superlinearly with basic blocks, and branches block
vectorisation. Kernels use ``error_model="numpy"`` (x / 0 is inf, as in NumPy) and no
fast-math flag, so LLVM may not reassociate or contract: the loop computes exactly what the
NumPy tier (``fusion_numpy``) computes, bit for bit.

numba takes seconds to compile a large region, so ``staticgraph`` never waits for it: the
region runs on the NumPy tier while ``shared_ops.fusion_jit`` builds this one in a background
thread.

Compile cache: in process, by ``KernelSpec``; on disk, numba's ``cache=True`` over the generated
module, written to ``$GRAPHCOMPARE_CACHE`` (default ``~/.cache/graphcompare/fusion``) in a folder
per machine, Python and numba version. Every file is written to a temporary name and renamed
(two processes may share the folder); the module's text is checked against its name's hash and
numba's cache files against the checksums recorded when they were written (``<module>.ok``),
so a truncated, corrupt or foreign entry is deleted and rebuilt, never loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
import time
from typing import Any

from . import fusion_cache
from .fusion_cache import cache_dir
from .fusion_spec import BLOCK, LIBM, KernelSpec, Output, Step, expand_inline, loop_view, prologue, step_code, weak

__all__ = ["KernelSpec", "Step", "Output", "compile_kernel", "build", "generate_source", "cache_info",
           "clear_cache", "loop_view", "cache_dir"]


# The loop body is cut into basic blocks of a few steps: numba's lowering looks for variables
# assigned once by scanning each variable's block (time ~ variables x statements of one block,
# quadratic in a straight-line body: 999 float64 steps built in 39 s in one block, 23 s cut every
# 8 steps), while its CFG walks recurse once per block (Python's recursion limit): at most
# MAX_CUTS cuts, every BLOCK_STEPS steps or more.
BLOCK_STEPS, MAX_CUTS = 8, 64


def _index(dims: tuple) -> str:
    if not dims:
        return "()"
    return ", ".join("0" if d is None else f"j{d}" for d in dims)


def generate_source(spec: KernelSpec, name: str = "kernel", checks: bool = True) -> str:
    """The Python source of the numba kernel for ``spec`` (readable; tests compare it).

    ``kernel(in0, ..., out0, ...)`` returns nothing: it writes its outputs into the arrays
    it is given (the memory plan's buffers, or fresh ones). ``checks``: see ``prologue``."""
    n_in, nd = len(spec.inputs), spec.ndim
    L = prologue(spec, name, checks)
    # reductions. A partial sum accumulates in a float64 array in loop order. A full sum (all
    # loop dims) must not depend on the path the compiled loop takes at run time (vector or
    # scalar after an alias check): its values go to a float64 scratch array - per block of
    # BLOCK elements for a 1-d loop (inputs sliced per block, so indices stay non-negative and
    # the loop vectorises), per innermost position otherwise - which is then summed by eight
    # partial sums in a fixed order (``_sum8``).
    fulls = spec.full_sums()
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
    every = max(BLOCK_STEPS, -(-len(spec.steps) // MAX_CUTS))
    for s, step in enumerate(spec.steps):
        if s and s % every == 0:  # a branch that goes nowhere: a new basic block (LLVM removes it)
            L.append(f"{ind}if {'n0' if nd else 'out0.size'} < 0:")
            L.append(f"{ind}    pass")
        stmts, expr = step_code(step, [f"v{a}" for a in step.args], f"t{n_in + s}", weak(spec, step))
        L.extend(ind + st for st in expand_inline(stmts))
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



# --------------------------------------------------------------------------- helpers inside compiled code


def _math_helpers():
    """The scalar language's helpers inside compiled code (``fusion_spec``)."""
    from llvmlite import ir
    from numba import types
    from numba import njit
    from numba.extending import intrinsic, overload

    @intrinsic
    def _pow2_f32(typingctx, n):
        # 2**n as a float32 from its bits, (int32(n) + 127) << 23, for an integral n in
        # [-126, 127]: vectorises (vcvttps2dq, vpaddd, vpslld) where ldexp or a float64 ->
        # int64 conversion would not on AVX2
        if isinstance(n, types.Float) and n.bitwidth == 32:
            def codegen(context, builder, sig, args):
                i32 = ir.IntType(32)
                k = builder.add(builder.fptosi(args[0], i32), ir.Constant(i32, 127))
                return builder.bitcast(builder.shl(k, ir.Constant(i32, 23)), ir.FloatType())
            return types.float32(n), codegen
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

    @intrinsic
    def _opaque(typingctx, x):
        # a float64 LLVM cannot see through (its bits pass an empty inline-asm statement):
        # keeps it from rewriting pow(x, 0.5) into sqrt(x), which rounds differently from
        # the C library's pow
        if isinstance(x, types.Float) and x.bitwidth == 64:
            def codegen(context, builder, sig, args):
                i64 = ir.IntType(64)
                bits = builder.bitcast(args[0], i64)
                hidden = builder.asm(ir.FunctionType(i64, [i64]), "", "=r,0", [bits], side_effect=False)
                return builder.bitcast(hidden, ir.DoubleType())
            return types.float64(x), codegen
        return None

    def _get0(x):  # pragma: no cover - replaced by the overload inside compiled code
        return x

    @overload(_get0)
    def _get0_impl(x):
        # a 0-d input arrives as a 0-d array, or as a NumPy scalar (NumPy returns those)
        if isinstance(x, types.Array):
            return lambda x: x[()]
        return lambda x: x

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


    import math

    quiet = float("nan")
    out = {"_pow2_f32": _pow2_f32, "_get0": _get0, "_sel": _sel, "_sum8": _sum8,
           "_opaque": _opaque}
    # the C library's double functions, NaN results made the one quiet NaN (glibc gives -nan
    # where numba's own log gives +nan): the NumPy tier calls the same functions
    src = "".join(f"def _lm_{name}(x):\n    r = math.{name}(x)\n    return _sel(r == r, r, quiet)\n" for name in LIBM)
    src += "def _lm_pow(x, y):\n    r = x ** y\n    return _sel(r == r, r, quiet)\n"
    ns = {"math": math, "_sel": _sel, "quiet": quiet}
    exec(src, ns)  # our own fixed source
    for name in (*LIBM, "pow"):
        out[f"_lm_{name}"] = njit(cache=False, error_model="numpy")(ns[f"_lm_{name}"])
    return out


_HELPERS: dict = {}
_HELPERS_LOCK = threading.Lock()


def helpers() -> dict:
    with _HELPERS_LOCK:
        if not _HELPERS:
            _wide_vectors()
            _HELPERS.update(_math_helpers())
    return _HELPERS


def _wide_vectors() -> None:
    """Let LLVM's loop vectoriser pick the vector width from the loop's narrowest type, not
    its widest (``-vectorizer-maximize-bandwidth``; its cost model still chooses). A float32
    region that sums into float64, or whose literals promote a step to float64, would
    otherwise run 4 lanes wide instead of 8 (W4: 13.6 ms a step instead of 21 ms). The option
    is process-wide: it changes the speed of later numba compilations in the process, never
    their results (without fast-math LLVM vectorises only what keeps the bits)."""
    import llvmlite.binding as llvm

    if not getattr(llvm, "_graphcompare_wide", False):  # once a process: LLVM counts an option's occurrences
        llvm.set_option("graphcompare", "-vectorizer-maximize-bandwidth")
        llvm._graphcompare_wide = True


# --------------------------------------------------------------------------- compile + cache

_CACHE: dict = {}
_STATS = {"hits": 0, "misses": 0, "disk_modules": 0}
_LOCK = threading.RLock()
_SELF_HASH = hashlib.sha1(b"".join(open(os.path.join(os.path.dirname(__file__), f), "rb").read()
                                   for f in ("fusion_cpu.py", "fusion_spec.py"))).hexdigest()[:12]

_PRELUDE = """\
import math
import numpy as np
from numba import njit
from shared_ops.fusion_cpu import helpers as _h
globals().update(_h())
sqrt, _floor, _copysign = np.sqrt, np.floor, math.copysign
_f16, _f32, _f64, _bool = np.float16, np.float32, np.float64, np.bool_
_i8, _i16, _i32, _i64 = np.int8, np.int16, np.int32, np.int64
_u8, _u16, _u32, _u64 = np.uint8, np.uint16, np.uint32, np.uint64
"""


def _source(spec: KernelSpec) -> tuple[str, str]:
    body = _PRELUDE + "\n\n@njit(nogil=True, cache=True, error_model=\"numpy\")\n" + generate_source(spec)
    return body, hashlib.sha1((body + _SELF_HASH).encode()).hexdigest()[:20]


def _load(spec: KernelSpec):
    body, digest = _source(spec)
    d = fusion_cache.cache_dir()
    stem = f"gc_fused_{digest}"
    if d is None:  # no writable folder: compile in memory
        ns: dict[str, Any] = {}
        exec(compile(body.replace("cache=True", "cache=False"), f"<fused {digest}>", "exec"), ns)
        return ns["kernel"], None
    fusion_cache.verify(d, stem, body)
    modname = f"_gc_fused_{digest}"
    mod = sys.modules.get(modname)
    if mod is None:
        spec_ = importlib.util.spec_from_file_location(modname, os.path.join(d, stem + ".py"))
        mod = importlib.util.module_from_spec(spec_)
        spec_.loader.exec_module(mod)
        sys.modules[modname] = mod
        _STATS["disk_modules"] += 1
    return mod.kernel, (d, stem)


def compile_kernel(spec: KernelSpec):
    """The numba dispatcher for ``spec`` (cached in process by ``spec``); its machine code is
    made (or loaded from disk) at the first call for each argument layout: see ``build``."""
    with _LOCK:
        hit = _CACHE.get(spec)
        if hit is not None:
            _STATS["hits"] += 1
            return hit[0]
        _STATS["misses"] += 1
        kernel, where = _load(spec)
        _CACHE[spec] = (kernel, where)
        return kernel


def build(spec: KernelSpec, readonly: tuple = ()) -> tuple[Any, float]:
    """``(dispatcher, seconds)``: the kernel for ``spec`` with machine code for C-contiguous
    inputs (``readonly``: which inputs are read-only arrays, a type of their own to numba)
    made or loaded now, then closed to further compilation (a call with another layout raises
    ``TypeError``; the caller runs the NumPy tier and asks for that layout with ``add_layout``)."""
    import numpy as np

    t0 = time.perf_counter()
    kernel = compile_kernel(spec)
    shape = tuple(s[1] if s[0] == "static" else 1 for s in spec.loop_sources())
    ins = []
    for (dt, dims), ro in zip(spec.inputs, tuple(readonly) or (False,) * len(spec.inputs)):
        a = np.ones(tuple(1 if d is None else shape[d] for d in dims), dtype=dt)
        a.flags.writeable = not ro
        ins.append(a)
    outs = [np.empty(tuple(1 if d in o.reduce else n for d, n in enumerate(shape)), dtype=o.dtype)
            for o in spec.outputs]
    with _LOCK:
        kernel.disable_compile(False)
        with np.errstate(all="ignore"):
            kernel(*ins, *outs)
        kernel.disable_compile(True)
        where = _CACHE[spec][1]
        if where is not None:
            fusion_cache.record(*where)
    return kernel, time.perf_counter() - t0


def add_layout(kernel, types: tuple) -> None:
    """Compile ``kernel`` for the argument types ``types`` (numba types) as well."""
    with _LOCK:
        kernel.disable_compile(False)
        try:
            kernel.compile(types)
        finally:
            kernel.disable_compile(True)


def cache_info() -> dict:
    """``{"hits", "misses", "entries", "disk_modules", "rebuilt"}`` of the compile cache
    (``rebuilt``: on-disk entries found corrupt or foreign and deleted)."""
    return dict(_STATS, entries=len(_CACHE), rebuilt=fusion_cache.STATS["rebuilt"])


def clear_cache() -> None:
    """Forget the in-process cache (the on-disk numba cache stays)."""
    with _LOCK:
        _CACHE.clear()
