"""The first tier of a fused region: its scalar code evaluated by NumPy, a block of rows at a time.

``interpreter(spec)`` returns ``kernel(in0, ..., out0, ...)`` with the calling convention of
the numba loop (``fusion_cpu``): it checks the same broadcasting pattern (``ValueError`` on a
mismatch, so the caller falls back exactly as it would from the loop), evaluates every step's
statements from ``fusion_spec.step_code`` on arrays, and writes the outputs into the arrays
it is given. Building it costs the generation of a few lines of Python (no machine code), so a
compiled function runs at once while the loop is compiled in the background
(``shared_ops.fusion_jit``); then the loop takes over.

The loop is cut into blocks of rows of about ``ELEMENTS`` elements and every step runs on one
block before the next: the temporaries are a block long, so they stay in cache and their
memory is reused, where whole-array steps stream each temporary through memory and, on a first
call, fault in fresh pages for each (W4, 4M elements: first call about 0.6 s whole-array,
0.2 s in blocks of 131,072; ``benchmarks/bench_compile.py``).

The two tiers give the same bits (``tests/staticgraph/test_tiers.py`` compares bytes): the
scalar language is made of exactly rounded operations evaluated with numba's typing (float64
literals, bools as int64 in arithmetic), the C library's functions are called through
``ctypes`` (the loop calls the same ones), the steps are elementwise (a block computes what
the whole array would), and the sums reproduce the loop's order across blocks: a partial sum
accumulates in float64 in loop order (``cumsum``, which is sequential, continued from the
previous block's total), a full sum goes through ``_sum8``'s eight lanes per block of
``BLOCK`` elements exactly as the loop does (``ELEMENTS`` is a multiple of ``BLOCK``).
"""

from __future__ import annotations

import ast
import ctypes
import ctypes.util
import functools
import threading

import numpy as np

from .fusion_spec import BLOCK, LIBM, KernelSpec, loop_view, prologue, step_code, substitute, template, weak

__all__ = ["interpreter", "generate_numpy_source"]


def _libm():
    path = ctypes.util.find_library("m")
    lib = ctypes.CDLL(path) if path else ctypes.CDLL(None)
    out = {}
    for name in LIBM + ("pow",):
        f = getattr(lib, name)
        f.restype = ctypes.c_double
        f.argtypes = [ctypes.c_double] * (2 if name == "pow" else 1)
        out[name] = f
    return out


_LIBM = _libm()


def _quiet(r):
    r[r != r] = np.nan  # the one quiet NaN, as the compiled loop returns
    return r


def _unary(f):
    def call(x):
        x = np.asarray(x, dtype=np.float64)
        r = np.fromiter(map(f, x.ravel().tolist()), np.float64, count=x.size).reshape(x.shape)
        return _quiet(r)

    return call


def _pow(a, b):
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    f = _LIBM["pow"]
    r = np.fromiter(map(f, a.ravel().tolist(), b.ravel().tolist()), np.float64, count=a.size).reshape(a.shape)
    return _quiet(r)


def _n(x):
    """numba's arithmetic on a bool takes it as an int64."""
    return x.astype(np.int64) if getattr(x, "dtype", None) == np.bool_ else x


_CHUNK = 1 << 15  # elements per block of the written-out exp/tanh (its temporaries stay in cache)
_F = np.float32
_EXPM1_C = tuple(_F(c) for c in (0.5, 0.1666654795408249, 0.04166685417294502, 0.008366058580577374,
                                 0.0013898230390623212))


def _expm1_32(y):
    """``fusion_spec._EXPM1_32`` on the float32 block ``y``: the same operations in the same
    order; returns ``(n, q)``."""
    n = np.multiply(y, _F(1.4426950408889634))
    np.add(n, _F(0.5), out=n)
    np.floor(n, out=n)
    r = np.subtract(y, np.multiply(n, _F(0.693145751953125)))
    r -= np.multiply(n, _F(1.428606765330187e-06))
    p = np.multiply(r, _EXPM1_C[-1])  # Horner from the innermost term: c + r * (...)
    for k in range(len(_EXPM1_C) - 2, -1, -1):
        np.add(p, _EXPM1_C[k], out=p)
        if k:
            np.multiply(p, r, out=p)
    q = np.multiply(r, r)
    np.multiply(q, p, out=q)
    np.add(r, q, out=q)
    return n, q


def _pow2_f32(n):
    """``2**n`` from its bits, as the compiled loop's ``_pow2_f32``."""
    k = np.asarray(n, _F).astype(np.int32)
    k += np.int32(127)
    k <<= np.int32(23)
    return k.view(_F)


def _blocks(arg, body):
    """``body(x_block, out_block)`` over blocks of ``float32(arg)``; the float32 result."""
    x = np.asarray(arg).astype(_F)
    out = np.empty(x.shape, _F)
    xf, of = x.reshape(-1), out.reshape(-1)
    for s in range(0, xf.size, _CHUNK):
        body(xf[s:s + _CHUNK], of[s:s + _CHUNK])
    return out if out.ndim else out[()]


def _inline_exp(arg):
    """``INLINE["exp"]`` on arrays."""
    def body(x, out):
        y = np.where(x > _F(89.0), _F(89.0), np.where(x < _F(-104.0), _F(-104.0), x))
        n, q = _expm1_32(y)
        k = n < _F(0.0)
        np.add(q, _F(1.0), out=q)
        np.multiply(q, np.where(k, _F(5.421010862427522e-20), _F(1.8446744073709552e+19)), out=q)
        np.multiply(q, _pow2_f32(np.subtract(n, np.where(k, _F(-64.0), _F(64.0)))), out=q)
        out[...] = np.where(x == x, q, x)
    return _blocks(arg, body)


def _inline_tanh(arg):
    """``INLINE["tanh"]`` on arrays."""
    def body(x, out):
        a = np.abs(x)
        y = np.where(a > _F(10.0), _F(10.0), a)
        np.multiply(y, _F(2.0), out=y)  # _F(2.0) * y: the same product
        n, q = _expm1_32(y)
        s = _pow2_f32(n)
        np.multiply(q, s, out=q)
        np.subtract(s, _F(1.0), out=s)
        np.add(q, s, out=q)  # u
        d = np.add(q, _F(2.0))
        np.divide(q, d, out=q)
        np.copysign(q, x, out=q)
        out[...] = np.where(x != x, x, q)
    return _blocks(arg, body)


def _sum8_rows(t):
    """``_sum8`` of each row of the 2-d float64 ``t``: eight lanes taking the values in turn
    (the tail joins lane 0), combined pairwise; every addition in the loop's order."""
    rows, m = t.shape
    g = m // 8
    lanes = np.zeros((rows, 8))
    if g:
        grouped = t[:, :g * 8].reshape(rows, g, 8)
        lanes = np.cumsum(np.concatenate([lanes[:, None, :], grouped], axis=1), axis=1)[:, -1, :]
    for i in range(g * 8, m):
        lanes[:, 0] = lanes[:, 0] + t[:, i]
    a = lanes.T
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))


def _seq(init, values):
    """``init + v0 + v1 + ...`` left to right along the last axis of ``values`` (``init``: one
    value per row): ``cumsum`` adds in order, where ``sum`` would add pairwise."""
    return np.cumsum(np.concatenate([init[..., None], values], axis=-1), axis=-1)[..., -1]


def _block_shape(v, s, e, shape):
    return np.broadcast_to(np.asarray(v).astype(np.float64), (e - s,) + shape[1:])


def _sum_1d(acc, v, s, e, shape):
    """The loop's 1-d full sum, continued over the loop's elements ``s:e`` (``s`` a multiple of
    ``BLOCK``): ``acc + _sum8(block) + ...`` per block of ``BLOCK``, as the loop adds them."""
    v = _block_shape(v, s, e, shape)
    n = e - s
    full = n // BLOCK
    sums = [_sum8_rows(v[:full * BLOCK].reshape(full, BLOCK))] if full else []
    if n > full * BLOCK:
        sums.append(_sum8_rows(v[full * BLOCK:][None, :]))
    return _seq(np.asarray(acc), np.concatenate(sums)) if sums else acc


def _sum_rows(tmp, v, s, e, shape):
    """The loop's full sum of rank > 1, continued over rows ``s:e``: ``tmp[i]`` adds the values
    at innermost index ``i`` in loop order (``_sum8(tmp)`` at the end gives the sum)."""
    if tmp.size:
        v = _block_shape(v, s, e, shape)
        tmp[...] = _seq(tmp, np.moveaxis(v.reshape(-1, shape[-1]), 0, -1))


def _sum_partial(acc, v, reduce, s, e, shape):
    """The loop's partial sum, continued over rows ``s:e``: each kept index adds its values in
    loop (C) order into ``acc`` (float64, keepdims; the rows ``s:e`` of it when dim 0 is kept)."""
    v = _block_shape(v, s, e, shape)
    keep = [d for d in range(len(shape)) if d not in reduce]
    kept = tuple(v.shape[d] for d in keep)
    r = 1
    for d in reduce:
        r *= v.shape[d]
    values = np.transpose(v, keep + list(reduce)).reshape(kept + (r,))
    acc[...] = _seq(acc.reshape(kept), values).reshape(acc.shape)


ELEMENTS = 64 * BLOCK  # elements per block of the NumPy tier: a multiple of BLOCK (1-d sums)


def _rows(shape) -> int:
    """Rows per block: about ``ELEMENTS`` elements; for a 1-d loop a multiple of ``BLOCK``, where
    its full sums cut their blocks (tests set ``ELEMENTS`` to 1: a row, or ``BLOCK``, a block)."""
    if len(shape) == 1:
        return max(BLOCK, ELEMENTS // BLOCK * BLOCK)
    inner = 1
    for n in shape[1:]:
        inner *= n
    return max(1, ELEMENTS // max(inner, 1))


_CONSTS: dict = {}  # name -> strongly typed NumPy scalar, shared by every generated tier


class _ToNumpy(ast.NodeTransformer):
    """The scalar language on arrays: literals as strongly typed NumPy scalars, bools as int64
    in arithmetic."""

    ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.FloorDiv)

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return node
        if isinstance(v, float):
            value = np.float64(v)
            name = f"_kf{int(value.view(np.int64)) & (2**64 - 1):x}"
        else:
            value = np.int64(v)
            name = f"_ki{v}".replace("-", "m")
        _CONSTS.setdefault(name, value)
        return ast.Name(name, ast.Load())

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, self.ARITH):
            node.left, node.right = ast.Call(ast.Name("_n", ast.Load()), [node.left], []), \
                ast.Call(ast.Name("_n", ast.Load()), [node.right], [])
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.USub):
            node.operand = ast.Call(ast.Name("_n", ast.Load()), [node.operand], [])
        return node


_GLOBALS = {
    "_np": np, "_lv": loop_view, "_n": _n, "_sel": np.where, "_floor": np.floor, "_copysign": np.copysign,
    "abs": np.abs, "sqrt": np.sqrt, "_pow2_f32": _pow2_f32, "_opaque": lambda x: x, "_lm_pow": _pow,
    "_rows": _rows, "_sum_1d": _sum_1d, "_sum_rows": _sum_rows, "_sum_partial": _sum_partial,
    "_sum8_rows": _sum8_rows, "_inline_exp": _inline_exp, "_inline_tanh": _inline_tanh,
    "_f16": np.float16, "_f32": np.float32, "_f64": np.float64, "_bool": np.bool_,
    "_i8": np.int8, "_i16": np.int16, "_i32": np.int32, "_i64": np.int64,
    "_u8": np.uint8, "_u16": np.uint16, "_u32": np.uint32, "_u64": np.uint64,
    **{f"_lm_{name}": _unary(_LIBM[name]) for name in LIBM},
}


def generate_numpy_source(spec: KernelSpec, name: str = "kernel") -> tuple[str, dict]:
    """``(source, constants)``: the NumPy evaluation of ``spec`` (readable; tests read it): a
    loop over blocks of rows along loop dim 0 (see the module docstring), each running every
    step and adding to the sums' accumulators."""
    n_in, nd = len(spec.inputs), spec.ndim
    L = prologue(spec, name)
    loop = "(" + "".join(f"n{d}, " for d in range(nd)) + ")"
    L.append("    with _np.errstate(all='ignore'):")
    for j, (_, dims) in enumerate(spec.inputs):
        L.append(f"        V{j} = _lv(_np, in{j}, {dims!r}, {nd})")
    fulls = spec.full_sums()
    for k, o in enumerate(spec.outputs):
        if k in fulls and nd == 1:
            L.append(f"        acc{k} = _np.float64(0.0)")
        elif k in fulls:
            L.append(f"        acc{k} = _np.zeros(n{nd - 1})")
        elif o.reduce:
            L.append(f"        acc{k} = _np.zeros(({', '.join('1' if d in o.reduce else f'n{d}' for d in range(nd))},))")
    ind = "        "
    if nd:
        L.append(f"        _nr = _rows({loop})")
        L.append("        for _bs in range(0, n0, _nr):")
        L.append("            _be = min(_bs + _nr, n0)")
        ind += "    "
    for j, (_, dims) in enumerate(spec.inputs):
        L.append(f"{ind}v{j} = V{j}[_bs:_be]" if 0 in dims else f"{ind}v{j} = V{j}")
    for s, step in enumerate(spec.steps):
        args, prefix = [f"v{a}" for a in step.args], f"t{n_in + s}"
        if step.op in ("copy", "broadcast_to"):
            L.append(f"{ind}v{n_in + s} = {args[0]}")
            continue
        w = weak(spec, step)
        try:
            stmts, expr = _np_template(step.op, step.attrs, step.dtype, len(step.args), w)
        except TypeError:  # an unhashable attribute value: no cache
            stmts, expr = step_code(step, args, prefix, w)
            stmts, expr = [_np_code(st) for st in stmts], _np_code(expr)
        else:
            stmts, expr = [substitute(st, args, prefix) for st in stmts], substitute(expr, args, prefix)
        L.extend(ind + st for st in stmts)
        L.append(f"{ind}v{n_in + s} = {expr}")
    for k, o in enumerate(spec.outputs):
        if not o.reduce:
            L.append(f"{ind}out{k}[{'_bs:_be' if nd else '...'}] = v{o.value}")
        elif k in fulls and nd == 1:
            L.append(f"{ind}acc{k} = _sum_1d(acc{k}, v{o.value}, _bs, _be, {loop})")
        elif k in fulls:
            L.append(f"{ind}_sum_rows(acc{k}, v{o.value}, _bs, _be, {loop})")
        else:
            acc = f"acc{k}" if 0 in o.reduce else f"acc{k}[_bs:_be]"
            L.append(f"{ind}_sum_partial({acc}, v{o.value}, {tuple(o.reduce)!r}, _bs, _be, {loop})")
    for k, o in enumerate(spec.outputs):
        if k in fulls and nd > 1:
            L.append(f"        out{k}[...] = _sum8_rows(acc{k}[None, :])[0]")
        elif o.reduce:
            L.append(f"        out{k}[...] = acc{k}")
    return "\n".join(L) + "\n", dict(_CONSTS)


def _np_code(text: str) -> str:
    return ast.unparse(ast.fix_missing_locations(_ToNumpy().visit(ast.parse(text))))


@functools.lru_cache(maxsize=None)
def _np_template(op: str, attrs: tuple, dtype: str, nargs: int, weak: bool = False) -> tuple[tuple, str]:
    stmts, expr = template(op, attrs, dtype, nargs, **({"weak": True} if weak else {}))
    return tuple(_np_code(st) for st in stmts), _np_code(expr)


_CACHE: dict = {}
_LOCK = threading.Lock()


def interpreter(spec: KernelSpec):
    """The NumPy tier of ``spec`` (cached in process by spec)."""
    with _LOCK:
        k = _CACHE.get(spec)
        if k is None:
            src, consts = generate_numpy_source(spec)
            g = dict(_GLOBALS, **consts)
            exec(compile(src, "<fused region, NumPy tier>", "exec"), g)  # our own generated code
            k = _CACHE[spec] = g["kernel"]
            k.source = src
        return k
