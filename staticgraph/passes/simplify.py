"""simplify: a table of named algebraic rewrites, each exact in IEEE arithmetic.

Every rule is a small function registered under a name in ``RULES`` (the model is tinygrad's
``PatternMatcher`` and PyTensor's tagged local rewrites): its docstring gives the rewrite
``before -> after`` and why it changes no bit of any result. A rule looks at one node and
returns the id that replaces it (``n.id`` when it edited the node in place), or ``None``.
``c1`` below is a constant whose every element is 1 (a ``broadcast_to`` of one counts too),
and so on. A rule that would drop a node for one of its inputs applies only when the input
has the node's shape and dtype, so no broadcasting or cast is lost.

The pass applies the rules, in table order, to every node until none applies (a rewrite may
expose another) and reports how often each rule fired (``2 x x * 1 -> x``).

Switching rules: ``sg.compile(..., optimize={"simplify": {"mul_by_one": False}})`` runs
simplify without that rule (the other passes as usual); ``{"simplify": {"log_softmax": True}}``
turns on a rule that is off by default. ``DEFAULT_ON`` lists the default. Only exact rules are
on by default, so the pass as a whole is exact (``EXACT``) and the equivalence checker holds
it to bitwise equality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from shared_ops.registry import Spec, transpose_perm

from ..program import timed_pass


@dataclass(frozen=True)
class Rule:
    """One named rewrite: ``label`` is its report text, ``exact`` says it changes no bit."""

    name: str
    label: str
    ops: tuple
    rewrite: Callable
    exact: bool = True
    default: bool = True

    @property
    def doc(self) -> str:
        return self.rewrite.__doc__ or ""


RULES: dict[str, Rule] = {}


def rule(name: str, label: str, *ops: str, exact: bool = True, default: bool = True):
    """Register ``fn(program, node) -> replacement id | None`` as the rule ``name`` for ``ops``."""

    def deco(fn):
        RULES[name] = Rule(name, label, ops, fn, exact, default)
        return fn

    return deco


# --------------------------------------------------------------------------- matching helpers


def _unbroadcast(program, i):
    n = program[i]
    while n.op == "broadcast_to" and len(n.inputs) == 1:  # a broadcast constant is constant too
        n = program[n.inputs[0]]
    return n


def _const_all(program, i, value) -> bool:
    """Node ``i`` is a numeric constant whose every element equals ``value`` (``0.0``/``-0.0``:
    the sign of zero must match too)."""
    n = _unbroadcast(program, i)
    if n.op != "constant":
        return False
    v = np.asarray(n.value)
    if v.dtype.kind not in "fiub":
        return False
    if value == 0.0 and v.dtype.kind == "f":
        want = np.signbit(np.float64(value)) if isinstance(value, float) else False
        return bool(np.all(v == 0)) and bool(np.all(np.signbit(v) == want))
    return bool(np.all(v == value))


def _same(program, n, i, other=None) -> bool:
    """Node ``n`` has exactly the shape and dtype of its input ``i`` (so ``n -> i`` loses no
    broadcasting). Free dimensions are only known equal when the other operand is a
    one-element constant (it cannot broadcast anything)."""
    x = program[i]
    if tuple(x.shape) != tuple(n.shape) or x.dtype != n.dtype:
        return False
    if None not in x.shape:
        return True
    if other is None:
        return False
    c = _unbroadcast(program, other)
    return c.op == "constant" and c.value.size == 1 and c.value.ndim <= len(x.shape)


def _identity_operand(program, n, value):
    """The input of binary ``n`` that survives when the other one is all ``value``, or None."""
    ins = n.inputs
    if len(ins) != 2:
        return None
    sides = ((0, 1), (1, 0)) if n.opdef.commutative else ((0, 1),)
    for a, b in sides:
        if _const_all(program, ins[b], value) and _same(program, n, ins[a], ins[b]):
            return ins[a]
    return None



# --------------------------------------------------------------------------- the rules


@rule("mul_by_one", "x * 1 -> x", "mul")
def mul_by_one(program, n):
    """``mul(x, c1) -> x`` and ``mul(c1, x) -> x``.

    Exact: IEEE multiplication by 1 returns its operand unchanged, ``-0.0``, infinities and
    NaN included; integers likewise."""
    return _identity_operand(program, n, 1)


@rule("div_by_one", "x / 1 -> x", "div")
def div_by_one(program, n):
    """``div(x, c1) -> x``.

    Exact: IEEE division by 1 returns its operand unchanged (signed zeros, infinities, NaN)."""
    return _identity_operand(program, n, 1)


@rule("add_negative_zero", "x + (-0.0) -> x", "add")
def add_negative_zero(program, n):
    """``add(x, c-0.0) -> x`` and ``add(c-0.0, x) -> x``.

    Exact: ``x + (-0.0)`` is ``x`` for every ``x``, ``-0.0`` included (``-0.0 + -0.0 = -0.0``).
    ``x + (+0.0)`` is NOT rewritten: it turns ``-0.0`` into ``+0.0``."""
    return _identity_operand(program, n, -0.0)


@rule("sub_positive_zero", "x - 0 -> x", "sub")
def sub_positive_zero(program, n):
    """``sub(x, c+0.0) -> x``.

    Exact: ``x - (+0.0)`` is ``x + (-0.0)``, which is ``x`` (see ``add_negative_zero``)."""
    return _identity_operand(program, n, 0.0)


@rule("double_neg", "neg(neg(x)) -> x", "neg")
def double_neg(program, n):
    """``neg(neg(x)) -> x``.

    Exact: negation flips the sign bit only, so flipping it twice restores every bit."""
    src = program[n.inputs[0]]
    return src.inputs[0] if src.op == "neg" else None


def _own_shape(program, n):
    return n.inputs[0] if _same(program, n, n.inputs[0]) else None


@rule("sum_to_own_shape", "sum_to(x) to its own shape -> x", "sum_to")
def sum_to_own_shape(program, n):
    """``sum_to(x, shape=x.shape) -> x``.

    Exact: summing nothing away returns the values as they are."""
    return _own_shape(program, n)


@rule("broadcast_to_own_shape", "broadcast_to(x) to its own shape -> x", "broadcast_to")
def broadcast_to_own_shape(program, n):
    """``broadcast_to(x, shape=x.shape) -> x``.

    Exact: no value is computed, only the same values read."""
    return _own_shape(program, n)


@rule("reshape_own_shape", "reshape(x) to its own shape -> x", "reshape")
def reshape_own_shape(program, n):
    """``reshape(x, shape=x.shape) -> x``.

    Exact: no value is computed."""
    return _own_shape(program, n)


@rule("astype_own_dtype", "astype(x) to its own dtype -> x", "astype")
def astype_own_dtype(program, n):
    """``astype(x, dtype=x.dtype) -> x``.

    Exact: a cast to the same dtype copies the bits."""
    return n.inputs[0] if program[n.inputs[0]].dtype == n.attrs.get("dtype") else None


@rule("add_n_single", "add_n(x) -> x", "add_n")
def add_n_single(program, n):
    """``add_n(x) -> x``.

    Exact: ``add_n`` is seeded with its first term, so one term is returned as it is."""
    return n.inputs[0] if len(n.inputs) == 1 else None


@rule("reshape_of_reshape", "reshape(reshape(x)) -> reshape(x)", "reshape")
def reshape_of_reshape(program, n):
    """``reshape(reshape(x, s1), s2) -> reshape(x, s2)``.

    Exact: reshapes move no values; only the final shape matters (both row-major)."""
    src = program[n.inputs[0]]
    if src.op != "reshape" or len(src.inputs) != 1 or len(n.inputs) != 1:
        return None
    n.inputs = [src.inputs[0]]
    return n.id


def _composed(program, n):
    """``(x, p∘q)`` for ``n = transpose(transpose(x, p), q)``, else None."""
    src = program[n.inputs[0]]
    if src.op != "transpose":
        return None
    nd = len(n.shape)
    p, q = transpose_perm(n.attrs.get("axes"), nd), transpose_perm(src.attrs.get("axes"), nd)
    return src.inputs[0], tuple(q[k] % nd for k in p)


@rule("transpose_pair_cancels", "transpose(transpose(x)) -> x", "transpose")
def transpose_pair_cancels(program, n):
    """``transpose(transpose(x, p), q) -> x`` when ``p`` then ``q`` restores every axis.

    Exact: transposes move no values."""
    pair = _composed(program, n)
    return pair[0] if pair is not None and pair[1] == tuple(range(len(n.shape))) else None


@rule("transpose_pair_merges", "transpose(transpose(x)) -> transpose(x)", "transpose")
def transpose_pair_merges(program, n):
    """``transpose(transpose(x, p), q) -> transpose(x, p∘q)`` (one transpose instead of two).

    Exact: transposes move no values."""
    pair = _composed(program, n)
    if pair is None:
        return None
    n.inputs, n.attrs = [pair[0]], {**n.attrs, "axes": pair[1]}
    return n.id


@rule("transpose_identity", "transpose(x, identity) -> x", "transpose")
def transpose_identity(program, n):
    """``transpose(x, axes=(0, 1, ..., n-1)) -> x``.

    Exact: no value moves."""
    nd = len(n.shape)
    return n.inputs[0] if tuple(a % nd for a in transpose_perm(n.attrs.get("axes"), nd)) == tuple(range(nd)) else None


@rule("outer_product", "matmul(a[m,1], b[1,n]) -> mul(a, b) + 0", "matmul")
def outer_product(program, n):
    """``matmul(a[m,1], b[1,n]) -> add(mul(a, b), c+0.0)``: an outer product by broadcasting
    (fusion then folds it, and the reshapes feeding it, into one kernel).

    Exact: with an inner dimension of 1 each output is one product added to the zero a matrix
    product starts from: ``0 + a_i b_j``, which is ``a_i b_j`` except that a ``-0.0`` product
    becomes ``+0.0``; the ``+ 0.0`` keeps that. (NumPy's matmul agrees bit for bit: a test
    checks it, zeros of both signs included.)"""
    a, b = (program[i] for i in n.inputs)
    if len(n.inputs) != 2 or len(a.shape) != 2 or len(b.shape) != 2 or a.shape[1] != 1 or b.shape[0] != 1:
        return None
    product = program.add("mul", list(n.inputs), {}, n.spec, before=n.id)
    zero = program.add("constant", [], {}, Spec((), n.dtype), value=np.zeros((), n.dtype), before=product.id)
    n.op, n.inputs, n.attrs = "add", [product.id, zero.id], {}
    return n.id


@rule("matrix_vector", "squeeze(matmul(A, v[:, None])) -> matmul(A, v)", "squeeze")
def matrix_vector(program, n):
    """``squeeze(matmul(A, expand_dims(v, -1)), -1) -> matmul(A, v)`` for a vector ``v``.

    Exact where the backend multiplies a matrix by a one-column matrix as by a vector: NumPy
    calls BLAS gemv for both (a test checks it bit for bit over many shapes and layouts);
    each output is then the same dot product summed in the same order."""
    mm = program[n.inputs[0]]
    if mm.op != "matmul" or len(n.shape) < 1 or len(mm.shape) != 2:
        return None
    v = program[mm.inputs[1]]
    if v.op != "expand_dims" or len(v.inputs) != 1 or len(program[v.inputs[0]].shape) != 1:
        return None
    if n.attrs.get("axis") not in ((1,), 1, (-1,), -1) or v.attrs.get("axis") not in (-1, 1, (-1,), (1,)):
        return None
    n.op, n.attrs, n.inputs = "matmul", {}, [mm.inputs[0], v.inputs[0]]
    return n.id


@rule("log_softmax", "log(softmax(x)) -> log_softmax(x)", "log", exact=False, default=False)
def log_softmax(program, n):
    """``log(softmax(x, axis)) -> log_softmax(x, axis)``. Off by default.

    NOT exact: more accurate (finite where softmax underflows to 0 and the log gave
    ``-inf``), elsewhere within rounding of the original but not bit for bit."""
    s = program[n.inputs[0]]
    if s.op != "softmax":
        return None
    n.op, n.inputs, n.attrs = "log_softmax", [s.inputs[0]], dict(s.attrs)
    return n.id


DEFAULT_ON = tuple(name for name, r in RULES.items() if r.default)
EXACT = all(RULES[name].exact for name in DEFAULT_ON)  # the default table changes no bit


# --------------------------------------------------------------------------- the pass


def enabled(switches: dict | None = None) -> tuple:
    """The rules that run: the defaults, with ``switches`` (``{rule name: bool}``) applied.
    An unknown name raises ``KeyError`` naming the rules."""
    switches = dict(switches or {})
    unknown = [k for k in switches if k not in RULES]
    if unknown:
        raise KeyError(f"unknown simplify rule(s) {', '.join(map(repr, unknown))}; the rules are {', '.join(RULES)}")
    return tuple(r for name, r in RULES.items() if switches.get(name, r.default))


def _simplify(program, rules):
    by_op: dict[str, list] = {}
    for r in rules:
        for op in r.ops:
            by_op.setdefault(op, []).append(r)
    counts: dict[str, int] = {}
    changed = True
    while changed:
        changed = False
        for n in list(program.nodes):
            if n.id not in program:
                continue
            for r in by_op.get(n.op, ()):
                new = r.rewrite(program, n)
                if new is None:
                    continue
                counts[r.label] = counts.get(r.label, 0) + 1
                if new != n.id:
                    program.replace_uses(n.id, new)
                changed = True
                break
        program.remove_dead()
    program.sort()
    return [f"{v} x {k}" for k, v in counts.items()]


def switches_of(ctx) -> dict:
    """The rule switches ``optimize={"simplify": {...}}`` put in the pass context."""
    own = ctx.options.get("simplify") if ctx is not None else None
    return own if isinstance(own, dict) else {}


def run(program, ctx):
    return timed_pass("simplify", program, _simplify, enabled(switches_of(ctx)))
