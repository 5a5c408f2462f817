"""Compile latency: cold set-up + first call, steady state on the best tier, and scaling.

Three tables, measured side by side in one run (one core, BLAS one thread):

1. **cold**: each (workload, implementation) in a fresh process with an empty fused-kernel
   cache: declaration + gradients + compile + the first call, for staticgraph
   ``optimize=True`` (fused regions start on their NumPy tier; numba builds in the
   background), ``optimize=False`` and ``jax.jit`` (tracing, XLA compile, first call). The
   same process then waits for numba (``wait best``) and times steps.
2. **steady**: step time once every region runs on its best tier, as a ratio to hand-written
   NumPy (and to the first tier, measured before the wait).
3. **scaling**: ``sg.compile(optimize=True)`` of elementwise chains (forward and gradient) from
   100 to 100,000 nodes, each pass's time, and the exponent ``k`` of ``time ~ nodes**k`` fitted
   on the largest sizes (linear: ``k`` near 1).

W1-W4 are ``bench_compiler.py``'s. The machine is shared: figures are medians, and ratios
measured side by side matter more than absolute times.

    python benchmarks/bench_compile.py                # everything
    python benchmarks/bench_compile.py cold W1 W3     # some tables / workloads
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = ("W1", "W2", "W3", "W4")
IMPLS = ("staticgraph", "staticgraph O0", "jax.jit")


def env_one_core() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", XLA_FLAGS="--xla_cpu_multi_thread_eigen=false",
               PYTHONPATH=os.pathsep.join([ROOT, HERE] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return env


def pin() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


# --------------------------------------------------------------------------- one cold run (child)

def _median_step(fn, args, min_time=0.3, max_reps=2000) -> float:
    import numpy as np

    for _ in range(3):
        fn(*args)
    ts = []
    t_end = time.perf_counter() + min_time
    while (time.perf_counter() < t_end or len(ts) < 5) and len(ts) < max_reps:
        t0 = time.perf_counter()
        fn(*args)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _jax_step(name):
    """``jax.jit`` of the workload's loss and gradients, from the same definitions
    (``graphcompare.experiments.workloads.standard``) with ``jax.numpy`` as the namespace."""
    import types

    import jax
    import jax.numpy as jnp

    from graphcompare.experiments.workloads import standard as std

    def xent(logits, labels):
        lsm = jax.nn.log_softmax(logits, axis=-1)
        return -jnp.take_along_axis(lsm, labels[:, None], axis=-1).mean()

    ns = types.SimpleNamespace(tanh=jnp.tanh, exp=jnp.exp, softmax_cross_entropy=xent)
    if name == "W1":
        def f(x):
            y = std.chain(ns, x)
            return y.sum(), y
        g = jax.value_and_grad(f, has_aux=True)
        return jax.jit(g)
    if name == "W2":
        g = jax.value_and_grad(lambda Wx, Wh, X, h0: std.rnn(ns, Wx, Wh, X, h0), argnums=(0, 1))
        return jax.jit(g)
    if name == "W3":
        g = jax.value_and_grad(lambda params, x, labels: std.mlp(ns, x, labels, params))
        return jax.jit(lambda x, labels, *params: g(list(params), x, labels))
    g = jax.value_and_grad(lambda x, y: std.elementwise(ns, x, y), argnums=(0, 1))  # W4
    return jax.jit(g)


def child(name: str, impl: str) -> dict:
    pin()
    import numpy as np

    import bench_compiler as B

    graph, numpy_step, _, inputs, _ = B.WORKLOADS[name]
    args = inputs(np.random.default_rng(0))
    out = {"workload": name, "impl": impl}
    if impl == "jax.jit":
        import jax  # noqa: F401 - imported before the clock, as staticgraph is

        t0 = time.perf_counter()
        fn = _jax_step(name)
        r = fn(*args)
        [np.asarray(a) for a in __import__("jax").tree_util.tree_leaves(r)]
        out["cold_s"] = time.perf_counter() - t0
        out["step_s"] = _median_step(lambda *a: __import__("jax").block_until_ready(fn(*a)), args)
    else:
        import staticgraph as sg

        t0 = time.perf_counter()
        outs, ins = graph()
        fn = sg.compile(outs, inputs=ins, optimize=impl == "staticgraph")
        fn(*args)
        out["cold_s"] = time.perf_counter() - t0
        out["first_tier_step_s"] = _median_step(fn, args, min_time=0.2, max_reps=50)
        t1 = time.perf_counter()
        ok = fn.wait_compiled()
        out["wait_best_s"] = time.perf_counter() - t1
        out["best_ok"] = ok
        out["regions"] = len(fn.regions())
        out["whole_step"] = getattr(fn, "whole_step", None) is not None
        out["step_s"] = _median_step(fn, args)
    out["numpy_s"] = _median_step(numpy_step, args)
    return out


def cold(names) -> list:
    rows = []
    for name in names:
        for impl in IMPLS:
            with tempfile.TemporaryDirectory() as cache:
                env = dict(env_one_core(), GRAPHCOMPARE_CACHE=cache, GRAPHCOMPARE_JIT="background")
                p = subprocess.run([sys.executable, __file__, "--child", name, impl], env=env,
                                   capture_output=True, text=True, timeout=1800)
            if p.returncode != 0:
                rows.append({"workload": name, "impl": impl, "error": p.stderr.strip().splitlines()[-1:]})
                continue
            rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return rows


def print_cold(rows) -> None:
    by = {(r["workload"], r["impl"]): r for r in rows}
    print("\n## cold: set-up + first call (fresh process, empty cache), one core\n")
    print("| workload | staticgraph | staticgraph O0 | jax.jit | sg / jax | numba ready after |")
    print("| --- | --- | --- | --- | --- | --- |")
    for w in sorted({r["workload"] for r in rows}):
        cells = [f"{by[(w, i)]['cold_s']:.3f} s" if "cold_s" in by.get((w, i), {}) else "error" for i in IMPLS]
        sg_, jx = by.get((w, "staticgraph"), {}), by.get((w, "jax.jit"), {})
        ratio = f"{sg_['cold_s'] / jx['cold_s']:.2f}x" if "cold_s" in sg_ and "cold_s" in jx else "-"
        what = "whole step" if sg_.get("whole_step") else f"{sg_.get('regions')} regions"
        wait = f"{sg_['wait_best_s']:.2f} s ({what})" if "wait_best_s" in sg_ else "-"
        print(f"| {w} | " + " | ".join(cells) + f" | {ratio} | {wait} |")
    print("\n## steady state: step time / hand-written NumPy (same process)\n")
    print("| workload | staticgraph best tier | staticgraph NumPy tier | staticgraph O0 | jax.jit |")
    print("| --- | --- | --- | --- | --- |")
    for w in sorted({r["workload"] for r in rows}):
        def ratio(impl, key="step_s"):
            r = by.get((w, impl), {})
            return f"{r[key] / r['numpy_s']:.2f}x" if key in r and r.get("numpy_s") else "-"
        print(f"| {w} | {ratio('staticgraph')} | {ratio('staticgraph', 'first_tier_step_s')} | "
              f"{ratio('staticgraph O0')} | {ratio('jax.jit')} |")


# --------------------------------------------------------------------------- scaling

SIZES = (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000)


def _chain(nodes: int):
    import staticgraph as sg

    with sg.Graph() as g:
        x = sg.placeholder((4,), name="x")
        y = x
        while len(g.nodes) * 5 // 3 < nodes:  # the gradient adds about 2/3 of the forward
            y = (y * 1.0001 + 0.001).tanh()
        (gx,) = sg.gradients(y.sum(), [x])
    return [y, gx], [x], len(g.nodes)


def scaling(sizes=SIZES) -> list:
    import staticgraph as sg
    from shared_ops import fusion_jit

    fusion_jit.set_mode("off")  # the passes and the NumPy tier only: what sg.compile waits for
    rows = []
    for n in sizes:
        outs, ins, declared = _chain(n)
        t0 = time.perf_counter()
        fn = sg.compile(outs, inputs=ins, optimize=True)
        total = time.perf_counter() - t0
        passes = {r.name: r.seconds for r in fn.pass_results if r.name != "pipeline"}
        rows.append({"nodes": declared, "total_s": total, **passes})
    return rows


def _exponent(xs, ys) -> float:
    import numpy as np

    lx, ly = np.log(xs), np.log(np.maximum(ys, 1e-6))
    return float(np.polyfit(lx, ly, 1)[0])


def print_scaling(rows) -> None:
    names = [k for k in rows[0] if k not in ("nodes", "total_s")]
    print("\n## scaling: sg.compile(optimize=True) of a chain and its gradient (numba off: never waited for)\n")
    print("| nodes | total | " + " | ".join(names) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in names) + " |")
    for r in rows:
        print(f"| {r['nodes']:,} | {r['total_s']:.3f} s | " + " | ".join(f"{r.get(k, 0.0) * 1e3:.1f} ms" for k in names) + " |")
    big = rows[-4:] if len(rows) >= 4 else rows
    xs = [r["nodes"] for r in big]
    fits = [f"total {_exponent(xs, [r['total_s'] for r in big]):.2f}"]
    fits += [f"{k} {_exponent(xs, [r.get(k, 0.0) for r in big]):.2f}" for k in names]
    print(f"\nfitted exponent k (time ~ nodes**k, {xs[0]:,} to {xs[-1]:,} nodes): " + ", ".join(fits))


def main(argv) -> None:
    if argv[:1] == ["--child"]:
        print(json.dumps(child(argv[1], argv[2])))
        return
    tables = [a for a in argv if a in ("cold", "scaling")] or ["cold", "scaling"]
    names = [a for a in argv if a in WORKLOADS] or list(WORKLOADS)
    print(f"bench_compile: one core, BLAS one thread; the machine may be shared (medians). {time.strftime('%Y-%m-%d %H:%M')}")
    if "cold" in tables:
        print_cold(cold(names))
    if "scaling" in tables:
        pin()
        print_scaling(scaling())


if __name__ == "__main__":
    main(sys.argv[1:])
