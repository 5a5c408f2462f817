"""PNG figures of the report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"kernel": "#4c72b0", "build": "#dd8452", "overhead": "#c44e52", "total": "#8c8c8c",
          "dyngraph": "#c44e52", "staticgraph": "#4c72b0", "staticgraph_O0": "#8172b3", "numpy": "#55a868",
          "torch": "#dd8452", "torch_compile": "#da8bc3", "jax": "#937860"}


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _ok(r):
    return r.get("status") == "ok" and r.get("total")


def time_split(main: list[dict], out: Path) -> str | None:
    """Per workload: each implementation's step time, split into kernel / building / overhead."""
    workloads = list(dict.fromkeys(r["workload"] for r in main))
    if not workloads:
        return None
    cols = 2
    rows = math.ceil(len(workloads) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(11, 2.3 * rows), squeeze=False)
    for ax, w in zip(axes.flat, workloads):
        rs = [r for r in main if r["workload"] == w and _ok(r)]
        labels = []
        for i, r in enumerate(rs):
            us = 1e6
            if "kernel" in r:
                k, b, o = r["kernel"]["median"] * us, r["build_s"] * us, max(0.0, r["overhead_s"]) * us
                ax.barh(i, k, color=COLORS["kernel"], label="kernel" if i == 0 else None)
                ax.barh(i, b, left=k, color=COLORS["build"], label="graph building" if i == 0 else None)
                ax.barh(i, o, left=k + b, color=COLORS["overhead"], label="overhead" if i == 0 else None)
            else:
                ax.barh(i, r["total"]["median"] * us, color=COLORS["total"], label=None)
            t = r["total"]
            ax.errorbar(t["median"] * us, i, xerr=[[max(0, (t["median"] - t["q1"]) * us)], [max(0, (t["q3"] - t["median"]) * us)]],
                        fmt="none", ecolor="black", capsize=2, lw=0.8)
            labels.append(r["impl"])
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(w, fontsize=9)
        ax.set_xlabel("µs per step (median; whisker: IQR)", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.invert_yaxis()
    for ax in list(axes.flat)[len(workloads):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles + [plt.Rectangle((0, 0), 1, 1, color=COLORS["total"])], labels + ["total (peers)"],
                   loc="lower center", fontsize=7, ncol=4)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(out / "time_split.png", dpi=110)
    plt.close(fig)
    return "time_split.png"


def scaling(sweep: dict, out: Path) -> str | None:
    pts = sweep["points"]
    if not pts:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4))
    xs = [p["value"] for p in pts]
    for impl in ("dyngraph", "staticgraph", "numpy"):
        ys = [(x, p[impl]) for x, p in zip(xs, pts) if p.get(impl)]
        if ys:
            a1.errorbar([x for x, _ in ys], [s["median"] * 1e6 for _, s in ys],
                        yerr=[[max(0, (s["median"] - s["q1"]) * 1e6) for _, s in ys],
                              [max(0, (s["q3"] - s["median"]) * 1e6) for _, s in ys]],
                        marker="o", ms=3, capsize=2, color=COLORS[impl], label=impl)
    a1.set_xscale("log", base=2)
    a1.set_yscale("log")
    a1.set_xlabel(sweep["param"])
    a1.set_ylabel("µs per step")
    a1.set_title(f"{sweep['workload']}: time per step vs {sweep['param']}", fontsize=9)
    a1.legend(fontsize=7)
    sp = [(x, p["speedup"]) for x, p in zip(xs, pts) if p.get("speedup")]
    if sp:
        a2.plot([x for x, _ in sp], [y for _, y in sp], marker="o", color=COLORS["staticgraph"])
    a2.axhline(1.0, color="black", lw=0.8, ls="--")
    a2.set_xscale("log", base=2)
    a2.set_xlabel(sweep["param"])
    a2.set_ylabel("dyngraph time / staticgraph time")
    a2.set_title("static speedup (>1: static faster)", fontsize=9)
    return _save(fig, out / f"scaling_{sweep['sweep']}.png")


def memory(rows: list[dict], out: Path) -> str | None:
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    if not workloads:
        return None
    series = [("dyngraph measured", "dyngraph", "measured_peak"),
              ("static naive", "staticgraph", "naive_bytes"), ("static planned", "staticgraph", "planned_bytes"),
              ("liveness lower bound", "staticgraph", "lower_bound_bytes"),
              ("static measured", "staticgraph", "measured_peak"), ("NumPy measured", "numpy", "measured_peak")]
    fig, axes = plt.subplots(1, len(workloads), figsize=(2.6 * len(workloads) + 1, 3.2), squeeze=False)
    for ax, w in zip(axes.flat, workloads):
        by = {r["impl"]: r for r in rows if r["workload"] == w and r.get("status") == "ok"}
        vals = []
        for label, impl, key in series:
            v = (by.get(impl) or {}).get(key)
            v = v["median"] if isinstance(v, dict) else v
            vals.append(v / 1e6 if v is not None else 0.0)
        ax.bar(range(len(series)), vals, color=["#c44e52", "#bbbbbb", "#4c72b0", "#55a868", "#8172b3", "#937860"])
        ax.set_xticks(range(len(series)), [s[0] for s in series], rotation=60, ha="right", fontsize=7)
        ax.set_title(w, fontsize=9)
        ax.set_ylabel("MB", fontsize=8)
    return _save(fig, out / "memory.png")


def ablation(rows: list[dict], out: Path) -> str | None:
    workloads = list(dict.fromkeys(r["workload"] for r in rows if r.get("status") == "ok"))
    if not workloads:
        return None
    fig, axes = plt.subplots(1, len(workloads), figsize=(3.6 * len(workloads) + 1, 3.6), squeeze=False)
    for ax, w in zip(axes.flat, workloads):
        rs = [r for r in rows if r["workload"] == w and r.get("status") == "ok"]
        base = next((r["total"]["median"] for r in rs if r["config"] == "all passes on"), None)
        if not base:
            continue
        ax.barh(range(len(rs)), [r["total"]["median"] / base for r in rs], color=COLORS["staticgraph"])
        ax.axvline(1.0, color="black", lw=0.8, ls="--")
        ax.set_yticks(range(len(rs)), [r["config"] for r in rs], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("time / time with all passes", fontsize=8)
        ax.set_title(w, fontsize=9)
    return _save(fig, out / "ablation.png")


def tree(res: dict, out: Path) -> str | None:
    impls = [(k, v) for k, v in (res.get("impls") or {}).items() if v.get("status") == "ok"]
    if not impls:
        return None
    fig, ax = plt.subplots(figsize=(7, 3))
    labels, first, steady = [], [], []
    for k, v in impls:
        labels.append(k)
        first.append(v["first_pass_total_s"] * 1e3)
        steady.append(v["steady_pass_total_s"]["median"] * 1e3)
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], first, 0.4, label="first pass over all trees (traces and compiles included)",
           color="#c44e52")
    ax.bar([x + 0.2 for x in xs], steady, 0.4, label="a later pass (median)", color="#4c72b0")
    ax.set_yscale("log")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("ms per pass over the trees")
    ax.legend(fontsize=7)
    ax.set_title("recursive net over random trees", fontsize=9)
    return _save(fig, out / "tree.png")
