"""Run the suite: every measure, with progress bars on stderr, then JSON, CSV, plots and report."""

from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from pathlib import Path

from . import env, measures, plots, report, results
from .config import Config
from .tree_measure import measure_tree
from .workloads import make


def peer_status(cfg: Config) -> dict:
    """Which peers run in this suite, and why the others do not."""
    out = {"hand-written NumPy": "ran (always)"}
    if "torch" in cfg.peers:
        try:
            import torch

            out["PyTorch eager"] = (f"ran (torch {torch.__version__}, {torch.get_num_threads()} thread)"
                                    if cfg.backend == "numpy" else "skipped: CPU build compared on the NumPy backend only")
        except ImportError:
            out["PyTorch eager"] = "skipped: PyTorch is not installed (pip install -e '.[peers]')"
    if "torch_compile" in cfg.peers:
        try:
            import torch

            out["torch.compile"] = ("ran (inductor, CPU)" if cfg.backend == "numpy"
                                    else "skipped: CPU build compared on the NumPy backend only")
        except ImportError:
            out["torch.compile"] = "skipped: PyTorch is not installed (pip install -e '.[peers]')"
    if "jax" in cfg.peers:
        try:
            import jax

            out["JAX jit"] = f"ran (jax {jax.__version__})"
        except ImportError:
            out["JAX jit"] = "skipped: JAX is not installed (pip install -e '.[peers]')"
    return out


def _active_peers(cfg: Config, status: dict) -> list[str]:
    names = {"numpy": "hand-written NumPy", "torch": "PyTorch eager", "torch_compile": "torch.compile", "jax": "JAX jit"}
    return [p for p in cfg.peers if status.get(names[p], "").startswith("ran")]


def run_suite(cfg: Config, out: str | Path, command: str = "", progress: bool = True, pin_cpu: bool = True) -> dict:
    """Run every measure of ``cfg``; write ``results.json``, ``results.csv``, ``report.md`` and PNGs to ``out``."""
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    load_start = env.load_average()
    threads = env.pin_threads()
    cache_at_start = env.fusion_cache()
    old_aff = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    affinity = env.pin_cpu() if pin_cpu else "not pinned (--no-pin)"
    allocator = env.steady_allocator()
    import shared_ops

    backend = shared_ops.get_backend(cfg.backend)
    shared_ops.set_default_backend(cfg.backend)
    peers = peer_status(cfg)
    # what is loaded by now (the peers' libraries included) lives until the end: the full
    # collection before each timed sample (stats.quiet_gc) need not walk it again
    import gc

    gc.collect()
    gc.freeze()
    cfg_run = Config(**{**cfg.__dict__, "peers": tuple(_active_peers(cfg, peers)),
                        "timer_bias": measures.timer_bias()})
    impls = measures.impls(cfg_run)

    def wl_of(name, size):
        w = make(name, **size)
        w.backend = backend
        return w

    n_scaling = sum(len(s[2]) for s in cfg.scaling.values())
    total = (len(cfg.workloads) * len(impls) + len(cfg.memory) + n_scaling + len(cfg.ablation) + 1)
    bar = tqdm(total=total, desc="graphcompare", unit="task", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    doc: dict = {"meta": {}, "main": [], "memory": [], "scaling": [], "ablation": [], "tree": None}
    try:
        for name, size in cfg.workloads.items():
            wl = wl_of(name, size)
            for impl in impls:
                bar.set_postfix_str(f"time {name}/{impl}")
                doc["main"].append(measures.measure_step(wl, impl, cfg_run))
                bar.update(1)
        doc["break_even"] = measures.break_even(doc["main"])
        for name in cfg.memory:
            bar.set_postfix_str(f"memory {name}")
            doc["memory"] += measures.measure_memory(wl_of(name, cfg.workloads.get(name, {})), cfg_run)
            bar.update(1)
        for sweep, spec in cfg.scaling.items():
            bar.set_postfix_str(f"scaling {sweep}")
            doc["scaling"].append(measures.measure_scaling(sweep, spec, cfg_run, progress=bar))
        for name, size in cfg.ablation.items():
            bar.set_postfix_str(f"ablation {name}")
            doc["ablation"] += measures.measure_ablation(wl_of(name, {**cfg.workloads.get(name, {}), **size}), cfg_run)
            bar.update(1)
        bar.set_postfix_str("dynamic structure")
        doc["tree"] = measure_tree(cfg_run)
        bar.update(1)
        if cfg.dynamic:
            from . import structure

            bar.set_postfix_str("dynamic structure, four ways")
            doc["dynamic"] = structure.measure_dynamic(cfg.dynamic, cfg.seed,
                                                       lambda what: bar.set_postfix_str(f"four ways {what}"))
    finally:
        bar.close()
        if old_aff is not None:
            os.sched_setaffinity(0, old_aff)
    doc["peers"] = peers
    doc["meta"] = {
        "command": command or "graphcompare.experiments.run_suite(...)",
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "config": cfg_run.to_dict(),
        "machine": env.machine_info(),
        "threads": threads,
        "affinity": affinity,
        "allocator": allocator,
        "dyngraph_accelerator": env.dyngraph_accelerator(),
        "fusion_cache_at_start": cache_at_start,
        "wall_s": time.perf_counter() - t_start,
        # other processes share the cores: the load says how much, CPU time / wall time how much this run got
        "cpu_s": time.process_time() - cpu_start,
        "load": {"start": load_start, "end": env.load_average()},
    }
    doc["plots"] = make_plots(doc, out)
    saved = results.save_json(doc, out / "results.json")
    results.save_csv(saved, out / "results.csv")
    (out / "report.md").write_text(report.render(saved, saved["plots"]))
    return saved


def _dynamic_plot(res, out: Path):
    from . import structure

    return structure.plot(res or {}, out)


def make_plots(doc: dict, out: Path) -> dict:
    made = {}
    for key, fn in (("time_split", lambda: plots.time_split(doc["main"], out)),
                    ("memory", lambda: plots.memory(doc["memory"], out)),
                    ("ablation", lambda: plots.ablation(doc["ablation"], out)),
                    ("tree", lambda: plots.tree(doc["tree"] or {}, out)),
                    ("dynamic", lambda: _dynamic_plot(doc.get("dynamic"), out))):
        name = fn()
        if name:
            made[key] = name
    for sw in doc["scaling"]:
        name = plots.scaling(sw, out)
        if name:
            made[f"scaling_{sw['sweep']}"] = name
    return made
