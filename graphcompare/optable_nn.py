"""Recipes of the ops added for models, so random programs draw them (imported by ``optable``).

Domains and guards as in ``optable``: ``log1p``/``rsqrt`` on ``x * x (+ 0.5)``; ``//`` and
``%`` divide by ``y * y + 0.5`` and are guarded away from the jumps of ``floor``; sorting,
pooling and ``topk`` are guarded against ties (where the chosen element would change); logical
ops select with ``where`` and are guarded away from the comparison boundary. ``dropout``'s
PyTorch spelling multiplies by our mask (PyTorch's generator differs). ``arange`` multiplies a value
by a range along its last dimension, its ``end`` half a step past the last element.
"""

from __future__ import annotations

import numpy as np

from .recipes import COVERED_ELSEWHERE, Drawn, Recipe, _add, _bools, _far, _guard_ties, _ints, _promote, _promote_args, _sampled, _tpl, _tup


def _draw_unary(data, b):
    i = b.pick(data)
    return Drawn((i,), {}, b.shapes[i], b.dtypes[i])


def _draw_binary(data, b):
    i = b.pick(data)
    j = b.pick_compatible(data, b.shapes[i])
    return Drawn((i, j), {}, tuple(np.broadcast_shapes(b.shapes[i], b.shapes[j])), _promote_args(b, i, j))


for _name in ("sin", "cos", "erf", "expm1"):
    _add(Recipe(_name, _draw_unary, _tpl("{0}.%s()" % _name)))
_add(Recipe("log1p", _draw_unary, _tpl("({0} * {0}).log1p()"), uses=("mul",)))
_add(Recipe("rsqrt", _draw_unary, _tpl("({0} * {0} + 0.5).rsqrt()"), uses=("mul", "add")))
_add(Recipe("silu", _draw_unary, _tpl("F.silu({0})", "torch.nn.functional.silu({0})")))
_add(Recipe("softplus", _draw_unary, _tpl("F.softplus({0}, beta=2.0)", "torch.nn.functional.softplus({0}, beta=2.0)")))


def _draw_gelu(data, b):
    d = _draw_unary(data, b)
    d.params = {"approximate": data.draw(_sampled(("none", "tanh")))}
    return d


_add(Recipe("gelu", _draw_gelu, _tpl("F.gelu({0}, approximate='{p[approximate]}')",
                                     "torch.nn.functional.gelu({0}, approximate='{p[approximate]}')")))
_add(Recipe("clone", _draw_unary, _tpl("{0}.clone()")))


def _guard_floor(args, params):
    q = args[0] / (args[1] * args[1] + 0.5)
    return _far(q - np.round(q), 1.0)


_add(Recipe("floor_divide", _draw_binary, _tpl("({0} // ({1} * {1} + 0.5) + {0})",
                                                          # torch's // has no backward; div(floor) is its differentiable form
                                                          "(torch.div({0}, {1} * {1} + 0.5, rounding_mode='floor') + {0})"), guard=_guard_floor,
            uses=("mul", "add")))
_add(Recipe("remainder", _draw_binary, _tpl("({0} % ({1} * {1} + 0.5))"), guard=_guard_floor, uses=("mul", "add")))


def _guard_signs(args, params):
    return all(_far(a, 0.0) for a in args)


_LOGICAL = {"logical_and": "({0} > 0) & ({1} > 0)", "logical_or": "({0} > 0) | ({1} > 0)",
            "logical_not": "~({0} > 0)"}
for _name, _cond in _LOGICAL.items():
    _add(Recipe(_name, _draw_binary, (lambda c: lambda t, n, p: (
        f"{'torch' if t == 'torch' else 'F'}.where({c.format(*n)}, {n[0]}, {n[1]})"))(_cond),
        guard=_guard_signs, uses=("gt", "where")))


def _draw_bool_reduce(data, b):
    i = b.pick(data, lambda s: len(s) >= 1)
    if i is None:
        return None
    return Drawn((i,), {"dim": data.draw(_ints(-len(b.shapes[i]), len(b.shapes[i]) - 1))}, b.shapes[i], b.dtypes[i])


for _name in ("all", "any"):
    _add(Recipe(_name, _draw_bool_reduce, _tpl("F.where(({0} > 0).%s(dim={p[dim]}, keepdim=True), {0}, -{0})" % _name,
                                               "torch.where(({0} > 0).%s(dim={p[dim]}, keepdim=True), {0}, -{0})" % _name),
                guard=lambda a, p: _far(a[0], 0.0), uses=("gt", "where", "neg")))


def _draw_tri(data, b):
    i = b.pick(data, lambda s: len(s) >= 2)
    if i is None:
        return None
    return Drawn((i,), {"k": data.draw(_ints(-1, 1))}, b.shapes[i], b.dtypes[i])


for _name in ("tril", "triu"):
    _add(Recipe(_name, _draw_tri, _tpl("{0}.%s({p[k]})" % _name)))


def _draw_axis(data, b):
    i = b.pick(data, lambda s: len(s) >= 1)
    if i is None:
        return None
    return Drawn((i,), {"dim": data.draw(_ints(-len(b.shapes[i]), len(b.shapes[i]) - 1))}, b.shapes[i], b.dtypes[i])


_add(Recipe("cumsum", _draw_axis, _tpl("{0}.cumsum({p[dim]})")))


def _draw_prod(data, b):
    d = _draw_axis(data, b)
    if d is None:
        return None
    s = b.shapes[d.args[0]]
    d.shape = tuple(n for k, n in enumerate(s) if k != d.params["dim"] % len(s))
    return d


_add(Recipe("prod", _draw_prod, _tpl("{0}.prod({p[dim]})")))



def _draw_sort(data, b):
    d = _draw_axis(data, b)
    if d is None:
        return None
    n = b.shapes[d.args[0]][d.params["dim"]]
    d.params.update(k=data.draw(_ints(1, n)), largest=data.draw(_bools()))
    s = list(b.shapes[d.args[0]])
    s[d.params["dim"]] = d.params["k"]
    d.shape = tuple(s)
    return d


_add(Recipe("argsort", _draw_sort, _tpl("{0}.topk({p[k]}, dim={p[dim]}, largest={p[largest]}).values"),
            guard=_guard_ties, uses=("sorted_values", "getitem")))


def _draw_gather(data, b):
    d = _draw_axis(data, b)
    if d is None:
        return None
    shape = b.shapes[d.args[0]]
    a = d.params["dim"] % len(shape)
    m = data.draw(_sampled((1, 2, 4)))
    idx_shape = shape[:a] + (m,) + shape[a + 1:]
    rng = np.random.default_rng(data.draw(_ints(0, 2**16)))
    d.params["index"] = rng.integers(0, shape[a], idx_shape).tolist()
    d.shape = idx_shape
    return d


def _index_literal(target, p):
    return f"torch.tensor({p['index']})" if target == "torch" else f"np.array({p['index']})"


_add(Recipe("gather", _draw_gather, lambda t, n, p: f"{n[0]}.gather({p['dim']}, {_index_literal(t, p)})"))


def _draw_scatter(data, b):
    d = _draw_gather(data, b)
    if d is None:
        return None
    j = b.new_leaf(data, d.shape, b.dtypes[d.args[0]])
    return Drawn((d.args[0], j), d.params, b.shapes[d.args[0]], b.dtypes[d.args[0]])


_add(Recipe("scatter_add", _draw_scatter, lambda t, n, p: f"{n[0]}.scatter_add({p['dim']}, {_index_literal(t, p)}, {n[1]})"))


def _draw_einsum(data, b):
    i = b.pick(data, lambda s: 1 <= len(s) <= 3)
    if i is None:
        return None
    s = b.shapes[i]
    m = data.draw(_sampled((2, 3, 5)))
    flip = data.draw(_bools())
    j = b.new_leaf(data, (m, s[-1]) if flip else (s[-1], m))
    lead = "abc"[: len(s) - 1]
    eq = f"{lead}k,mk->{lead}m" if flip else f"{lead}k,km->{lead}m"
    return Drawn((i, j), {"eq": eq}, s[:-1] + (m,), _promote(b.dtypes[i], b.dtypes[j]))


_add(Recipe("einsum", _draw_einsum, _tpl("F.einsum('{p[eq]}', {0}, {1})", "torch.einsum('{p[eq]}', {0}, {1})")))


def _draw_pad(data, b):
    i = b.pick(data, lambda s: len(s) >= 1)
    if i is None:
        return None
    lo, hi = data.draw(_ints(0, 2)), data.draw(_ints(0, 2))
    s = b.shapes[i]
    return Drawn((i,), {"lo": lo, "hi": hi}, s[:-1] + (s[-1] + lo + hi,), b.dtypes[i])


_add(Recipe("pad", _draw_pad, _tpl("F.pad({0}, ({p[lo]}, {p[hi]}))", "torch.nn.functional.pad({0}, ({p[lo]}, {p[hi]}))")))


def _draw_layer_norm(data, b):
    i = b.pick(data, lambda s: len(s) >= 1 and s[-1] >= 2)
    if i is None:
        return None
    return Drawn((i,), {"k": b.shapes[i][-1]}, b.shapes[i], b.dtypes[i])


_add(Recipe("layer_norm", _draw_layer_norm, _tpl("F.layer_norm({0}, ({p[k]},))", "torch.nn.functional.layer_norm({0}, ({p[k]},))"),
            guard=lambda a, p: bool(np.all(np.std(a[0], axis=-1) > 1e-2))))


def _draw_pool(data, b):
    """A value of 8k elements viewed as a (1, k, 2, 4) image, 2x2 windows."""
    i = b.pick(data, lambda s: int(np.prod(s)) % 8 == 0 and int(np.prod(s)) >= 8)
    if i is None:
        i = b.new_leaf(data, (1, 2, 2, 4))
    c = int(np.prod(b.shapes[i])) // 8
    return Drawn((i,), {"c": c, "h": 2, "w": 4, "k": (2, 2)}, (1, c, 1, 2), b.dtypes[i])


def _render_pool(name):
    def render(target, n, p):
        f = "torch.nn.functional" if target == "torch" else "F"
        return f"{f}.{name}({n[0]}.reshape(1, {p['c']}, {p['h']}, {p['w']}), {_tup(p['k'])})"

    return render


def _guard_pool(args, p):
    flat = np.sort(args[0].reshape(-1))
    return _far(np.diff(flat), np.max(np.abs(flat)))


_add(Recipe("max_pool2d_indices", _draw_pool, _render_pool("max_pool2d"), guard=_guard_pool, uses=("reshape", "gather")))
_add(Recipe("avg_pool2d", _draw_pool, _render_pool("avg_pool2d"), uses=("reshape",)))


def _draw_dropout(data, b):
    d = _draw_unary(data, b)
    d.params = {"p": data.draw(_sampled((0.25, 0.5))), "seed": data.draw(_ints(0, 99)), "shape": b.shapes[d.args[0]]}
    return d


def _render_dropout(target, n, p):
    if target != "torch":
        return f"F.dropout({n[0]}, {p['p']}, seed={p['seed']})"
    # PyTorch with our mask (its generator differs): checks the scaling and the gradient
    mask = f"__import__('shared_ops.ops.random', fromlist=['_']).keep_mask({p['seed']}, {_tup(p['shape'])}, {p['p']})"
    return f"({n[0]} * torch.tensor({mask}, dtype={n[0]}.dtype) * {1.0 / (1.0 - p['p'])!r})"


_add(Recipe("dropout", _draw_dropout, _render_dropout))


def _draw_norm(data, b):
    d = _draw_prod(data, b)
    if d is None:
        return None
    d.params["ord"] = data.draw(_sampled((1, 2, 3)))
    return d


_add(Recipe("vector_norm", _draw_norm, _tpl("F.linalg.vector_norm({0}, {p[ord]}, dim={p[dim]})",
                                           "torch.linalg.vector_norm({0}, {p[ord]}, dim={p[dim]})"),
            guard=lambda a, p: _far(a[0], 0.0)))

def _draw_arange(data, b):
    """``x * arange(...)`` along x's last dimension: a range of floats or integers in x's dtype."""
    i = b.pick(data, lambda s: len(s) >= 1)
    if i is None:
        return None
    p = {"n": b.shapes[i][-1], "start": data.draw(_sampled((0, 1, -2))), "step": data.draw(_sampled((1, 2, 0.5, -0.25)))}
    return Drawn((i,), p, b.shapes[i], b.dtypes[i])


def _render_arange(target, n, p):
    end = p["start"] + (p["n"] - 0.5) * p["step"]  # half a step past the last: the length is n under any rounding
    f = "torch" if target == "torch" else "F"
    return f"({n[0]} * {f}.arange({p['start']}, {end!r}, {p['step']}, dtype={n[0]}.dtype))"


_add(Recipe("arange", _draw_arange, _render_arange, uses=("mul",)))

COVERED_ELSEWHERE.update({
    "prod_others": "the gradient of prod",
    "layer_norm_grad": "the gradient of layer_norm",
    "avg_pool2d_grad": "the gradient of avg_pool2d",
})
