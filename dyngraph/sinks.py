"""Where a gradient leaves the backward walk: tensor hooks, and a leaf's ``AccumulateGrad`` sink.

``engine.walk_py`` and its compiled twin call ``run_hooks`` on a node's summed gradient and
``accumulate`` on a leaf's buffer; ``owned`` decides whether the leaf may keep the gradient's
array (no copy) or must copy it.
"""

from __future__ import annotations

import sys

from .errors import AutogradError
from .tensors import Tensor, wrap

_getrefcount = sys.getrefcount
_LEGACY = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor"}


def accumulate(acc, terms, interp, capture=None, captured=None):
    """A leaf's sink: its hooks, then ``.grad`` set or summed (or, for ``grad()``, captured).
    ``terms``: its buffer (one gradient, or a list of them)."""
    if terms is None:
        return
    if terms.__class__ is not list:
        g = terms
    else:
        g = terms.pop() if len(terms) == 1 else interp.ops.add_n(*reversed(terms))
    terms = None
    v = acc.variable
    m = v._meta  # not None: it holds the weak reference to acc
    if m.hooks:
        g = run_hooks(m.hooks, g, interp)
    if capture is not None:
        for i in capture.get(acc, ()):
            captured[i] = g
        return
    old = m.grad
    be = interp.be
    if interp.tensors:
        m.grad = g if old is None else old + g
    elif old is None:
        m.grad = wrap(owned(g, be), be)
    else:
        m.grad = wrap(interp.ops.add(old._data, g), be)
    if m.post:
        for hook in list(m.post):
            hook(v)


def owned(g, be):
    """``g`` itself when nothing else can see it (PyTorch steals the buffer too), else a copy.

    Nothing else sees it when the only references are this call's and its caller's: a
    reference count of ``_STEAL_REFS``. Stealing saves one copy of every weight's gradient per
    step (for W3's 784x512 weight, 1.6 MB): ``python benchmarks/bench_steal.py`` gives W3
    (bench_dyngraph's MLP step) 1.00x-1.06x slower when every gradient is copied, median
    1.04x over five runs on a shared two-core machine; W1 and W2 (small gradients) show no
    difference (0.96x-1.01x).
    """
    if be.name == "numpy":
        if g.base is None and g.flags.writeable and _getrefcount(g) <= _STEAL_REFS:
            return g
        return g.copy()
    return be.xp.asarray(g, copy=True)


# references to a gradient nobody else holds, as seen from owned: its caller's local, its
# parameter, and getrefcount's argument
_STEAL_REFS = 3


def run_hooks(hooks, g, interp):
    """The tensor hooks on a gradient; a hook's returned tensor replaces it (same shape and
    dtype, checked with PyTorch's words)."""
    for h in list(hooks):
        old = interp.as_tensor(g)
        r = h(old)
        if r is None:
            continue
        if not isinstance(r, Tensor):
            raise AutogradError(f"a hook must return a Tensor or None, got {type(r).__name__}")
        name = getattr(h, "__name__", type(h).__name__)
        if tuple(r.shape) != tuple(old.shape):
            raise AutogradError(f"hook '{name}' has changed the size of value")
        if r._dtype_name != old._dtype_name:
            was, got = (_LEGACY.get(t._dtype_name, t._dtype_name) for t in (old, r))
            raise AutogradError(f"hook '{name}' has changed the type of value (was dyngraph.{was} got dyngraph.{got})")
        g = interp.as_value(r)
    return g
