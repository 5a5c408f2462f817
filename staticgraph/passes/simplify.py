"""simplify: algebraic identities, each one exact in IEEE arithmetic unless it says otherwise.

Rewrites (``c1`` = a constant, or a ``broadcast_to`` of one, whose every element is 1, and so on; a rewrite applies only
when the result keeps the node's shape and dtype, so no broadcasting is lost):

- ``mul(x, c1) -> x``, ``mul(c1, x) -> x``, ``div(x, c1) -> x``   (exact)
- ``add(x, c-0.0) -> x``, ``sub(x, c+0.0) -> x``   (exact; ``x + (+0.0)`` is NOT rewritten:
  it turns ``-0.0`` into ``+0.0``)
- ``neg(neg(x)) -> x``                                           (exact)
- ``log(softmax(x, axis)) -> log_softmax(x, axis)``  (more accurate: finite where softmax
  underflows to 0 and the log gave ``-inf``; elsewhere within rounding)
- ``sum_to(x, shape=x.shape) -> x``, ``broadcast_to(x, shape=x.shape) -> x``,
  ``reshape(x, shape=x.shape) -> x``, ``astype(x, dtype=x.dtype) -> x``, ``add_n(x) -> x``,
  ``transpose(x, identity) -> x``                               (exact: the same values)
- ``reshape(reshape(x, s1), s2) -> reshape(x, s2)``               (exact)
- ``transpose(transpose(x, p), q) -> transpose(x, p∘q)`` (identity -> ``x``)  (exact)
- ``matmul(a[m,1], b[1,n]) -> mul(a, b)``: an outer product (exact: one product each, no sum;
  then fusion folds the ``expand_dims`` feeding it into its kernel's index maps)
- ``squeeze(matmul(A, expand_dims(v, -1)), -1) -> matmul(A, v)`` (NumPy runs gemv for both:
  bitwise equal in the tests; another BLAS may round differently)

The pass runs to a fixed point (a rewrite may expose another) and reports each rule's count.
"""

from __future__ import annotations

EXACT = True  # every rewrite is an identity in IEEE arithmetic

import numpy as np

from ..program import timed_pass


def _const_all(program, i, value) -> bool:
    n = program[i]
    while n.op == "broadcast_to" and len(n.inputs) == 1:  # a broadcast constant is constant too
        n = program[n.inputs[0]]
    if n.op != "constant":
        return False
    v = np.asarray(n.value)
    if v.dtype.kind not in "fiub":
        return False
    if value == 0.0 and v.dtype.kind == "f":  # the sign of zero matters: compare bits
        want = np.signbit(np.float64(value)) if isinstance(value, float) else False
        return bool(np.all(v == 0)) and bool(np.all(np.signbit(v) == want))
    return bool(np.all(v == value))


def _same(program, n, i, other=None) -> bool:
    """The node ``n`` has exactly the shape and dtype of its input ``i`` (so ``n -> i`` loses
    no broadcasting). Free dimensions are only known equal when the other operand is a
    one-element constant (it cannot broadcast anything)."""
    x = program[i]
    if tuple(x.shape) != tuple(n.shape) or x.dtype != n.dtype:
        return False
    if None not in x.shape:
        return True
    if other is None:
        return False
    c = program[other]
    while c.op == "broadcast_to" and len(c.inputs) == 1:
        c = program[c.inputs[0]]
    return c.op == "constant" and c.value.size == 1 and c.value.ndim <= len(x.shape)


def _perm(axes, ndim):
    return tuple(range(ndim))[::-1] if axes is None else tuple(a % ndim for a in axes)


def _rewrite(program, n):
    """``(rule, replacement id or None)``; may edit ``n`` in place (returning ``n.id``)."""
    op, ins = n.op, n.inputs
    if op == "mul" and len(ins) == 2:
        for a, b in ((0, 1), (1, 0)):
            if _const_all(program, ins[b], 1) and _same(program, n, ins[a], ins[b]):
                return "x * 1 -> x", ins[a]
    if op == "div" and _const_all(program, ins[1], 1) and _same(program, n, ins[0], ins[1]):
        return "x / 1 -> x", ins[0]
    if op == "add":
        for a, b in ((0, 1), (1, 0)):
            if _const_all(program, ins[b], -0.0) and _same(program, n, ins[a], ins[b]):
                return "x + (-0.0) -> x", ins[a]
    if op == "sub" and _const_all(program, ins[1], 0.0) and _same(program, n, ins[0], ins[1]):
        return "x - 0 -> x", ins[0]
    if op == "neg" and program[ins[0]].op == "neg":
        return "neg(neg(x)) -> x", program[ins[0]].inputs[0]
    if op == "log" and program[ins[0]].op == "softmax":
        s = program[ins[0]]
        n.op, n.inputs, n.attrs = "log_softmax", [s.inputs[0]], dict(s.attrs)
        return "log(softmax(x)) -> log_softmax(x)", n.id
    if op in ("sum_to", "broadcast_to", "reshape") and _same(program, n, ins[0]):
        return f"{op}(x) to its own shape -> x", ins[0]
    if op == "astype" and program[ins[0]].dtype == n.attrs.get("dtype"):
        return "astype(x) to its own dtype -> x", ins[0]
    if op == "matmul" and len(ins) == 2:
        a, b = program[ins[0]], program[ins[1]]
        if len(a.shape) == 2 and len(b.shape) == 2 and a.shape[1] == 1 and b.shape[0] == 1:
            n.op, n.attrs = "mul", {}
            return "matmul(a[m,1], b[1,n]) -> mul(a, b)", n.id
    if op == "squeeze" and program[ins[0]].op == "matmul" and len(n.shape) >= 1:
        mm = program[ins[0]]
        v = program[mm.inputs[1]]
        ax = n.attrs.get("axis")
        if v.op == "expand_dims" and len(v.inputs) == 1 and len(program[v.inputs[0]].shape) == 1 \
                and len(mm.shape) == 2 and ax in ((1,), 1, (-1,), -1) and v.attrs.get("axis") in (-1, 1, (-1,), (1,)):
            n.op, n.attrs, n.inputs = "matmul", {}, [mm.inputs[0], v.inputs[0]]
            return "squeeze(matmul(A, v[:, None])) -> matmul(A, v)", n.id
    if op == "add_n" and len(ins) == 1:
        return "add_n(x) -> x", ins[0]
    if op == "reshape" and program[ins[0]].op == "reshape" and len(program[ins[0]].inputs) == 1 and len(ins) == 1:
        n.inputs = [program[ins[0]].inputs[0]]
        return "reshape(reshape(x)) -> reshape(x)", n.id
    if op == "transpose":
        nd = len(n.shape)
        p = _perm(n.attrs.get("axes"), nd)
        src = program[ins[0]]
        if src.op == "transpose":
            q = _perm(src.attrs.get("axes"), nd)
            composed = tuple(q[k] for k in p)
            if composed == tuple(range(nd)):
                return "transpose(transpose(x)) -> x", src.inputs[0]
            n.inputs, n.attrs = [src.inputs[0]], {**n.attrs, "axes": composed}
            return "transpose(transpose(x)) -> transpose(x)", n.id
        if p == tuple(range(nd)):
            return "transpose(x, identity) -> x", ins[0]
    return None, None


def _simplify(program):
    counts: dict[str, int] = {}
    changed = True
    while changed:
        changed = False
        for n in list(program.nodes):
            if n.is_source or n.op == "fused" or n.id not in program:
                continue
            rule, new = _rewrite(program, n)
            if rule is None:
                continue
            counts[rule] = counts.get(rule, 0) + 1
            if new != n.id:
                program.replace_uses(n.id, new)
            changed = True
        program.remove_dead()
    program.sort()
    return [f"{v} x {k}" for k, v in counts.items()]


def run(program, ctx):
    return timed_pass("simplify", program, _simplify)
