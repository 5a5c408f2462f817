"""The whole-step tier's kernels: matrix products and sums in one fixed order, in two tiers.

A small program can run as ONE compiled function (``staticgraph.wholestep``): numba runs
every instruction of the step in one call, where the executable pays a Python call and a NumPy
dispatch (about a microsecond) per instruction. Its NumPy tier, which runs until that function
is built, must give the same bits, so every computing instruction is written here twice with
the same arithmetic in the same order:

- a matrix product ``c[i, j] = a[i, 0] * b[0, j] + a[i, 1] * b[1, j] + ...``, added left to
  right in the product's dtype: in NumPy, the products broadcast into one array and
  ``np.add.accumulate`` along ``k`` (accumulate adds in sequence, unlike ``sum``, which adds
  pairwise); in numba, loops whose inner loop runs over ``j`` (or ``i``) so it vectorises
  without reordering any element's additions. Each product and each addition is one exactly
  rounded IEEE operation in both, and numba compiles without fast-math, so LLVM may not
  contract a multiply and an add into an FMA;
- a sum: the reduced axes moved last, flattened, and added left to right the same way;
- a fused region: its own two tiers (``fusion_numpy`` / ``fusion_cpu``), bitwise alike.

``build(source, args)`` compiles a generated step module in the on-disk cache, with the
fused kernels' rules (``fusion_cache``): a module named by the hash of its text, numba's files
checked against recorded checksums before they are loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
import time

import numpy as np

from . import fusion_cache
from .fusion_cpu import _PRELUDE, _SELF_HASH

__all__ = ["matmul_seq", "sum_seq", "NUMBA_HELPERS", "build", "module_source"]


# --------------------------------------------------------------------------- NumPy tier


def _seq0(p):
    """``p[0] + p[1] + ...`` in sequence along axis 0: ``accumulate`` defines each partial sum
    from the previous one, whatever order its iterator takes (``add.reduce`` may add pairwise)."""
    if p.shape[0] == 1:
        return p[0].copy()
    return np.add.accumulate(p, axis=0)[-1]


def matmul_seq(a, b, ta: bool = False, tb: bool = False):
    """``a @ b`` (``a.T``/``b.T`` when ``ta``/``tb``; ranks 1 or 2) with every element's
    products added left to right along ``k`` in the operands' dtype."""
    if ta:
        a = a.T
    if tb:
        b = b.T
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    m, k = a2.shape
    n = b2.shape[1]
    with np.errstate(all="ignore"):
        if k == 0:
            r = np.zeros((m, n), np.result_type(a, b))
        else:
            r = _seq0(np.multiply(a2.T[:, :, None], b2[:, None, :]))  # (k, m, n), fresh and C-contiguous
    if a.ndim == 1 and b.ndim == 1:
        return r.reshape(())
    if a.ndim == 1:
        return r.reshape((n,))
    if b.ndim == 1:
        return r.reshape((m,))
    return r


def sum_seq(x, axes: tuple, shape: tuple):
    """``x`` summed over ``axes`` (result reshaped to ``shape``), each output's values added
    left to right in C order, in ``x``'s dtype."""
    keep = [d for d in range(x.ndim) if d not in axes]
    kept = int(np.prod([x.shape[d] for d in keep], dtype=np.int64))
    r = int(np.prod([x.shape[d] for d in axes], dtype=np.int64))
    if r == 0:
        return np.zeros(shape, x.dtype)
    t = np.ascontiguousarray(np.transpose(x, list(axes) + keep)).reshape((r, kept))
    with np.errstate(all="ignore"):
        return _seq0(t).reshape(shape)


# --------------------------------------------------------------------------- numba tier

# The same orders as the NumPy tier's, in loops (see the module docstring).
NUMBA_HELPERS = '''
@njit(nogil=True, cache=True, error_model="numpy")
def _mm22(a, b):
    m, k = a.shape
    n = b.shape[1]
    out = np.empty((m, n), a.dtype)
    for i in range(m):
        if k == 0:
            for j in range(n):
                out[i, j] = 0
            continue
        a0 = a[i, 0]
        for j in range(n):
            out[i, j] = a0 * b[0, j]
        for q in range(1, k):
            aq = a[i, q]
            for j in range(n):
                out[i, j] = out[i, j] + aq * b[q, j]
    return out


@njit(nogil=True, cache=True, error_model="numpy")
def _mm21(a, b):
    m, k = a.shape
    out = np.empty(m, a.dtype)
    if k == 0:
        for i in range(m):
            out[i] = 0
        return out
    b0 = b[0]
    for i in range(m):
        out[i] = a[i, 0] * b0
    for q in range(1, k):
        bq = b[q]
        for i in range(m):
            out[i] = out[i] + a[i, q] * bq
    return out


@njit(nogil=True, cache=True, error_model="numpy")
def _mm12(a, b):
    k, n = b.shape
    out = np.empty(n, a.dtype)
    if k == 0:
        for j in range(n):
            out[j] = 0
        return out
    a0 = a[0]
    for j in range(n):
        out[j] = a0 * b[0, j]
    for q in range(1, k):
        aq = a[q]
        for j in range(n):
            out[j] = out[j] + aq * b[q, j]
    return out


@njit(nogil=True, cache=True, error_model="numpy")
def _mm11(a, b):
    k = a.shape[0]
    out = np.empty((), a.dtype)
    if k == 0:
        out[()] = 0
        return out
    acc = a[0] * b[0]
    for q in range(1, k):
        acc = acc + a[q] * b[q]
    out[()] = acc
    return out


@njit(nogil=True, cache=True, error_model="numpy")
def _sumrows(t):
    m, r = t.shape
    out = np.empty(m, t.dtype)
    for i in range(m):
        if r == 0:
            out[i] = 0
            continue
        acc = t[i, 0]
        for q in range(1, r):
            acc = acc + t[i, q]
        out[i] = acc
    return out
'''


def module_source(parts: list[str]) -> str:
    """The step module: the fused kernels' prelude, the helpers above, then ``parts``."""
    return _PRELUDE + NUMBA_HELPERS + "\n\n" + "\n\n".join(parts)


_LOCK = threading.RLock()
_STATS = {"builds": 0}


def _import(body: str):
    digest = hashlib.sha1((body + _SELF_HASH + _HELPERS_HASH).encode()).hexdigest()[:20]
    d = fusion_cache.cache_dir()
    stem = f"gc_step_{digest}"
    if d is None:  # no writable folder: compile in memory
        ns: dict = {}
        exec(compile(body.replace("cache=True", "cache=False"), f"<step {digest}>", "exec"), ns)  # our own generated code
        return ns, None
    with _LOCK:
        modname = f"_gc_step_{digest}"
        mod = sys.modules.get(modname)
        if mod is None:
            fusion_cache.verify(d, stem, body)
            spec = importlib.util.spec_from_file_location(modname, os.path.join(d, stem + ".py"))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            sys.modules[modname] = mod
        return vars(mod), (d, stem)


def example(args: list):
    """Arrays of the types the step is compiled for: ``args`` is ``(shape, dtype)`` per argument
    (C-contiguous, writable)."""
    return [np.zeros(shape, dtype) for shape, dtype in args]


def build(body: str, args: list) -> tuple:
    """``(dispatcher of the module's ``step``, seconds)``: machine code for ``args`` (see
    ``example``) made or loaded from the disk cache now; then closed to further compiling
    (another layout raises ``TypeError``: the caller runs the NumPy tier and may ask for it
    with ``fusion_cpu.add_layout``)."""
    import numba

    from . import fusion_cpu

    t0 = time.perf_counter()
    ns, where = _import(body)
    step = ns["step"]
    # the one lock that guards a dispatcher's compile switch: a later layout takes it too
    fusion_cpu.add_layout(step, tuple(numba.typeof(a) for a in example(args)))
    if where is not None:
        fusion_cache.record(*where)
    _STATS["builds"] += 1
    return step, time.perf_counter() - t0


_HELPERS_HASH = hashlib.sha1(NUMBA_HELPERS.encode()).hexdigest()[:12]
