"""What a fused region computes, element by element: the spec and its scalar code.

A fused region is a ``KernelSpec``: the loop shape, each input's index map, the region's ops
(``Step``) and what it writes (``Output``). ``step_code`` turns one step into statements of a
small scalar language that both CPU tiers evaluate (``fusion_numpy``: NumPy, a block of rows
at a time, no machine code to build; ``fusion_cpu``: a numba loop nest). The language is chosen so
that the two give the same bits:

- ``+ - * /``, comparisons, ``& | <<``, ``abs``, ``sqrt``, ``_floor``, ``_copysign``, casts
  (``_f32(x)``, ``_i64(x)``...), ``_sel(c, a, b)`` (``a if c else b``, both sides computed)
  and ``_pow2_f32(n)`` (the float32 ``2**n`` for an integral float32 ``n`` in [-126, 127],
  from its bits) are exact or exactly rounded: NumPy and LLVM compute them alike, as long as
  the compiled loop may not reassociate or contract them (it is compiled without fast-math);
- numbers are float64/int64 literals (NumPy: strongly typed scalars), so a float64 value
  times ``0.5`` is computed in float64 in both, as numba types it; a bool in arithmetic is an
  int64 (numba's rule); in a float32 step whose inputs are all float32 a float literal is
  float32 (``_f32(0.5)``, ``weak``): the step computes in float32, as the op's unfused NumPy
  kernel does with a Python float (NEP 50), and the compiled loop stays 8 lanes wide;
- the transcendental functions are either written out (float32 ``exp``/``tanh``: a
  range-reduced polynomial in float32 made of the operations above, ``INLINE``; its
  constants are ``_f32(literal)``, float32 in both tiers) or calls to the C
  library's double function (``_lm_exp``...: glibc's ``exp``, the same machine code for the
  compiled loop and, through ``ctypes``, for the NumPy tier), whose NaN results are made the
  one quiet NaN; a ``pow`` exponent is hidden from LLVM (``_opaque``), which would otherwise
  rewrite ``pow(x, 0.5)`` into a ``sqrt`` that rounds differently;
- ``maximum``/``minimum`` propagate NaN as NumPy's: ``a if a >= b or a != a else b``.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass

from .registry import REGISTRY

BLOCK = 2048  # elements a full-sum block holds (16 kB of float64: stays in L1)
LIBM = ("exp", "log", "tanh", "log1p", "expm1", "sin", "cos")  # _lm_<name>: the C library's double function


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
    """A fused region: the hashable description every code generator reads.

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

    def full_sums(self) -> list:
        """The outputs summed over every loop dim (accumulated by ``_sum8`` in a fixed order)."""
        return [k for k, o in enumerate(self.outputs) if o.reduce and len(o.reduce) == self.ndim]


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

CAST = {
    "float16": "_f16", "float32": "_f32", "float64": "_f64", "bool": "_bool",
    "int8": "_i8", "int16": "_i16", "int32": "_i32", "int64": "_i64",
    "uint8": "_u8", "uint16": "_u16", "uint32": "_u32", "uint64": "_u64",
}

# float32 exp and tanh, written out as statements evaluated in float32 (8 lanes of a 256-bit
# register where float64 would have 4). Range reduction y = n*ln2 + r, |r| <= ln2/2: n =
# floor(y*log2(e) + 0.5), r = (y - n*LN2_HI) - n*LN2_LO with ln2 split in two (LN2_HI has 15
# significant bits, so n*LN2_HI is exact for |n| <= 511 and the first subtraction is exact,
# Sterbenz); q = expm1(r) = r + r*r*(0.5 + r*C(r)), C of degree 3 fitted to the relative error
# on |r| <= 0.3467 (benchmarks/bench_fused_math.py --fit: 1.5e-8 with float32 coefficients,
# vanishing near 0; Taylor needs one term more for as much);
# 2**n is built from its bits (``_pow2_f32``: float32 -> int32, add the bias, shift, no
# float64 -> int64 conversion, which AVX2 lacks). exp = ((1 + q) * 2**h) * 2**(n-h), h = -64
# for n < 0 and 64 otherwise (n is in [-150, 128]): the first product is exact and normal,
# the second rounds once, also to a subnormal or to inf.
# tanh(|x|) = u / (u + 2) with u = expm1(2|x|) = 2**n*q + (2**n - 1): no cancellation near 0
# (u = 2|x| there), where (e - 1)/(e + 1) would lose every bit. Measured on every third float32
# (benchmarks/bench_fused_math.py): exp within 1 ulp of the correctly rounded result, tanh
# within 3 (three roundings: q, u + 2, the division; 2 or more for 0.03% of inputs). The
# compiled loop vectorises them, where a call to libm's expf/tanhf would not. {t} is a unique
# prefix, {x} the argument's name (a
# float32 value: the step's dtype is float32, and every op calling exp/tanh passes an input or
# its negation, whose conversion to float32 is exact).
_EXPM1_32 = """\
{t}n = _floor({t}y * _f32(1.4426950408889634) + _f32(0.5))
{t}r = ({t}y - {t}n * _f32(0.693145751953125)) - {t}n * _f32(1.428606765330187e-06)
{t}q = {t}r + {t}r * {t}r * (_f32(0.5) + {t}r * (_f32(0.1666654795408249) + {t}r * (_f32(0.04166685417294502) + {t}r * (_f32(0.008366058580577374) + {t}r * _f32(0.0013898230390623212)))))"""
INLINE = {
    "exp": """\
{t}x = _f32({x})
{t}y = _sel({t}x > _f32(89.0), _f32(89.0), _sel({t}x < _f32(-104.0), _f32(-104.0), {t}x))
""" + _EXPM1_32 + """
{t}k = {t}n < _f32(0.0)
{t}e = ((_f32(1.0) + {t}q) * _sel({t}k, _f32(5.421010862427522e-20), _f32(1.8446744073709552e+19))) * _pow2_f32({t}n - _sel({t}k, _f32(-64.0), _f32(64.0)))
{t}v = _sel({t}x == {t}x, {t}e, {t}x)""",
    "tanh": """\
{t}x = _f32({x})
{t}a = abs({t}x)
{t}y = _f32(2.0) * _sel({t}a > _f32(10.0), _f32(10.0), {t}a)
""" + _EXPM1_32 + """
{t}s = _pow2_f32({t}n)
{t}u = {t}s * {t}q + ({t}s - _f32(1.0))
{t}h = _copysign({t}u / ({t}u + _f32(2.0)), {t}x)
{t}v = _sel({t}x != {t}x, {t}x, {t}h)""",
}


def _call(name: str, *args) -> ast.Call:
    return ast.Call(ast.Name(name, ast.Load()), list(args), [])


class _Normalise(ast.NodeTransformer):
    """An op's ``scalar_expr`` in the shared scalar language (see the module docstring);
    float32 ``exp``/``tanh`` are hoisted into statements (inner calls first)."""

    def __init__(self, dtype: str, prefix: str):
        self.dtype, self.prefix, self.stmts, self.count = dtype, prefix, [], 0

    def visit_IfExp(self, node):
        self.generic_visit(node)
        return _call("_sel", node.test, node.body, node.orelse)

    def visit_BoolOp(self, node):  # on bools: and/or are & and |
        self.generic_visit(node)
        op = ast.BitAnd() if isinstance(node.op, ast.And) else ast.BitOr()
        out = node.values[0]
        for v in node.values[1:]:
            out = ast.BinOp(out, op, v)
        return out

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return _call("_sel", node.operand, ast.Constant(False), ast.Constant(True))
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if not isinstance(node.op, ast.Pow):
            return node
        b = node.right
        if isinstance(b, ast.Constant) and b.value in (2, 2.0):  # exact either way; one multiply
            return ast.BinOp(node.left, ast.Mult(), node.left)
        return _call("_lm_pow", _call("_f64", node.left), _call("_opaque", _call("_f64", b)))

    def visit_Call(self, node):
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name in ("max", "min") and len(node.args) == 2:
            a, b = node.args
            cmp = ast.GtE() if name == "max" else ast.LtE()
            test = ast.BinOp(ast.Compare(a, [cmp], [b]), ast.BitOr(), ast.Compare(a, [ast.NotEq()], [a]))
            return _call("_sel", test, a, b)
        if name in INLINE and self.dtype == "float32" and len(node.args) == 1:
            t = f"{self.prefix}_{self.count}_"
            self.count += 1
            self.stmts.append(f"{t}v = _inline_{name}({ast.unparse(node.args[0])})")  # see expand_inline
            return ast.Name(f"{t}v", ast.Load())
        if name in LIBM and len(node.args) == 1:
            return _call(f"_lm_{name}", _call("_f64", node.args[0]))
        if name == "floor":
            return _call("_floor", *node.args)
        return node


class _Weak(ast.NodeTransformer):
    """Float literals beside float32 values made float32 (``_f32(c)``), as NumPy 2 treats a
    Python float next to a float32 array (NEP 50): an operand of ``+ - * /``, of a comparison
    or a side of a ``_sel``. A literal handed to a function (``pow``'s exponent) stays."""

    @staticmethod
    def _wrap(n):
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            n.operand = _Weak._wrap(n.operand)
        elif isinstance(n, ast.Constant) and isinstance(n.value, float):
            return _call("_f32", n)
        return n

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            node.left, node.right = self._wrap(node.left), self._wrap(node.right)
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        node.left, node.comparators = self._wrap(node.left), [self._wrap(c) for c in node.comparators]
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "_sel":
            node.args[1:] = [self._wrap(a) for a in node.args[1:]]
        return node


def weak(spec: KernelSpec, step: Step) -> bool:
    """Whether ``step``'s float literals are float32 (``template``'s ``weak``): a float32 step
    whose inputs are all float32 computes in float32, as the op's unfused NumPy kernel does
    (NEP 50), and the compiled loop keeps 8 lanes where a float64 literal would widen it."""
    if step.dtype != "float32":
        return False
    n_in = len(spec.inputs)
    return all((spec.inputs[a][0] if a < n_in else spec.steps[a - n_in].dtype) == "float32" for a in step.args)


_ARG = re.compile(r"\b__a(\d+)\b")


@functools.lru_cache(maxsize=None)
def template(op: str, attrs: tuple, dtype: str, nargs: int, weak: bool = False) -> tuple[tuple, str]:
    """``step_code`` of a step with inputs named ``__a0, __a1...`` and prefix ``__p``
    (computed once per op, attributes and dtype: a long chain repeats a few steps). ``weak``:
    its float literals are float32 (see ``weak``)."""
    stmts, expr = _step_code(Step(op, tuple(range(nargs)), attrs, dtype), [f"__a{k}" for k in range(nargs)], "__p", weak)
    return tuple(stmts), expr


_INLINE_CALL = re.compile(r"^(\w+)v = _inline_(\w+)\((.*)\)$")


def expand_inline(stmts) -> list:
    """``{t}v = _inline_exp(arg)`` statements written out as ``INLINE``'s statements (the
    compiled loop's form; the NumPy tier calls an equivalent function on blocks instead)."""
    out = []
    for st in stmts:
        m = _INLINE_CALL.match(st)
        if m is None:
            out.append(st)
            continue
        t, name, arg = m.groups()
        out.append(f"{t}arg = {arg}")
        out.extend(INLINE[name].format(t=t, x=f"{t}arg").splitlines())
    return out


# the functions of the scalar language (every name a statement may call)
CALLABLE = frozenset({"_sel", "_floor", "_copysign", "abs", "sqrt", "_pow2_f32", "_opaque", "_lm_pow",
                      *(f"_inline_{name}" for name in INLINE),
                      *CAST.values(), *(f"_lm_{name}" for name in LIBM)})


@functools.lru_cache(maxsize=None)
def fusible(op: str, attrs: tuple, dtype: str, nargs: int) -> bool:
    """Whether the op's ``scalar_expr`` is in the scalar language (both tiers give the same
    bits): an op calling anything else (``np.floor_divide``...) stays unfused."""
    if op in ("copy", "broadcast_to"):
        return True
    try:
        stmts, expr = template(op, attrs, dtype, nargs)
    except (ValueError, SyntaxError, TypeError, KeyError):
        return False
    for text in (*stmts, expr):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in CALLABLE):
                return False
            if isinstance(node, (ast.Attribute, ast.BoolOp, ast.Lambda)):
                return False
    return True


def substitute(text: str, args: list[str], prefix: str) -> str:
    """A template's line with the real input names and prefix."""
    return _ARG.sub(lambda m: args[int(m.group(1))], text).replace("__p", prefix)


def prologue(spec: KernelSpec, name: str, checks: bool = True) -> list[str]:
    """The kernel's signature ``name(in0, ..., out0, ...)``, its loop sizes ``n0, n1...`` and
    the checks both tiers run before computing: each input's broadcasting pattern (the loop
    trusts it; a mismatch raises and the caller falls back) and each output's shape (a wrong
    buffer must not be written past its end). ``checks=False``: none, for a caller that
    guarantees the shapes (a whole step of static shapes; each raise costs numba compile time)."""
    ins = [f"in{j}" for j in range(len(spec.inputs))]
    outs = [f"out{k}" for k in range(len(spec.outputs))]
    L = [f"def {name}({', '.join(ins + outs)}):"]
    sources = spec.loop_sources()
    for d, src in enumerate(sources):
        L.append(f"    n{d} = {src[1]}" if src[0] == "static" else f"    n{d} = in{src[1]}.shape[{src[2]}]")
    for j, (_, dims) in enumerate(spec.inputs if checks else ()):
        for k, d in enumerate(dims):
            if d is not None and sources[d] != ("input", j, k):
                L.append(f"    if in{j}.shape[{k}] != n{d}: raise ValueError('shape')")
            elif d is None:
                L.append(f"    if in{j}.shape[{k}] != 1: raise ValueError('shape')")
    for k, o in enumerate(spec.outputs if checks else ()):
        for d in range(spec.ndim):
            L.append(f"    if out{k}.shape[{d}] != {'1' if d in o.reduce else f'n{d}'}: raise ValueError('out')")
    return L


def step_code(step: Step, args: list[str], prefix: str = "t", weak: bool = False) -> tuple[list[str], str]:
    """``(statements, expression)`` computing one step from its inputs' names, in the scalar
    language both CPU tiers evaluate; the expression is cast to the step's dtype. ``weak``:
    float32 literals (``weak(spec, step)``)."""
    if step.op in ("copy", "broadcast_to"):  # the broadcast is in the input's index pattern
        return [], args[0]
    try:
        stmts, expr = template(step.op, step.attrs, step.dtype, len(step.args), **({"weak": True} if weak else {}))
    except TypeError:  # an unhashable attribute value: no cache
        return _step_code(step, args, prefix, weak)
    return [substitute(st, args, prefix) for st in stmts], substitute(expr, args, prefix)


def _step_code(step: Step, args: list[str], prefix: str, weak: bool = False) -> tuple[list[str], str]:
    op = REGISTRY.get(step.op)
    if op.scalar_expr is None:
        raise ValueError(f"op '{step.op}' has no scalar_expr; it cannot be fused")
    expr = _PREFIX.sub("", op.scalar_expr(*args, **dict(step.attrs)))
    norm = _Normalise(step.dtype, prefix)
    tree = norm.visit(ast.parse(expr, mode="eval"))
    if weak:
        tree = _Weak().visit(tree)
    tree = ast.fix_missing_locations(tree)
    return norm.stmts, f"{CAST[step.dtype]}({ast.unparse(tree)})"


__all__ = ["KernelSpec", "Step", "Output", "loop_view", "prologue", "step_code", "template", "substitute", "fusible", "expand_inline", "weak", "BLOCK",
           "CAST", "LIBM", "CALLABLE"]
