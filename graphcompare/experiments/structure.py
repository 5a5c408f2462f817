"""The dynamic-structure experiment, four ways (``workloads.dynamic``): measure, plot, report.

For each model (variable-length RNN, TreeRNN) and each way (dyngraph, retrace, control,
fold), and each batch size: the time of forward+backward over a batch of samples, per sample
(median over ``reps`` batches drawn from the stream, after one warm-up batch that pays the
first compile), the compiles and traces counted, and the peak memory of one batch
(tracemalloc: NumPy's allocations). Crossovers: the smallest batch where each static way
beats dyngraph per sample.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from pathlib import Path

from .workloads.dynamic import MODELS, WAYS

LABELS = {"dyngraph": "dyngraph (a graph per sample)", "retrace": "staticgraph, retraced per length/structure",
          "control": "staticgraph control flow, one graph", "fold": "dynamic batching (Fold), one graph"}


def _batches(items, size: int, reps: int):
    n = len(items)
    return [[items[(k * size + j) % n] for j in range(size)] for k in range(reps + 1)]


def _stats(stats) -> dict:
    return stats.to_dict() if hasattr(stats, "to_dict") else dict(stats)


def measure_dynamic(spec: dict, seed: int = 0, progress=None) -> dict:
    """``spec``: ``batches`` (sizes), ``reps``, ``count``, ``optimize``."""
    out = {"batches": list(spec["batches"]), "models": {}}
    for name, cls in MODELS.items():
        model = cls(count=spec.get("count", 256), seed=seed)
        res = {"size": model.size, "ways": {}}
        for way in WAYS:
            t0 = time.perf_counter()
            batch, stats = getattr(model, way)() if way == "dyngraph" else getattr(model, way)(optimize=spec.get("optimize", True))
            build_s = time.perf_counter() - t0
            rows = []
            for size in spec["batches"]:
                groups = _batches(model.items, size, spec["reps"])
                t0 = time.perf_counter()
                batch(groups[0])  # warm-up: the first trace and compile
                first_s = time.perf_counter() - t0
                times = []
                for g in groups[1:]:
                    t0 = time.perf_counter()
                    batch(g)
                    times.append((time.perf_counter() - t0) / size)
                tracemalloc.start()
                tracemalloc.reset_peak()
                batch(groups[1 % len(groups)])
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                rows.append({"batch": size, "per_sample_s": statistics.median(times), "first_batch_s": first_s,
                             "peak_bytes": peak, **_stats(stats)})
                if progress is not None:
                    progress(f"{name}/{way}/batch {size}")
            res["ways"][way] = {"label": LABELS[way], "build_s": build_s, "rows": rows, **_stats(stats)}
        res["crossovers"] = crossovers(res["ways"])
        out["models"][name] = res
    return out


def crossovers(ways: dict) -> dict:
    """Per static way: the smallest batch size from which it is faster per sample than dyngraph."""
    base = {r["batch"]: r["per_sample_s"] for r in ways["dyngraph"]["rows"]}
    out = {}
    for way in WAYS[1:]:
        rows = ways[way]["rows"]
        faster = [r["batch"] for r in rows if r["per_sample_s"] < base[r["batch"]]]
        # from which size on it stays faster
        sizes = [r["batch"] for r in rows]
        start = next((s for k, s in enumerate(sizes) if all(x in faster for x in sizes[k:])), None)
        out[way] = start
    return out


def plot(res: dict, out: Path) -> str | None:
    if not res or not res.get("models"):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(res["models"]), figsize=(10, 3.4))
    for ax, (name, m) in zip(axes, res["models"].items()):
        for way, w in m["ways"].items():
            ax.plot([r["batch"] for r in w["rows"]], [r["per_sample_s"] * 1e3 for r in w["rows"]], marker="o",
                    label=f"{way} ({w['compiles']} compiles)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("ms per sample (forward + backward)")
        ax.set_title(f"{name}: {', '.join(f'{k}={v}' for k, v in m['size'].items())}"[:70], fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "dynamic_structure.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def report_lines(res: dict, plots: dict) -> list:
    if not res:
        return []
    L = ["## Dynamic structure, four ways", "",
         "The same two models run four ways (see chapter 7 of the tutorial): dyngraph, one recorded graph per "
         "sample; staticgraph retracing per length or structure (`sg.function`); staticgraph control flow, one "
         "graph for every input (`sg.scan` / `sg.while_loop`); and dynamic batching as in TensorFlow Fold, one "
         "graph for every batch. Time per sample is forward + backward, median over batches; memory is the peak "
         "NumPy allocation of one batch.", ""]
    for name, m in res["models"].items():
        L += [f"### {name}", "", ", ".join(f"{k}: {v}" for k, v in m["size"].items()), ""]
        head = ["way", "compiles", "traces"] + [f"batch {b}" for b in res["batches"]] + ["peak memory (largest batch)"]
        rows = []
        for way, w in m["ways"].items():
            rows.append([w["label"], w["compiles"], w["traces"]]
                        + [f"{r['per_sample_s'] * 1e6:.0f} µs" for r in w["rows"]]
                        + [f"{w['rows'][-1]['peak_bytes'] / 1e6:.2f} MB"])
        L.append("| " + " | ".join(head) + " |")
        L.append("|" + "---|" * len(head))
        L += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        cross = ", ".join(f"{w}: {'from batch ' + str(b) if b else 'never'}" for w, b in m["crossovers"].items())
        L += ["", f"Faster per sample than dyngraph: {cross}.", ""]
    if plots.get("dynamic"):
        L += [f"![dynamic structure, four ways]({plots['dynamic']})", ""]
    return L


__all__ = ["measure_dynamic", "crossovers", "plot", "report_lines", "LABELS"]
