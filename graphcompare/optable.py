"""The op table: for each registry op, how a random program draws it, spells it, and guards it.

A ``Recipe`` says, for one op of ``shared_ops``:

``draw(data, b)``
    pick parents among the values drawn so far (``b`` is the program builder) and the
    op's attributes; return a ``Drawn`` (or ``None`` when no value fits, e.g. matmul
    of a 0-d value). Input domains live here: ``log`` and ``sqrt`` are drawn on
    ``x * x + 0.5``, ``div`` divides by ``y * y + 0.5``.
``render(target, names, params)``
    the one-line Python expression (``None`` for ``"torch"``: no PyTorch spelling). Targets: ``"surface"`` (the shared surface, ``F`` is
    ``dyngraph`` or ``staticgraph``), ``"surface64"`` (the same in float64: casts dropped)
    and ``"torch"`` (PyTorch, for the oracle).
``guard(args, params)``
    on the float64 values of the op's inputs: ``False`` when an input lies at (or too near) a
    kink (relu/abs at 0, ties of maximum/max/clip, comparison boundaries), where the gradient is
    not defined and finite differences cannot judge it. Such programs are rejected.

``OP_TABLE`` maps op names to recipes; ``COVERED_ELSEWHERE`` names the ops that are never
drawn directly and says where the suite runs them (gradient-only kernels, the accumulator).
``uncovered_ops()`` lists registered ops in neither: a newly registered op is noticed.
Users add recipes for their own ops with ``register_recipe`` (see ``docs/extending.md``).
"""

from __future__ import annotations

import numpy as np

from .recipes import (  # noqa: F401  (the public names are re-exported from here)
    COVERED_ELSEWHERE, KINK, OP_TABLE, Drawn, Recipe, _add, _bools, _bshape, _far, _ints, _perms,
    _promote, _promote_args, _sampled, _sets, _tpl, _tup, drawable_ops, register_recipe, simple_recipe,
    uncovered_ops, unregister_recipe,
)


# --------------------------------------------------------------------------- elementwise


def _draw_binary(data, b):
    i = b.pick(data)
    j = b.pick_compatible(data, b.shapes[i])
    return Drawn((i, j), {}, _bshape(b.shapes[i], b.shapes[j]), _promote_args(b, i, j))


def _draw_unary(data, b):
    i = b.pick(data)
    return Drawn((i,), {}, b.shapes[i], b.dtypes[i])


for _name, _sym in (("add", "+"), ("sub", "-"), ("mul", "*")):
    _add(Recipe(_name, _draw_binary, _tpl("({0} %s {1})" % _sym)))

_add(Recipe("div", _draw_binary, _tpl("({0} / ({1} * {1} + 0.5))"), uses=("mul", "add")))
_add(Recipe("pow", _draw_binary, _tpl("(({0} * {0} + 0.5) ** {1}.tanh())"), uses=("mul", "add", "tanh")))


def _guard_tie(args, params):
    a, b = args
    return _far(a - b, np.maximum(np.abs(a), np.abs(b)))


for _name in ("maximum", "minimum"):
    _add(Recipe(_name, _draw_binary, _tpl("F.%s({0}, {1})" % _name, "torch.%s({0}, {1})" % _name), guard=_guard_tie))


def _draw_pow_scalar(data, b):
    d = _draw_unary(data, b)
    d.params = {"e": data.draw(_sampled((2.0, 3.0, -1.0, 0.5, 1.5)))}
    return d


def _render_pow_scalar(target, names, p):
    if p["e"] in (2.0, 3.0):
        return f"({names[0]} ** {p['e']})"
    return f"(({names[0]} * {names[0]} + 0.5) ** {p['e']})"


_add(Recipe("pow_scalar", _draw_pow_scalar, _render_pow_scalar, uses=("mul", "add")))
_add(Recipe("neg", _draw_unary, _tpl("(-{0})")))
for _name in ("exp", "tanh", "sigmoid"):
    _add(Recipe(_name, _draw_unary, _tpl("{0}.%s()" % _name)))
for _name in ("log", "sqrt"):  # positive domain
    _add(Recipe(_name, _draw_unary, _tpl("({0} * {0} + 0.5).%s()" % _name), uses=("mul", "add")))
for _name in ("relu", "abs"):
    _add(Recipe(_name, _draw_unary, _tpl("{0}.%s()" % _name), guard=lambda a, p: _far(a[0], 0.0)))


def _draw_clip(data, b):
    d = _draw_unary(data, b)
    lo = data.draw(_sampled((-1.5, -0.75, -0.25, 0.125)))
    d.params = {"lo": lo, "hi": lo + data.draw(_sampled((0.5, 1.0, 2.0)))}
    return d


_add(Recipe("clip", _draw_clip, _tpl("{0}.clip({p[lo]}, {p[hi]})"),
            guard=lambda a, p: _far(a[0] - p["lo"], p["lo"]) and _far(a[0] - p["hi"], p["hi"])))


def _draw_cast(data, b):
    i = b.pick(data)
    dt = "float64" if b.dtypes[i] == "float32" else "float32"
    return Drawn((i,), {"dtype": dt}, b.shapes[i], dt)


_add(Recipe("astype", _draw_cast, _tpl("{0}.astype('{p[dtype]}')", "{0}", "{0}")))

# comparisons select with where: F.where(a < b, b, c) (three inputs: fan-in)
_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _draw_where(data, b, cmp=None):
    i = b.pick(data)
    j = b.pick_compatible(data, b.shapes[i], exclude=i)  # x < x would always tie
    k = b.pick_compatible(data, _bshape(b.shapes[i], b.shapes[j]))
    cmp = cmp or data.draw(_sampled(tuple(_CMP)))
    shape = _bshape(b.shapes[i], b.shapes[j], b.shapes[k])
    return Drawn((i, j, k), {"cmp": cmp}, shape, _promote_args(b, j, k))


def _render_where(target, n, p):
    f = "torch" if target == "torch" else "F"
    return f"{f}.where({n[0]} {_CMP[p['cmp']]} {n[1]}, {n[1]}, {n[2]})"


def _guard_cmp(args, params):
    return _guard_tie(args[:2], params)


_add(Recipe("where", _draw_where, _render_where, guard=_guard_cmp, fan_in=True))
for _name in _CMP:
    _add(Recipe(_name, (lambda c: lambda data, b: _draw_where(data, b, c))(_name), _render_where,
                guard=_guard_cmp, uses=("where",), fan_in=True))

# --------------------------------------------------------------------------- reductions


def _draw_reduce(data, b):
    i = b.pick(data, lambda s: len(s) >= 1)
    if i is None:
        return None
    shape = b.shapes[i]
    nd = len(shape)
    kind = data.draw(_sampled(("all", "one", "tuple")))
    if kind == "all" or nd == 1:
        axis = None
    elif kind == "one":
        axis = data.draw(_ints(-nd, nd - 1))
    else:
        axis = tuple(sorted(data.draw(_sets(nd))))
    keep = data.draw(_bools())
    axes = tuple(range(nd)) if axis is None else tuple(sorted(a % nd for a in ((axis,) if isinstance(axis, int) else axis)))
    out = tuple(1 if k in axes else d for k, d in enumerate(shape)) if keep else tuple(d for k, d in enumerate(shape) if k not in axes)
    return Drawn((i,), {"axis": axis, "keepdims": keep, "axes": axes}, out, b.dtypes[i])


def _render_reduce(name, torch_fn):
    def render(target, n, p):
        if target == "torch":
            return f"{torch_fn}({n[0]}, dim={_tup(p['axes'])}, keepdim={p['keepdims']})"
        return f"{n[0]}.{name}(axis={p['axis']!r}, keepdims={p['keepdims']})"

    return render


def _guard_extremum(which):
    def guard(args, p):
        x = np.moveaxis(args[0], p["axes"], tuple(range(-len(p["axes"]), 0)))
        m = int(np.prod([args[0].shape[a] for a in p["axes"]]))
        if m < 2:
            return True
        s = np.sort(x.reshape(-1, m), axis=1)
        gap = s[:, -1] - s[:, -2] if which == "max" else s[:, 1] - s[:, 0]
        return _far(gap, np.max(np.abs(s), axis=1))

    return guard


for _name, _tf in (("sum", "torch.sum"), ("mean", "torch.mean"), ("logsumexp", "torch.logsumexp")):
    _add(Recipe(_name, _draw_reduce, _render_reduce(_name, _tf)))
_add(Recipe("max", _draw_reduce, _render_reduce("max", "torch.amax"), guard=_guard_extremum("max")))
_add(Recipe("min", _draw_reduce, _render_reduce("min", "torch.amin"), guard=_guard_extremum("min")))


def _draw_softmax(data, b):
    i = b.pick(data, lambda s: len(s) >= 1)
    if i is None:
        return None
    nd = len(b.shapes[i])
    return Drawn((i,), {"axis": data.draw(_ints(-nd, nd - 1))}, b.shapes[i], b.dtypes[i])


for _name in ("softmax", "log_softmax"):
    _add(Recipe(_name, _draw_softmax, _tpl("{0}.%s(axis={p[axis]})" % _name, "{0}.%s(dim={p[axis]})" % _name)))

# --------------------------------------------------------------------------- shapes


def _factor_shapes(n: int) -> list[tuple]:
    out = [(n,)]
    for a in range(2, n):
        if n % a == 0:
            out.append((a, n // a))
            for c in range(2, n // a):
                if (n // a) % c == 0:
                    out.append((a, c, n // a // c))
    return out


def _draw_reshape(data, b):
    i = b.pick(data)
    shape = b.shapes[i]
    n = int(np.prod(shape))
    cands = [s for s in _factor_shapes(n) + [(1, n), (n, 1)] if s != tuple(shape)]
    new = data.draw(_sampled(cands))
    return Drawn((i,), {"shape": new}, new, b.dtypes[i])


_add(Recipe("reshape", _draw_reshape, lambda t, n, p: f"{n[0]}.reshape({_tup(p['shape'])})"))


def _draw_transpose(data, b):
    i = b.pick(data, lambda s: len(s) >= 2)
    if i is None:
        return None
    nd = len(b.shapes[i])
    perm = tuple(data.draw(_perms(nd)))
    if perm == tuple(range(nd)):
        perm = perm[::-1]
    return Drawn((i,), {"perm": perm}, tuple(b.shapes[i][k] for k in perm), b.dtypes[i])


_add(Recipe("transpose", _draw_transpose, lambda t, n, p: f"{n[0]}.permute({_tup(p['perm'])})"))


def _draw_unsqueeze(data, b):
    i = b.pick(data, lambda s: len(s) <= 3)
    if i is None:
        return None
    shape = b.shapes[i]
    ax = data.draw(_ints(0, len(shape)))
    return Drawn((i,), {"axis": ax}, shape[:ax] + (1,) + shape[ax:], b.dtypes[i])


_add(Recipe("expand_dims", _draw_unsqueeze, lambda t, n, p: f"{n[0]}.unsqueeze({p['axis']})"))


def _draw_squeeze(data, b):
    i = b.pick(data)
    shape = b.shapes[i]
    ones = [k for k, d in enumerate(shape) if d == 1]
    if ones:
        ax = data.draw(_sampled(ones))
        return Drawn((i,), {"axis": ax, "pre": False}, shape[:ax] + shape[ax + 1:], b.dtypes[i])
    ax = data.draw(_ints(0, len(shape)))
    return Drawn((i,), {"axis": ax, "pre": True}, shape, b.dtypes[i])


def _render_squeeze(t, n, p):
    x = f"{n[0]}.unsqueeze({p['axis']})" if p["pre"] else n[0]
    return f"{x}.squeeze({p['axis']})"


_add(Recipe("squeeze", _draw_squeeze, _render_squeeze, uses=("expand_dims",)))


def _draw_broadcast(data, b):
    i = b.pick(data, lambda s: len(s) <= 3)
    if i is None:
        return None
    shape = b.shapes[i]
    new = tuple(data.draw(_sampled((2, 3))) if d == 1 and data.draw(_bools()) else d for d in shape)
    if new == shape or data.draw(_bools()):
        new = (data.draw(_sampled((2, 3, 4))),) + new
    return Drawn((i,), {"shape": new}, new, b.dtypes[i])


_add(Recipe("broadcast_to", _draw_broadcast, lambda t, n, p: f"{n[0]}.broadcast_to({_tup(p['shape'])})"))


def _draw_getitem(data, b):
    i = b.pick(data, lambda s: len(s) >= 1 and all(d >= 1 for d in s))
    if i is None:
        return None
    shape = b.shapes[i]
    parts = []
    used_array = False
    for d in shape[: data.draw(_ints(1, len(shape)))]:
        kind = data.draw(_sampled(("slice", "int", "array", "all")))
        if kind == "int":
            parts.append(("i", data.draw(_ints(-d, d - 1))))
        elif kind == "array" and not used_array:
            used_array = True
            idx = tuple(data.draw(_ints(-d, d - 1)) for _ in range(data.draw(_ints(1, 4))))
            parts.append(("a", idx))
        elif kind == "slice" and d > 1:
            start = data.draw(_ints(0, d - 1))
            parts.append(("s", start, data.draw(_ints(start + 1, d)), data.draw(_sampled((1, 2)))))
        else:
            parts.append(("s", None, None, 1))
    import dyngraph as dg
    from shared_ops import use_backend

    with use_backend("numpy"):  # the surface's (PyTorch's) indexing rule gives the shape
        probe = dg.tensor(np.empty(shape))[_np_index(parts)]
    if probe.numel() == 0:
        return None
    return Drawn((i,), {"index": tuple(parts)}, probe.shape, b.dtypes[i])


def _np_index(parts):
    out = []
    for p in parts:
        if p[0] == "i":
            out.append(p[1])
        elif p[0] == "a":
            out.append(np.array(p[1]))
        else:
            out.append(slice(p[1], p[2], p[3]))
    return tuple(out)


def _render_getitem(target, n, p):
    items = []
    for part in p["index"]:
        if part[0] == "i":
            items.append(str(part[1]))
        elif part[0] == "a":
            lib = "torch.tensor" if target == "torch" else "np.array"
            items.append(f"{lib}({list(part[1])})")
        else:
            _, a, z, s = part
            items.append(f"{'' if a is None else a}:{'' if z is None else z}" + ("" if s == 1 else f":{s}"))
    return f"{n[0]}[{', '.join(items)}]"


_add(Recipe("getitem", _draw_getitem, _render_getitem))


def _draw_join(name):
    def draw(data, b):
        i = b.pick(data, lambda s: len(s) >= 1 and len(s) <= 3)
        if i is None:
            return None
        shape = b.shapes[i]
        same = [k for k, s in enumerate(b.shapes) if s == shape]
        count = data.draw(_sampled((3, 2, 4)))
        items = (i,) + tuple(data.draw(_sampled(same)) for _ in range(count - 1))
        nd = len(shape) + (1 if name == "stack" else 0)
        ax = data.draw(_ints(0, nd - 1))
        if name == "stack":
            out = shape[:ax] + (count,) + shape[ax:]
        else:
            out = shape[:ax] + (shape[ax] * count,) + shape[ax + 1:]
        return Drawn(items, {"axis": ax}, out, _promote(*(b.dtypes[k] for k in items)))

    return draw


def _render_join(name, torch_name):
    def render(target, n, p):
        f = "torch" if target == "torch" else "F"
        kw = "dim" if target == "torch" else "axis"
        return f"{f}.{torch_name if target == 'torch' else name}([{', '.join(n)}], {kw}={p['axis']})"

    return render


_add(Recipe("concatenate", _draw_join("concatenate"), _render_join("concatenate", "cat"), fan_in=True))
_add(Recipe("stack", _draw_join("stack"), _render_join("stack", "stack"), fan_in=True))


from . import optable_linalg  # noqa: E402,F401  (matmul, cross-entropy, conv2d)
from . import optable_nn  # noqa: E402,F401  (recipes of the ops added for models)
from . import optable_views  # noqa: E402,F401  (copies, overwrites, views, reductions with indices)

__all__ = ["Recipe", "Drawn", "OP_TABLE", "COVERED_ELSEWHERE", "register_recipe", "unregister_recipe", "simple_recipe",
           "drawable_ops", "uncovered_ops", "KINK"]
