"""Recipes of the linear-algebra and network ops: matmul, softmax cross-entropy, conv2d
(imported by ``graphcompare.optable``; see its docstring for what a recipe is)."""

from __future__ import annotations

import numpy as np

from .recipes import Drawn, Recipe, _add, _bools, _ints, _promote, _sampled, _tpl


def _draw_matmul(data, b):
    i = b.pick(data, lambda s: 1 <= len(s) <= 3)
    if i is None:
        return None
    k = b.shapes[i][-1]
    cands = [j for j, s in enumerate(b.shapes) if (len(s) == 2 and s[0] == k) or s == (k,)]
    if cands and data.draw(_bools()):
        j = data.draw(_sampled(cands))
    else:
        j = b.new_leaf(data, (k, data.draw(_sampled((2, 3, 5)))))
    sa, sb = b.shapes[i], b.shapes[j]
    out = sa[:-1] + sb[1:] if len(sb) == 2 else sa[:-1]
    return Drawn((i, j), {}, out, _promote(b.dtypes[i], b.dtypes[j]))


_add(Recipe("matmul", _draw_matmul, _tpl("({0} @ {1})")))


def _draw_xent(data, b):
    i = b.pick(data, lambda s: len(s) >= 1 and int(np.prod(s)) >= 2)
    if i is None:
        return None
    shape = b.shapes[i]
    n = int(np.prod(shape))
    rows = shape[0] if len(shape) >= 2 and n // shape[0] >= 2 else 1
    cols = n // rows
    labels = tuple(data.draw(_ints(0, cols - 1)) for _ in range(rows))
    return Drawn((i,), {"rows": rows, "cols": cols, "labels": labels}, (), b.dtypes[i])


def _render_xent(target, n, p):
    x = f"{n[0]}.reshape({p['rows']}, {p['cols']})"
    if target == "torch":
        return f"torch.nn.functional.cross_entropy({x}, torch.tensor({list(p['labels'])}))"
    return f"F.softmax_cross_entropy({x}, np.array({list(p['labels'])}))"


_add(Recipe("softmax_cross_entropy", _draw_xent, _render_xent, uses=("reshape",)))


def _draw_conv(data, b):
    def ok(s):
        n = int(np.prod(s))
        return any(n % (h * w) == 0 for h in (3, 4, 5) for w in (3, 4, 5))

    i = b.pick(data, lambda s: len(s) >= 1 and ok(s))
    if i is None:  # no value reshapes to an image: a fresh input
        i = b.new_leaf(data, (1, data.draw(_sampled((1, 2))), 4, 5))
    n = int(np.prod(b.shapes[i]))
    h, w = data.draw(_sampled([(h, w) for h in (3, 4, 5) for w in (3, 4, 5) if n % (h * w) == 0]))
    c = n // (h * w)
    kh, kw = data.draw(_sampled(((2, 2), (3, 2), (1, 3), (3, 3))))
    stride, pad = data.draw(_sampled((1, 2))), data.draw(_sampled((0, 1)))
    cout = data.draw(_sampled((2, 3)))
    j = b.new_leaf(data, (cout, c, kh, kw))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    params = {"c": c, "h": h, "w": w, "stride": stride, "padding": pad}
    return Drawn((i, j), params, (1, cout, oh, ow), _promote(b.dtypes[i], b.dtypes[j]))


def _render_conv(target, n, p):
    x = f"{n[0]}.reshape(1, {p['c']}, {p['h']}, {p['w']})"
    f = "torch.nn.functional.conv2d" if target == "torch" else "F.conv2d"
    return f"{f}({x}, {n[1]}, stride={p['stride']}, padding={p['padding']})"


_add(Recipe("conv2d", _draw_conv, _render_conv, uses=("reshape",)))
