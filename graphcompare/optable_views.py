"""Recipes of the copy, overwrite and view ops and of the reductions with indices (imported by
``optable``), so random programs draw them.

Overwrites (``fill``, ``copy``, ``view_scatter``, ``index_put``) have no out-of-place surface
method, so the surface spells them with ``F.apply_op`` and PyTorch with its in-place method on a
clone or its functional ``*_scatter``. ``argmax``/``argmin`` give integers, so the program adds
them to the values (an integer shift: the gradient flows through ``x`` only). Every op that
picks an extremum is guarded against ties along its axis, where the chosen element would change.
"""

from __future__ import annotations

from .recipes import (
    COVERED_ELSEWHERE, Drawn, Recipe, _add, _bools, _bshape, _far, _guard_ties, _ints, _promote_args, _sampled, _tpl,
)


def _draw_axis(data, b, keep=True):
    i = b.pick(data, lambda s: len(s) >= 1)
    if i is None:
        return None
    s = b.shapes[i]
    d = data.draw(_ints(0, len(s) - 1))
    k = data.draw(_bools()) if keep else False
    out = tuple(1 if a == d else n for a, n in enumerate(s)) if k else tuple(n for a, n in enumerate(s) if a != d)
    return Drawn((i,), {"dim": d, "keep": k}, out, b.dtypes[i])



for _name, _arg in (("max_dim", "max"), ("min_dim", "min")):
    _add(Recipe(_name, _draw_axis, _tpl("{0}.%s({p[dim]}, keepdim={p[keep]}).values" % _arg),
                guard=_guard_ties, uses=("arg" + _arg,)))


def _draw_arg(data, b):
    d = _draw_axis(data, b, keep=False)
    if d is None:
        return None
    d.params["keep"] = True  # the indices broadcast back against x
    d.shape = b.shapes[d.args[0]]
    return d


for _name in ("argmax", "argmin"):
    _add(Recipe(_name, _draw_arg, _tpl("({0} + {0}.%s(dim={p[dim]}, keepdim=True))" % _name),
                guard=_guard_ties, uses=("add",)))


def _draw_flip(data, b):
    i = b.pick(data, lambda s: len(s) >= 1)
    if i is None:
        return None
    nd = len(b.shapes[i])
    dims = tuple(sorted({data.draw(_ints(0, nd - 1)) for _ in range(data.draw(_ints(1, nd)))}))
    return Drawn((i,), {"dims": dims}, b.shapes[i], b.dtypes[i])


_add(Recipe("flip", _draw_flip, lambda t, n, p: f"{n[0]}.flip({', '.join(map(str, p['dims']))})"))


def _draw_fill(data, b):
    i = b.pick(data)
    kind = data.draw(_sampled(("fill", "zero")))
    value = 0.0 if kind == "zero" else data.draw(_sampled((1.5, -0.75, 2.0)))
    return Drawn((i,), {"value": value, "kind": kind}, b.shapes[i], b.dtypes[i])


def _render_fill(target, n, p):
    if target == "torch":
        return f"{n[0]}.clone().zero_()" if p["kind"] == "zero" else f"{n[0]}.clone().fill_({p['value']!r})"
    return f"F.apply_op('fill', {n[0]}, value={p['value']!r}, kind={p['kind']!r})"


_add(Recipe("fill", _draw_fill, _render_fill))


def _draw_copy(data, b):
    i = b.pick(data, lambda s: len(s) >= 1)
    if i is None:
        return None
    s = b.shapes[i]
    src = tuple(1 if data.draw(_bools()) else n for n in s[data.draw(_ints(0, len(s) - 1)):])
    j = b.new_leaf(data, src, b.dtypes[i])
    return Drawn((i, j), {}, s, b.dtypes[i])


_add(Recipe("copy", _draw_copy, _tpl("F.apply_op('copy', {0}, {1})", "{0}.clone().copy_({1})")))


def _draw_diagonal(data, b):
    i = b.pick(data, lambda s: len(s) >= 2)
    if i is None:
        return None
    s = b.shapes[i]
    d1, d2 = data.draw(_sampled([(a, c) for a in range(len(s)) for c in range(len(s)) if a != c]))
    offset = data.draw(_ints(-1, 1))
    k = max(0, min(s[d1], s[d2] - offset)) if offset >= 0 else max(0, min(s[d1] + offset, s[d2]))
    if k == 0:
        return None
    out = tuple(n for a, n in enumerate(s) if a not in (d1, d2)) + (k,)
    return Drawn((i,), {"offset": offset, "dim1": d1, "dim2": d2}, out, b.dtypes[i])


_add(Recipe("diagonal", _draw_diagonal, _tpl("{0}.diagonal({p[offset]}, {p[dim1]}, {p[dim2]})")))


def _draw_view_scatter(data, b):
    """One view step on the first dimension (select, slice) or a diagonal; the source is a
    fresh leaf of the view's shape."""
    i = b.pick(data, lambda s: len(s) >= 1 and s[0] >= 2)
    if i is None:
        return None
    s = b.shapes[i]
    kind = data.draw(_sampled(("select", "slice", "diagonal") if len(s) >= 2 else ("select", "slice")))
    if kind == "select":
        at = data.draw(_ints(0, s[0] - 1))
        p = {"kind": kind, "at": at, "chain": (("getitem", (("index", (("i", at),)),)),)}
        view = s[1:]
    elif kind == "slice":
        a = data.draw(_ints(0, s[0] - 1))
        z, st = data.draw(_ints(a + 1, s[0])), data.draw(_sampled((1, 2)))
        p = {"kind": kind, "a": a, "z": z, "st": st, "chain": (("getitem", (("index", (("s", a, z, st),)),)),)}
        view = (len(range(a, z, st)),) + s[1:]
    else:
        p = {"kind": kind, "chain": (("diagonal", (("dim1", 0), ("dim2", 1), ("offset", 0))),)}
        view = s[2:] + (min(s[0], s[1]),)
    j = b.new_leaf(data, view, b.dtypes[i])
    return Drawn((i, j), p, s, b.dtypes[i])


def _render_view_scatter(target, n, p):
    if target != "torch":
        return f"F.apply_op('view_scatter', {n[0]}, {n[1]}, chain={p['chain']!r})"
    if p["kind"] == "select":
        return f"torch.select_scatter({n[0]}, {n[1]}, 0, {p['at']})"
    if p["kind"] == "slice":
        return f"torch.slice_scatter({n[0]}, {n[1]}, 0, {p['a']}, {p['z']}, {p['st']})"
    return f"torch.diagonal_scatter({n[0]}, {n[1]}, 0, 0, 1)"


_add(Recipe("view_scatter", _draw_view_scatter, _render_view_scatter))


def _draw_index_put(data, b):
    """Distinct positions on the first dimension: with a repeat the overwritten value has no
    true gradient (finite differences cannot judge PyTorch's rule)."""
    i = b.pick(data, lambda s: len(s) >= 1)
    if i is None:
        return None
    s = b.shapes[i]
    rows = data.draw(_sampled([tuple(sorted(c)) for c in _subsets(s[0])]))
    rows = tuple(data.draw(_sampled((rows, rows[::-1]))))
    value = data.draw(_sampled(((len(rows),) + s[1:], s[1:], ())))
    j = b.new_leaf(data, value, b.dtypes[i])
    return Drawn((i, j), {"rows": rows}, s, b.dtypes[i])


def _subsets(n):
    return [tuple(k for k in range(n) if m >> k & 1) for m in range(1, 2 ** min(n, 5))]


def _render_index_put(target, n, p):
    rows = list(p["rows"])
    if target == "torch":
        return f"{n[0]}.index_put((torch.tensor({rows}),), {n[1]})"
    return f"F.apply_op('index_put', {n[0]}, {n[1]}, np.array({rows}), index=(('a',),))"


_add(Recipe("index_put", _draw_index_put, _render_index_put))

def _draw_clamp(data, b):
    i = b.pick(data)
    j, k = (b.pick_compatible(data, b.shapes[i]) for _ in range(2))
    if _bshape(b.shapes[i], b.shapes[j], b.shapes[k]) != tuple(b.shapes[i]):
        return None  # bounds wider than x: PyTorch's own backward fails (an in-place broadcast)
    return Drawn((i, j, k), {}, b.shapes[i], _promote_args(b, i, j, k))


def _guard_clamp(args, p):
    x, lo, hi = args  # no ties: x at a bound, or lo at hi, is a kink
    return _far(x - lo, lo) and _far(x - hi, hi) and _far(lo - hi, hi)


_add(Recipe("clamp", _draw_clamp, _tpl("{0}.clamp({1}, {2})"), guard=_guard_clamp))

COVERED_ELSEWHERE.update({
    "diagonal_scatter": "the gradient of diagonal",
    "index_mask": "the gradient of max(dim)/min(dim), which reads their saved indices",
})
