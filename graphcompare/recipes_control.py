"""Recipes for the control-flow steps of random programs: ``scan``, ``cond``, ``while_loop``,
and ``scan_matmul``/``while_matmul`` (a matrix product by a captured weight in a loop body).

They are not registry ops, so they live in ``CONTROL_TABLE`` beside the op table; a program
draws one with ``strategies.programs(control=...)``. Each renders as a call of a model in
``graphcompare.controlflow`` (``CF``), which staticgraph runs with its control flow and
dyngraph and PyTorch with the Python loop: every way of the checker compares them.
"""

from __future__ import annotations

import numpy as np

from .recipes import Drawn, Recipe, _bshape, _far, _perms, _promote, _sampled

DIM_SIZES = (2, 3, 4, 5)  # the programs' dimension sizes, all distinct: a swapped axis cannot hide

CONTROL_TABLE: dict[str, Recipe] = {}
_USES = ("mul", "add", "tanh", "sigmoid", "getitem", "stack", "sum", "gt")


def _no_growth(b, data, shape, dtype):
    """A value of ``dtype`` broadcasting to ``shape`` without changing it (a closure), else a
    new leaf: a carry keeps its shape and dtype."""
    ok = [k for k, n in enumerate(b.nodes) if n.dtype == dtype and _bshape(n.shape, shape) == tuple(shape)]
    i = b.pick(data, lambda s: _bshape(s, shape) == tuple(shape)) if ok else None
    if i is None or b.dtypes[i] != dtype:
        return b.new_leaf(data, shape, dtype)
    return i


def _draw_scan(data, b):
    xs = b.pick(data, lambda s: len(s) >= 1)
    if xs is None:
        return None
    r = b.shapes[xs][1:]
    c = _no_growth(b, data, r, b.dtypes[xs])
    inner = data.draw(_sampled(("plain", "cond", "cond_same", "scan") if len(r) >= 1 else ("plain", "cond", "cond_same")))
    act = data.draw(_sampled(("tanh", "sigmoid")))
    return Drawn((xs, c), {"act": act, "inner": inner}, b.shapes[xs], _promote(b.dtypes[xs], b.dtypes[c]))


def _guard_scan(args, params):
    xs = args[0]
    return not params["inner"].startswith("cond") or all(_far(x.sum(), np.abs(x).sum()) for x in xs)


def _draw_cond(data, b):
    p = b.pick(data)
    a = b.pick(data)
    c = _no_growth(b, data, b.shapes[a], b.dtypes[a])
    # "true"/"false": that branch returns its operand unchanged (handed through)
    same = data.draw(_sampled(("none", "true", "false")))
    return Drawn((p, a, c), {"same": same}, b.shapes[a], _promote(b.dtypes[a], b.dtypes[c]))


def _draw_while(data, b):
    v = b.pick(data)
    k = data.draw(_sampled((0, 1, 2, 3)))
    if k == 0 and data.draw(_sampled((True, False))):
        c = v  # handed through and captured: one outer value fed to both
    else:
        c = _no_growth(b, data, b.shapes[v], b.dtypes[v])
    if k == 0 and c != v and hasattr(b.nodes[c], "op"):  # a step's value, not a leaf
        # a closure of a loop that ran no step: dyngraph has no gradient along it, staticgraph
        # a zero one, whose zeros may turn -0.0 on the way back (a documented difference)
        c = b.new_leaf(data, b.shapes[v], b.dtypes[v])
    # a bound (maximum_iterations) below k stops the loop early (never at no step: the closure
    # drawn above is for a loop that runs), above k it changes nothing
    bound = data.draw(_sampled((None, None, k + 1) + ((k - 1,) if k >= 2 else ())))
    return Drawn((v, c), {"k": k, "bound": bound}, b.shapes[v], _promote(b.dtypes[v], b.dtypes[c]))


_MATMUL_USES = ("matmul", "reshape", "sum", "tanh", "mul", "add", "getitem", "stack")


def _matrix_of(shape: tuple, side: str) -> tuple:
    """A value of ``shape`` as the matrix a loop body multiplies: a vector becomes a row when
    the weight is on its right (``x @ W``), a column when on its left (``W @ x``)."""
    if len(shape) == 2:
        return tuple(shape)
    return (1, shape[0]) if side == "right" else (shape[0], 1)


def _exact(b, data, shape: tuple, dtype: str, prefer: int | None = None) -> int:
    """A value of exactly ``shape`` and ``dtype`` (a matrix product does not broadcast its
    operands as a carry's sum does), half the time ``prefer`` where it fits, else a new leaf."""
    ok = [k for k, n in enumerate(b.nodes) if tuple(n.shape) == tuple(shape) and n.dtype == dtype]
    if prefer in ok and data.draw(_sampled((True, False))):
        return prefer
    if ok and data.draw(_sampled((True, False))):
        return data.draw(_sampled(ok))
    return b.new_leaf(data, shape, dtype)


def _draw_matmul_loop(data, b, scan: bool):
    """A loop body's matrix product by a captured weight ``w`` (``CF.matmul_scan_model``,
    ``CF.matmul_while_model``): the weight on either side, the other operand the carry, the
    row of ``xs`` (scan), a value the step computes, or a loop-invariant value (``"fixed"``:
    ``passes.stack`` must leave that term alone)."""
    v = b.pick(data, (lambda s: len(s) in (2, 3)) if scan else (lambda s: len(s) in (1, 2)))
    if v is None:  # only scalars so far: a new input of distinct sizes (xs: steps, rows, columns)
        sizes = [DIM_SIZES[k] for k in data.draw(_perms(len(DIM_SIZES)))]
        v = b.new_leaf(data, tuple(sizes[:data.draw(_sampled((2, 3)))]) if scan else tuple(sizes[:2]))
    side = data.draw(_sampled(("right", "left")))
    operand = data.draw(_sampled(("carry", "xs", "step", "fixed") if scan else ("carry", "step", "fixed")))
    dtype = b.dtypes[v]
    rows = _matrix_of(b.shapes[v][1:] if scan else b.shapes[v], side)
    j = data.draw(_sampled((2, 3, 4, 5)))
    # the scan's own xs is drawn as its weight (or fixed operand) where it fits: one value whose
    # gradient terms are the rows' and the weight's per step, interleaved as dyngraph sums them
    own = v if scan else None
    if scan and side == "left" and len(b.shapes[v]) == 2 and data.draw(_sampled((True, False, False))):
        w, j = v, b.shapes[v][0]  # a weight (j, columns) of xs's own shape
    else:
        w = _exact(b, data, (rows[1], j) if side == "right" else (j, rows[0]), dtype, prefer=own)
    args = (v, w) + ((_exact(b, data, rows, dtype, prefer=own),) if operand == "fixed" else ())
    params = {"side": side, "operand": operand, "rows": rows}
    if scan:
        product = (rows[0], j) if side == "right" else (j, rows[1])
        return Drawn(args, params, (b.shapes[v][0],) + product, dtype)
    params["k"] = data.draw(_sampled((1, 2, 3, 4)))
    return Drawn(args, params, rows, dtype)


def _render_matmul(model: str):
    def render(target, names, params):
        F = "torch" if target == "torch" else "F"
        c = names[2] if len(names) > 2 else "None"
        k = f"{params['k']}, " if "k" in params else ""
        return (f"CF.{model}({F}, {names[0]}, {names[1]}, {c}, {k}{params['side']!r}, {params['operand']!r}, "
                f"{tuple(params['rows'])!r})")

    return render


def _render(call):
    def render(target, names, params):
        F = "torch" if target == "torch" else "F"
        return call(F, names, params)

    return render


for _recipe in (
    Recipe("scan", _draw_scan, _render(lambda F, n, p: f"CF.scan_model({F}, {n[0]}, {n[1]}, {p['act']!r}, {p['inner']!r})"),
           guard=_guard_scan, uses=_USES),
    Recipe("cond", _draw_cond, _render(lambda F, n, p: f"CF.cond_model({F}, {n[0]}, {n[1]}, {n[2]}, {p.get('same', 'none')!r})"),
           guard=lambda args, params: _far(args[0].sum(), np.abs(args[0]).sum()), uses=_USES),
    Recipe("while_loop", _draw_while, _render(lambda F, n, p: f"CF.while_model({F}, {n[0]}, {n[1]}, {p['k']}"
                                                               + (")" if p.get("bound") is None else f", {p['bound']})")),
           uses=_USES),
    Recipe("scan_matmul", lambda data, b: _draw_matmul_loop(data, b, scan=True), _render_matmul("matmul_scan_model"),
           uses=_MATMUL_USES),
    Recipe("while_matmul", lambda data, b: _draw_matmul_loop(data, b, scan=False), _render_matmul("matmul_while_model"),
           uses=_MATMUL_USES),
):
    CONTROL_TABLE[_recipe.op] = _recipe


def recipe(op: str) -> Recipe:
    """The recipe of a drawn step: a registry op's, or a control-flow step's."""
    from .recipes import OP_TABLE

    r = OP_TABLE.get(op)
    return r if r is not None else CONTROL_TABLE[op]


__all__ = ["CONTROL_TABLE", "recipe"]
