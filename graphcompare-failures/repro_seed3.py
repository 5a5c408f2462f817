"""graphcompare reproducer: the way 'pass:fuse' disagrees. Fails while the bug is there."""
import numpy as np

import dyngraph as dg
import staticgraph as sg

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

def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]

def _np(x):
    """A fetched value as a NumPy array (CuPy arrays are copied to the host)."""
    return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else np.asarray(x)

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

def _zero_if_none(a, like):
    return np.zeros_like(like) if a is None else np.asarray(a)

def rounding_sensitivity(model64, X64, W64, ref, runs=3, rel=2.0 ** -44, seed=0):
    """How far rounding anywhere in the program can move each reference value: the largest
    ``|r_k - ref| / rel`` over ``runs`` float64 runs ``r_k`` with every kernel result
    multiplied by ``1 + rel * u``, ``u`` uniform in [-1, 1] (Monte Carlo arithmetic,
    ``shared_ops.perturb_rounding``). Where terms cancel it is as large as the terms."""
    from shared_ops import perturb_rounding

    sens = [None if r is None else np.zeros(np.shape(r)) for r in ref]
    for k in range(runs):
        with perturb_rounding(rel, seed=seed + k):
            got = run_dyngraph(model64, X64, W64)
        for i, (g, r) in enumerate(zip(got, ref)):
            if r is not None and g is not None:
                sens[i] = np.maximum(sens[i], np.abs(np.asarray(g, dtype=np.float64) - r) / rel)
    return sens

def tolerance_bound(plain, ref, sens=None):
    """How far a result may be from the float64 reference ``ref`` (see graphcompare.equivalence)."""
    plain, ref = np.asarray(plain), np.asarray(ref, dtype=np.float64)
    eps = float(np.finfo(plain.dtype).eps) if plain.dtype.kind == "f" else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    own = float(np.max(np.abs(plain.astype(np.float64) - ref))) if ref.size else 0.0
    bound = 4.0 * own + 8.0 * eps * (np.abs(ref) + scale) + np.finfo(np.float64).tiny
    if sens is not None and ref.size:
        bound = bound + 16.0 * eps * (sens + float(np.max(sens)))
    return bound

def check_close(got, plain, ref, names, label, sens=None):
    """Each result within ``tolerance_bound(plain, ref, sens)`` of the float64 reference;
    returns the largest fraction of its bound any result used (0 to 1)."""
    used = 0.0
    for i, (name, a, p, r) in enumerate(zip(names, got, plain, ref)):
        if r is None:
            r = np.zeros_like(p if p is not None else a, dtype=np.float64)
        p, a = _zero_if_none(p, r), _zero_if_none(a, r)
        if np.shape(a) != np.shape(r):
            raise AssertionError(f"{label}: {name} has shape {np.shape(a)}, the reference {np.shape(r)}")
        bound = tolerance_bound(p, r, None if sens is None else sens[i])
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


X = [
    np.array([1.3465310335159302, 0.6856160759925842, 0.2737523317337036, 0.22974973917007446, 1.6638864278793335, 1.842960000038147], dtype='float32').reshape(2, 3),
    np.array(1.8015297651290894, dtype='float32'),
    np.array(-0.34548327326774597, dtype='float32'),
]
W = [
    np.array(1.1369616985321045, dtype='float32'),
]
X64 = [a.astype(np.float64) for a in X]
W64 = [w.astype(np.float64) for w in W]
NAMES = ['output v0', 'grad x0', 'grad x1', 'grad x2']


def model(F, x0, x1, x2):
    v0 = x0.max(axis=None, keepdims=False)
    return [v0]


model64 = model  # the float64 reference runs the same model on float64 inputs


plain = run_dyngraph(model, X, W)
ref = run_dyngraph(model64, X64, W64)
sens = rounding_sensitivity(model64, X64, W64, ref, seed=3)
check_close(run_static(model, X, W, optimize=['fuse']), plain, ref, NAMES, 'pass:fuse', sens)
print('no disagreement')
