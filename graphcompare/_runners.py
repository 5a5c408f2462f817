"""How one model runs each way, and the checks; used by the checker and pasted into reproducers.

This module uses only NumPy and the public API of ``dyngraph``, ``staticgraph`` and
``shared_ops.testing`` (and PyTorch in ``run_torch``), so that its source, copied verbatim into a reproducer, runs on its
own. A model is ``model(F, *xs)`` returning a list of values; ``F`` is the front end's module
(``dg``, ``sg``; ``None`` for PyTorch). Every way returns ``outputs + gradients`` as NumPy
arrays (a gradient is ``None`` when the input does not reach the loss).
"""

import numpy as np

import dyngraph as dg
import staticgraph as sg
from shared_ops.testing import check_directional


def loss(F, model, xs, W):
    """The scalar a program differentiates: sum_k (output_k * W_k).sum(), in output order."""
    outs = list(model(F, *xs))
    total = (outs[0] * W[0]).sum()
    for o, w in zip(outs[1:], W[1:]):
        total = total + (o * w).sum()
    return total, outs


def run_dyngraph(model, X, W):
    xs = [dg.tensor(a, requires_grad=True) for a in X]
    total, outs = loss(dg, model, xs, W)
    total.backward()
    return [o.detach().numpy() for o in outs] + [None if x.grad is None else x.grad.numpy() for x in xs]


def loss_value(model, X, W):
    """The loss alone, in dyngraph without recording (finite differences)."""
    with dg.no_grad():
        total, _ = loss(dg, model, [dg.tensor(a) for a in X], W)
    return float(total.item())


def run_static(model, X, W, optimize=False):
    with sg.Graph():
        ps = [sg.placeholder(a.shape, a.dtype.name) for a in X]
        total, outs = loss(sg, model, ps, W)
        gs = sg.gradients(total, ps)
        fetch = list(outs) + [g for g in gs if g is not None]
        fn = sg.compile(fetch, inputs=ps, optimize=optimize)
    got = iter(_as_list(fn(*X)))
    outs = [_np(next(got)) for _ in outs]
    return outs + [None if g is None else _np(next(got)) for g in gs]


def run_function(model, X, W, optimize=False):
    """``sg.function`` tracing: the loss and its gradients declared inside the traced function."""
    shape = {}

    def traced(*xs):
        total, outs = loss(sg, model, xs, W)
        gs = sg.gradients(total, list(xs))
        shape["n_out"], shape["mask"] = len(outs), [g is not None for g in gs]
        return list(outs) + [g for g in gs if g is not None]

    fn = sg.function(traced, optimize=optimize)
    got = iter(_as_list(fn(*X)))
    outs = [_np(next(got)) for _ in range(shape["n_out"])]
    return outs + [_np(next(got)) if m else None for m in shape["mask"]]


def run_torch(model, X, W):
    import torch

    xs = [torch.tensor(a, requires_grad=True) for a in X]
    total, outs = loss(None, model, xs, [torch.tensor(w) for w in W])
    total.backward()
    return [o.detach().numpy() for o in outs] + [None if x.grad is None else x.grad.numpy() for x in xs]


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _np(x):
    """A fetched value as a NumPy array (CuPy arrays are copied to the host)."""
    return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else np.asarray(x)


# --------------------------------------------------------------------------- checks


def _zero_if_none(a, like):
    return np.zeros_like(like) if a is None else np.asarray(a)


def ulp_distance(a, b):
    """Largest distance in units in the last place between two arrays of one float dtype, over
    the entries of ``b`` at least 1/1000 of its largest (near zero, ULPs measure nothing)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.dtype.kind != "f" or a.size == 0:
        return None
    keep = np.abs(b) >= 1e-3 * np.max(np.abs(b))
    a, b = a[keep], b[keep]
    it = np.int64 if a.dtype.itemsize == 8 else np.int32
    ia, ib = a.view(it).astype(np.int64), b.view(it).astype(np.int64)
    # map the sign-magnitude bit patterns onto a monotone integer line
    big = np.int64(np.iinfo(it).min)
    ia = np.where(ia < 0, big - ia, ia)
    ib = np.where(ib < 0, big - ib, ib)
    return int(np.max(np.abs(ia - ib)))


def differences(a, b):
    """max |a - b|, max |a - b| / |b| (where b != 0) and the ULP distance."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a64.size == 0:
        return 0.0, 0.0, 0
    d = np.abs(a64 - b64)
    nz = np.abs(b64) > 0
    rel = float(np.max(d[nz] / np.abs(b64[nz]))) if nz.any() else float(np.max(d))
    return float(np.max(d)), rel, ulp_distance(a, b)


def check_bitwise(got, expected, names, label):
    """Every array byte for byte equal (dtype, shape, bytes); ``None`` equals all zeros of
    either sign: a gradient dyngraph never reached has no bits, and staticgraph's zero for it
    (a capture of a branch not taken, say) may pass through a negation on its way to a leaf."""
    for name, a, b in zip(names, got, expected):
        if a is None and b is None:
            continue
        if a is None or b is None:
            other = b if a is None else a
            if np.any(np.asarray(other) != 0):
                raise AssertionError(f"{label}: {name} is None on one side and nonzero on the other")
            continue
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            m = differences(a, b) if a.shape == b.shape else ("shape", a.shape, b.shape)
            raise AssertionError(
                f"{label}: {name} is not bitwise equal ({a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}; "
                f"max abs, max rel, ULP = {m})"
            )


def rounding_error(model, X, W, base, runs=3, ulps=16, seed=0):
    """How far rounding anywhere in the program can move each value, in the program's own
    dtypes: the largest ``|y_k - base| / ulps`` over ``runs`` runs ``y_k`` with every rounding
    kernel's result ``r`` multiplied by ``1 + ulps * eps(r) * u``, ``u`` uniform in [-1, 1]
    (Monte Carlo arithmetic, ``shared_ops.perturb_rounding``): the effect of one ULP of
    rounding at every op, float32 ops at float32's ULP. Where terms cancel it is an ULP of the
    terms, not of the result."""
    from shared_ops import perturb_rounding

    err = [None if b is None else np.zeros(np.shape(b)) for b in base]
    for k in range(runs):
        with perturb_rounding(ulps, seed=seed + k):
            got = run_dyngraph(model, X, W)
        for i, (g, b) in enumerate(zip(got, base)):
            if b is not None and g is not None:
                d = np.abs(np.asarray(g, dtype=np.float64) - np.asarray(b, dtype=np.float64)) / ulps
                err[i] = np.maximum(err[i], d)
    return err


def tolerance_bound(plain, ref, rounding=None):
    """How far a result may be from the float64 reference ``ref``, elementwise:
    ``4 max|plain - ref| + 8 eps (|ref| + max|ref|) + 16 (E + max E)``, ``E`` = ``rounding``
    (``rounding_error``)."""
    plain, ref = np.asarray(plain), np.asarray(ref, dtype=np.float64)
    eps = float(np.finfo(plain.dtype).eps) if plain.dtype.kind == "f" else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    own = float(np.max(np.abs(plain.astype(np.float64) - ref))) if ref.size else 0.0
    bound = 4.0 * own + 8.0 * eps * (np.abs(ref) + scale) + np.finfo(np.float64).tiny
    if rounding is not None and ref.size:
        bound = bound + 16.0 * (rounding + float(np.max(rounding)))
    return bound


def check_close(got, plain, ref, names, label, rounding=None):
    """Each result within ``tolerance_bound(plain, ref, rounding[i])`` of the float64 reference;
    returns the largest fraction of its bound any result used (0 to 1)."""
    used = 0.0
    for i, (name, a, p, r) in enumerate(zip(names, got, plain, ref)):
        if r is None:
            r = np.zeros_like(p if p is not None else a, dtype=np.float64)
        p, a = _zero_if_none(p, r), _zero_if_none(a, r)
        if np.shape(a) != np.shape(r):
            raise AssertionError(f"{label}: {name} has shape {np.shape(a)}, the reference {np.shape(r)}")
        bound = tolerance_bound(p, r, None if rounding is None else rounding[i])
        err = np.abs(np.asarray(a, dtype=np.float64) - r)
        if not np.all(err <= bound):
            k = np.unravel_index(np.argmax(err - bound), err.shape) if err.ndim else ()
            raise AssertionError(
                f"{label}: {name} is {float(err[k])!r} from the float64 reference at {tuple(int(i) for i in k)} "
                f"(allowed {float(np.broadcast_to(bound, err.shape)[k])!r}; got {float(np.asarray(a)[k])!r}, "
                f"reference {float(r[k])!r})"
            )
        if err.size:
            used = max(used, float(np.max(err / bound)))
    return used


def check_finite_differences(model64, X64, W64, grads, seed=0, directions=2, h=1e-5):
    """The float64 gradients against central differences of the float64 loss along random
    directions (``shared_ops.testing.check_directional``); raises AssertionError on a mismatch."""
    for i, (g, a) in enumerate(zip(grads, X64)):
        if g is not None and np.shape(g) != np.shape(a):  # a lost un-broadcast, say
            raise AssertionError(f"finite differences: the gradient of input {i} has shape {np.shape(g)}, "
                                 f"the input {np.shape(a)}")
    check_directional(lambda *xs: loss_value(model64, list(xs), W64), X64, grads, directions=directions, seed=seed,
                      h=h, what="the float64 loss")


def check_reference(got, ref, names, label, rtol=1e-9, rounding=None):
    """Two float64 computations of one thing (PyTorch vs dyngraph): within ``rtol`` of the
    scale, plus ``16 (E + max E)``, ``E`` = ``rounding`` (``rounding_error`` of the float64
    run: where terms cancel, two correct orders differ by an ULP of the terms)."""
    for i, (name, a, r) in enumerate(zip(names, got, ref)):
        if a is None and r is None:
            continue
        r64 = np.zeros_like(np.asarray(a), dtype=np.float64) if r is None else np.asarray(r, dtype=np.float64)
        a64 = np.zeros_like(r64) if a is None else np.asarray(a, dtype=np.float64)
        if a64.shape != r64.shape:
            raise AssertionError(f"{label}: {name} has shape {a64.shape}, ours {r64.shape}")
        bound = rtol * (np.abs(r64) + (np.max(np.abs(r64)) if r64.size else 0.0)) + 1e-300
        if rounding is not None and rounding[i] is not None and r64.size:
            bound = bound + 16.0 * (rounding[i] + float(np.max(rounding[i])))
        err = np.abs(a64 - r64)
        if not np.all(err <= bound):
            raise AssertionError(f"{label}: {name} differs from ours by {float(np.max(err))!r} (relative to scale {rtol})")
