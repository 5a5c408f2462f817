"""The dynamic-structure measure: a stream of random trees, a new graph structure per input."""

from __future__ import annotations

import time

from .measures import ALL_LABELS, _err
from .stats import Summary, quiet_gc
from .workloads import TreeStream

perf = time.perf_counter


def measure_tree(cfg) -> dict:
    """A stream of random trees: dyngraph runs each; static traces+compiles each new structure."""
    ts = TreeStream(seed=cfg.seed, **cfg.tree)
    out = {"size": ts.size, "structures": ts.structures(), "impls": {}}
    n = len(ts.items)
    makers = {"dyngraph": ts.dyngraph, "staticgraph": lambda: ts.staticgraph(budget_s=cfg.compile_budget_s),
              "numpy": ts.numpy, "torch": ts.torch}
    for impl, mk in makers.items():
        if impl not in ("dyngraph", "staticgraph") and impl not in cfg.peers:
            continue
        res = {"label": ALL_LABELS[impl], "status": "ok"}
        try:
            made = mk()
            step, stats = made if isinstance(made, tuple) else (made, None)
            hook = cfg.hooks.get(("tree", impl))
            with quiet_gc():
                first, again = _tree_passes(step, n, hook, cfg)
            res["first_pass_total_s"] = sum(first)
            res["first_pass_per_tree"] = Summary.of(first).to_dict()
            res["steady_per_tree"] = Summary.of([t for times in again for t in times]).to_dict()
            res["steady_pass_total_s"] = Summary.of([sum(times) for times in again]).to_dict()
            if stats is not None:
                res["traces"] = stats["traces"]
                res["compiles"] = stats.get("compiles", stats["traces"])
                res["compile_total_s"] = stats["compile_s"]
        except Exception as exc:
            res["status"] = _err(exc)
        out["impls"][impl] = res
    return out


def _tree_passes(step, n: int, hook, cfg) -> tuple[list, list]:
    first = []
    for i in range(n):  # first pass: static pays its traces and compiles here
        t0 = perf()
        if hook is not None:
            hook()
        step(i)
        first.append(perf() - t0)
    again = []  # later passes, every structure seen: one list of per-tree times per pass
    for _ in range(max(1, cfg.repeats // 2)):
        times = []
        for i in range(n):
            t0 = perf()
            if hook is not None:
                hook()
            step(i)
            times.append(perf() - t0)
        again.append(times)
    return first, again
