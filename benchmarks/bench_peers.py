"""Every engine on W1-W4, side by side in one run: time per training step as a ratio to
hand-written NumPy measured in the same rounds.

Each model is written once (``graphcompare.experiments.workloads.standard``) and run the way a
user runs it on each engine (``graphcompare.experiments.peers``): dyngraph, staticgraph
(``optimize=True`` on its best tier, and ``optimize=False``), hand-written NumPy, PyTorch eager,
``torch.compile``, JAX ``jit`` and PyTensor, where installed. Before any timing, every engine's
loss and gradients are checked against the NumPy reference; an engine that disagrees is not
timed.

One core (``os.sched_setaffinity``), BLAS/OpenMP one thread (environment and threadpoolctl),
``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` unset, a warm-up, then rounds: in each round every
engine (in a shuffled order) runs a block of back-to-back steps, so a slow spell of the machine
hits all of them alike. Reported: the median over rounds of the time per step, and the ratio to
NumPy (median of the per-round ratios, with their range). W4's peak memory is measured per
engine in a fresh process (peak resident set size during one warm step, above the resident size
before it; large arrays mapped and unmapped as they are made and freed, so the resident set
follows the live arrays).

    python benchmarks/bench_peers.py                    # everything, table + bench_peers.json
    python benchmarks/bench_peers.py W2 W3 --rounds 9   # some workloads
    python benchmarks/bench_peers.py --engines numpy,staticgraph,jax
    python benchmarks/bench_peers.py --engines numpy,staticgraph,staticgraph_regions  # whole step on/off
    python benchmarks/bench_peers.py --no-memory        # skip W4's fresh-process memory runs
    python benchmarks/bench_peers.py --clock cpu        # CPU time: steadier on a loaded machine
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"
for _v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(_v, None)
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from graphcompare.experiments import peers  # noqa: E402
from graphcompare.experiments.frontends import Unavailable  # noqa: E402


def pin() -> str:
    core = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {core})
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        limited = "threadpoolctl 1 thread"
    except ImportError:
        limited = "thread variables set before NumPy was imported"
    return f"core {core}, BLAS/OpenMP: {limited}"


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def build(names, engines, log) -> dict:
    """``{workload: {engine: Runner or the reason it is absent}}``, every runner checked."""
    rng = np.random.default_rng(0)
    out = {}
    for name in names:
        spec = peers.SPECS[name]
        args = spec.inputs(rng)
        out[name] = {"args": args, "runners": {}, "absent": {}, "err": {}, "build_s": {}}
        for engine in engines:
            try:
                r = peers.make(engine, spec, args)
                out[name]["err"][engine] = peers.check(r, spec, args)
                out[name]["runners"][engine] = r
                out[name]["build_s"][engine] = r.build_s
                log(f"  {name} {engine}: built in {r.build_s:.2f} s, gradients agree "
                    f"(max rel. err {out[name]['err'][engine]:.1e})")
            except Unavailable as exc:
                out[name]["absent"][engine] = str(exc)
            except Exception as exc:  # noqa: BLE001 - one engine failing must not hide the others
                out[name]["absent"][engine] = f"{type(exc).__name__}: {exc}"
                log(f"  {name} {engine}: NOT TIMED: {type(exc).__name__}: {exc}")
    return out


CLOCK = time.perf_counter  # --clock cpu: time.process_time (a loaded machine's waits excluded)


def interleaved(steps: dict, rounds: int, round_s: float) -> dict:
    """Per engine, the list of per-round seconds per step (blocks of back-to-back steps)."""
    for f in steps.values():  # warm-up
        for _ in range(3):
            f()
    block = {}
    for k, f in steps.items():
        t0 = time.perf_counter()
        f()
        block[k] = int(max(1, min(5000, round_s / len(steps) / max(time.perf_counter() - t0, 1e-7))))
    ts = {k: [] for k in steps}
    order = list(steps)
    for _ in range(rounds):
        random.shuffle(order)
        for k in order:
            f, n = steps[k], block[k]
            t0 = CLOCK()
            for _ in range(n):
                f()
            ts[k].append((CLOCK() - t0) / n)
    return ts


def measure(built: dict, rounds: int, round_s: float) -> dict:
    rows = {}
    for name, b in built.items():
        steps = {k: r.step for k, r in b["runners"].items()}
        ts = interleaved(steps, rounds, round_s)
        row = {"title": peers.SPECS[name].title, "engines": {}}
        base = ts.get("numpy")
        for k, t in ts.items():
            e = {"median_s": statistics.median(t), "build_s": b["build_s"][k], "max_rel_err": b["err"][k]}
            if base:
                ratios = [a / n for a, n in zip(t, base)]
                e.update(ratio=statistics.median(ratios), ratio_min=min(ratios), ratio_max=max(ratios))
            fn = b["runners"][k].fn
            if fn is not None and getattr(fn, "plan", None) is not None:
                e["planned_peak_bytes"] = int(fn.plan.planned_peak)
            row["engines"][k] = e
        row["absent"] = b["absent"]
        rows[name] = row
    return rows


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def peak_child(engine: str) -> None:
    """In a fresh process: W4's peak resident memory over one step of ``engine`` (JSON line)."""
    pin()
    spec = peers.SPECS["W4"]
    args = spec.inputs(np.random.default_rng(0))
    r = peers.make(engine, spec, args)
    for _ in range(2):
        out = r.step()
    del out
    import ctypes
    import gc

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # what earlier steps freed leaves the resident set
    with open("/proc/self/clear_refs", "w") as f:  # reset the high-water mark (Linux)
        f.write("5")
    before = _status("VmRSS")
    out = r.step()
    print(json.dumps({"engine": engine, "peak_bytes": _status("VmHWM") - before}))


def peaks(engines, log) -> dict:
    res = {}
    for engine in engines:
        # a fixed mmap threshold: every large array is mapped when made and unmapped when freed, so
        # the resident set follows the live arrays of every engine alike
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 16)}
        p = subprocess.run([sys.executable, __file__, "--peak-child", engine], capture_output=True, text=True,
                           timeout=900, env=env)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if p.returncode == 0 and lines:
            res[engine] = json.loads(lines[-1])["peak_bytes"]
        else:
            log(f"  W4 peak {engine}: failed: {p.stderr.strip().splitlines()[-1:]}")
    return res


def _best_static(engines: dict):
    have = [(engines[k]["ratio"], k) for k in peers.STATIC_PEERS if k in engines]
    return min(have) if have else None


def table(rows: dict, mem: dict) -> str:
    cols = [k for k in peers.ENGINES + peers.EXTRA_ENGINES if any(k in r["engines"] for r in rows.values())]
    head = "| workload | " + " | ".join(peers.LABELS[k] for k in cols) + " | sg / best static peer | dyn / torch |"
    lines = [head, "|" + " --- |" * (len(cols) + 3)]
    for name, r in rows.items():
        es = r["engines"]
        cells = []
        for k in cols:
            e = es.get(k)
            cells.append("-" if e is None else f"{e['ratio']:.2f}x ({e['ratio_min']:.2f}-{e['ratio_max']:.2f})")
        best = _best_static(es)
        vs = f"{es['staticgraph']['ratio'] / best[0]:.2f} ({peers.LABELS[best[1]]})" if best and "staticgraph" in es else "-"
        dyn = f"{es['dyngraph']['median_s'] / es['torch']['median_s']:.2f}" if {"dyngraph", "torch"} <= set(es) else "-"
        lines.append(f"| {name} {r['title']} | " + " | ".join(cells) + f" | {vs} | {dyn} |")
    lines.append("")
    lines.append("NumPy time per step: " + ", ".join(
        f"{n} {r['engines']['numpy']['median_s'] * 1e3:.3f} ms" for n, r in rows.items() if "numpy" in r["engines"]))
    for name, r in rows.items():
        for k, why in r["absent"].items():
            lines.append(f"{name}: {peers.LABELS[k]} not timed: {why}")
    if mem:
        plan = rows.get("W4", {}).get("engines", {}).get("staticgraph", {}).get("planned_peak_bytes")
        lines.append("W4 peak memory over one step (fresh process, resident set above the start): " + ", ".join(
            f"{peers.LABELS[k]} {v / 1e6:.0f} MB" for k, v in mem.items())
            + (f"; staticgraph planned peak {plan / 1e6:.0f} MB" if plan else ""))
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workloads", nargs="*", default=list(peers.SPECS))
    ap.add_argument("--engines", default=",".join(peers.ENGINES))
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--round-s", type=float, default=0.6, help="seconds of one round, all engines together")
    ap.add_argument("--json", default="bench_peers.json")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: the process's CPU time (all its threads), which time spent descheduled on a "
                         "loaded machine does not inflate")
    ap.add_argument("--peak-child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.peak_child:
        peak_child(a.peak_child)
        return
    global CLOCK
    CLOCK = time.process_time if a.clock == "cpu" else time.perf_counter
    engines = [e for e in a.engines.split(",") if e]
    known = peers.ENGINES + peers.EXTRA_ENGINES
    bad = [e for e in engines if e not in known] + [w for w in a.workloads if w not in peers.SPECS]
    if bad:
        ap.error(f"unknown {bad}; engines: {', '.join(known)}; workloads: {', '.join(peers.SPECS)}")
    if "numpy" not in engines:
        engines.insert(0, "numpy")
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    where = pin()
    cpu = cpu_name()
    log(f"{cpu}; {where}; load average {os.getloadavg()}")
    built = build(a.workloads, engines, log)
    rows = measure(built, a.rounds, a.round_s)
    mem = peaks([e for e in engines if e in rows.get("W4", {}).get("engines", {})], log) \
        if "W4" in rows and not a.no_memory else {}
    doc = {"cpu": cpu, "pinning": where, "load_after": os.getloadavg(), "rounds": a.rounds, "workloads": rows,
           "w4_peak_bytes": mem, "versions": _versions(), "clock": a.clock}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"{cpu}, {where}; load average at the end {doc['load_after']}; ratio to hand-written NumPy, "
          f"median (range) over {a.rounds} rounds; {a.clock} clock")
    print(table(rows, mem))


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for m in ("numpy", "numba", "torch", "jax", "pytensor"):
        try:
            out[m] = metadata.version(m)
        except metadata.PackageNotFoundError:
            pass
    return out


if __name__ == "__main__":
    main()
