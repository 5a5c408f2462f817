"""dyngraph against hand-written NumPy, PyTorch eager, HIPS autograd and MyGrad, side by side.

The workloads are ``graphcompare.experiments.workloads.standard``'s:

W1  a chain of 200 elementwise ops on a one-element float64 tensor (mul, add, tanh, mul, ...),
    then ``sum``, forward plus backward. Figure: microseconds per op. Targets: <= 8 us/op and below autograd and MyGrad.
W2  the seed RNN cell ``h = tanh(W_x @ x_t + W_h @ h)`` (W_h 20x20, W_x 20x10, float64)
    unrolled 32 steps, gradients of ``sum(h_32)`` for both weights. Target: no slower than
    PyTorch eager.
W3  one MLP training step, batch 128, 784-512-512-10, tanh, softmax cross-entropy (mean),
    float32: forward, backward, SGD update of the six parameters. Target: within 1.15x of the
    same step written by hand in NumPy.

Run: ``python benchmarks/bench_dyngraph.py`` (``--quick``: fewer repeats).
``--against REV`` measures dyngraph's W1-W3 at git revision ``REV`` and in this tree side by
side instead: the two run in alternating fresh processes (``--rounds N``, default 6), each
taking medians of its CPU time per call, and the table gives this tree / REV per workload
(the median of the rounds' ratios, with their range). The process pins
itself to one core with BLAS single-threaded (OpenBLAS core-type overrides removed) and
interleaves the frameworks' repeats, so load on the machine hits all of them alike. Printed:
the median wall time per call and the median CPU time of this thread per call (the latter is
immune to other processes taking the core), and the ratios of dyngraph to each.
"""

from __future__ import annotations

import os
import sys

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"
for _v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_v, None)
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})

_THIS_TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _by_path(rel: str):
    """A module of this tree loaded from its file (it imports nothing of the project), so that
    ``--against`` can measure another tree's dyngraph on this tree's workload definitions."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_" + rel.replace("/", "_")[:-3], os.path.join(_THIS_TREE, rel))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


steady_allocator = _by_path("graphcompare/experiments/env.py").steady_allocator

ALLOCATOR = steady_allocator()  # freed memory stays mapped: no side pays page-fault churn

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

# the tree whose dyngraph is measured (``--against`` points its runs at another checkout)
sys.path.insert(0, os.environ.get("BENCH_DYNGRAPH_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dyngraph as dg  # noqa: E402
std = _by_path("graphcompare/experiments/workloads/standard.py")

QUICK = "--quick" in sys.argv
REPEATS = 7 if QUICK else 21


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


torch = _optional("torch")
if torch is not None:
    torch.set_num_threads(1)
autograd = _optional("autograd")
mygrad = _optional("mygrad")


def _time(fn, number):
    w0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(number):
        fn()
    return (time.perf_counter() - w0) / number, (time.thread_time() - c0) / number


def medians(fns: dict, number: int) -> dict:
    """Median (wall, cpu) seconds per call of each function, repeats interleaved."""
    for f in fns.values():
        _time(f, max(1, number // 3))  # warm up
    samples = {k: [] for k in fns}
    for _ in range(REPEATS):
        for k, f in fns.items():
            samples[k].append(_time(f, number))
    return {k: (statistics.median(s[0] for s in v), statistics.median(s[1] for s in v)) for k, v in samples.items()}


# --------------------------------------------------------------------------- W1

W1_OPS = std.W1_OPS


def w1_chain(h, ns):
    return std.chain(ns, h, W1_OPS).sum()


def w1_numpy(x):
    h, g = std.chain_numpy(np, x, W1_OPS)
    return np.sum(h), g


def w1_fns(x0: np.ndarray) -> dict:
    fns = {"numpy": lambda: w1_numpy(x0)[1]}
    xd = dg.tensor(x0, requires_grad=True)

    def dyngraph():
        xd.grad = None
        w1_chain(xd, dg).backward()
        return xd.grad.numpy()

    fns["dyngraph"] = dyngraph
    if torch is not None:
        xt = torch.tensor(x0, requires_grad=True)

        def pytorch():
            xt.grad = None
            w1_chain(xt, torch).backward()
            return xt.grad.numpy()

        fns["pytorch"] = pytorch
    if autograd is not None:
        import autograd.numpy as anp

        g = autograd.grad(lambda x: w1_chain(x, anp))
        fns["autograd"] = lambda: g(x0)
    if mygrad is not None:
        def mygrad_fn():
            x = mygrad.tensor(x0)
            w1_chain(x, mygrad).backward()
            return np.asarray(x.grad)

        fns["mygrad"] = mygrad_fn
    return fns


# --------------------------------------------------------------------------- W2

T, H, X = std.T, std.H, std.X


def w2_chain(Wx, Wh, xs, h0, ns):
    return std.rnn(ns, Wx, Wh, xs, h0)


def w2_numpy(Wx, Wh, xs, h0):
    return std.rnn_numpy(np, Wx, Wh, xs, h0)[1:]


def w2_fns(Wx, Wh, xs, h0) -> dict:
    fns = {"numpy": lambda: w2_numpy(Wx, Wh, xs, h0)}
    dWx, dWh = dg.tensor(Wx, requires_grad=True), dg.tensor(Wh, requires_grad=True)
    dxs = [dg.tensor(x) for x in xs]
    dh0 = dg.tensor(h0)

    def dyngraph():
        dWx.grad = dWh.grad = None
        w2_chain(dWx, dWh, dxs, dh0, dg).backward()
        return dWx.grad.numpy(), dWh.grad.numpy()

    fns["dyngraph"] = dyngraph
    if torch is not None:
        tWx, tWh = torch.tensor(Wx, requires_grad=True), torch.tensor(Wh, requires_grad=True)
        txs = [torch.tensor(x) for x in xs]
        th0 = torch.tensor(h0)

        def pytorch():
            tWx.grad = tWh.grad = None
            w2_chain(tWx, tWh, txs, th0, torch).backward()
            return tWx.grad.numpy(), tWh.grad.numpy()

        fns["pytorch"] = pytorch
    if autograd is not None:
        import autograd.numpy as anp

        g = autograd.grad(lambda ws: w2_chain(ws[0], ws[1], xs, h0, anp))
        fns["autograd"] = lambda: g((Wx, Wh))
    if mygrad is not None:
        def mygrad_fn():
            mWx, mWh = mygrad.tensor(Wx), mygrad.tensor(Wh)
            w2_chain(mWx, mWh, xs, h0, mygrad).backward()
            return np.asarray(mWx.grad), np.asarray(mWh.grad)

        fns["mygrad"] = mygrad_fn
    return fns


# --------------------------------------------------------------------------- W3

N, SIZES, LR = std.BATCH, std.SIZES, 0.01


def w3_params(rng):
    return std.mlp_params(rng)


def w3_numpy_step(P, x, y):
    loss, grads = std.mlp_numpy(np, x, y, P)
    for p, g in zip(P, grads):
        p -= LR * g
    return loss


def w3_forward(P, x, ns):
    return std.mlp_logits(ns, x, P)


def w3_fns(P0, x, y) -> dict:
    Pn = [p.copy() for p in P0]
    fns = {"numpy": lambda: w3_numpy_step(Pn, x, y)}
    Pd = [dg.tensor(p, requires_grad=True) for p in P0]
    xd, yd = dg.tensor(x), dg.tensor(y)

    def dyngraph():
        loss = dg.softmax_cross_entropy(w3_forward(Pd, xd, dg), yd)
        loss.backward()
        with dg.no_grad():
            for p in Pd:
                p -= LR * p.grad
                p.grad = None
        return loss

    fns["dyngraph"] = dyngraph
    if torch is not None:
        Pt = [torch.tensor(p, requires_grad=True) for p in P0]
        xt, yt = torch.tensor(x), torch.tensor(y)

        def pytorch():
            loss = torch.nn.functional.cross_entropy(w3_forward(Pt, xt, torch), yt)
            loss.backward()
            with torch.no_grad():
                for p in Pt:
                    p -= LR * p.grad
                    p.grad = None
            return loss

        fns["pytorch"] = pytorch
    if autograd is not None:
        import autograd.numpy as anp
        from autograd.scipy.special import logsumexp

        def loss_fn(P):
            logits = w3_forward(P, x, anp)
            return -anp.mean(logits[np.arange(N), y] - logsumexp(logits, axis=1))

        g = autograd.grad(loss_fn)
        Pa = [p.copy() for p in P0]

        def autograd_fn():
            for p, gp in zip(Pa, g(Pa)):
                p -= LR * gp

        fns["autograd"] = autograd_fn
    if mygrad is not None:
        from mygrad.nnet.losses import softmax_crossentropy

        Pm = [p.copy() for p in P0]

        def mygrad_fn():
            ts = [mygrad.tensor(p) for p in Pm]
            loss = softmax_crossentropy(w3_forward(ts, x, mygrad), y)
            loss.backward()
            for p, t in zip(Pm, ts):
                p -= LR * np.asarray(t.grad)

        fns["mygrad"] = mygrad_fn
    return fns


# --------------------------------------------------------------------------- report


def check_agreement(fns: dict, name: str) -> None:
    ref = fns["numpy"]()
    got = fns["dyngraph"]()
    ref = ref if isinstance(ref, tuple) else (ref,)
    got = got if isinstance(got, tuple) else (got,)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-9, err_msg=f"{name}: dyngraph and NumPy disagree")


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    w1 = w1_fns(np.array([0.3]))
    check_agreement(w1, "W1")
    w2 = w2_fns(*std.rnn_inputs(rng, "float64", columns=True))
    check_agreement(w2, "W2")
    P0 = w3_params(rng)
    x, y = std.mlp_batch(rng)
    w3 = w3_fns(P0, x, y)
    results = {
        "W1": (medians(w1, 30 if QUICK else 100), len(W1_OPS) + 1),
        "W2": (medians(w2, 20 if QUICK else 60), None),
        "W3": (medians(w3, 2 if QUICK else 5), None),
    }
    print(f"dyngraph benchmark  (pinned to CPU {sorted(os.sched_getaffinity(0))}, BLAS 1 thread, "
          f"{REPEATS} interleaved repeats; numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else "") + ")")
    print(f"allocator: {ALLOCATOR}")
    print(f"{'workload':<9}{'framework':<11}{'wall ms':>10}{'cpu ms':>10}{'us/op (cpu)':>13}"
          f"{'dyngraph / it (cpu)':>22}{'(wall)':>9}")
    for wname, (res, n_ops) in results.items():
        dgw, dgc = res["dyngraph"]
        for fw, (w, c) in res.items():
            per = f"{c / n_ops * 1e6:.2f}" if n_ops else ""
            rows.append((wname, fw, w, c))
            print(f"{wname:<9}{fw:<11}{w * 1e3:>10.3f}{c * 1e3:>10.3f}{per:>13}{dgc / c:>21.2f}x{dgw / w:>8.2f}x")
    w1r = results["W1"][0]
    print()
    print(f"W1 dyngraph: {w1r['dyngraph'][1] / (len(W1_OPS) + 1) * 1e6:.2f} us/op cpu "
          f"({w1r['dyngraph'][0] / (len(W1_OPS) + 1) * 1e6:.2f} wall); target <= 8 and below autograd, MyGrad")
    if torch:
        r = results["W2"][0]
        print(f"W2 dyngraph / PyTorch: {r['dyngraph'][1] / r['pytorch'][1]:.2f}x cpu "
              f"({r['dyngraph'][0] / r['pytorch'][0]:.2f}x wall); target <= 1")
    r = results["W3"][0]
    print(f"W3 dyngraph / NumPy: {r['dyngraph'][1] / r['numpy'][1]:.2f}x cpu "
          f"({r['dyngraph'][0] / r['numpy'][0]:.2f}x wall); target <= 1.15")


def dyngraph_only() -> dict:
    """Median CPU seconds per call of dyngraph's W1, W2, W3 (one ``--against`` round)."""
    rng = np.random.default_rng(0)
    w1 = w1_fns(np.array([0.3]))
    w2 = w2_fns(rng.standard_normal((H, X)) * 0.3, rng.standard_normal((H, H)) * 0.3,
                rng.standard_normal((T, X, 1)), np.zeros((H, 1)))
    P0 = w3_params(rng)
    x = rng.standard_normal((N, SIZES[0])).astype(np.float32)
    w3 = w3_fns(P0, x, rng.integers(0, SIZES[-1], N))
    return {w: medians({"dyngraph": fns["dyngraph"]}, n)["dyngraph"][1]
            for w, fns, n in (("W1", w1, 100), ("W2", w2, 60), ("W3", w3, 5))}


def against(rev: str, rounds: int) -> None:
    from revisions import alternate, table

    runs = alternate(os.path.abspath(__file__), ["--dyngraph-only", *(["--quick"] if QUICK else [])],
                     "BENCH_DYNGRAPH_ROOT", rev, rounds)
    print(f"dyngraph, this tree / {rev}: {rounds} alternating rounds of fresh processes, CPU time per call "
          f"(pinned to one core, BLAS 1 thread; the machine is shared, so the range matters)")
    print(table(runs, rev, ("W1", "W2", "W3"), "ms", 1e3))


if __name__ == "__main__":
    if "--dyngraph-only" in sys.argv:
        import json

        print(json.dumps(dyngraph_only()))
    elif "--against" in sys.argv:
        args = sys.argv[1:]
        n = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 6
        against(args[args.index("--against") + 1], n)
    else:
        main()
