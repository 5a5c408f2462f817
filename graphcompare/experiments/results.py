"""Raw measurements: one JSON document (round-trips exactly) and one long-format CSV."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

SCHEMA = "graphcompare-experiments/1"


def _clean(x):
    """JSON-safe: tuples as lists, non-finite floats as None (JSON has no inf/nan)."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):  # NumPy scalars
        return _clean(x.item())
    return x


def save_json(results: dict, path: Path) -> dict:
    """Write ``results``; return the cleaned document (what ``load_json`` gives back)."""
    doc = _clean({"schema": SCHEMA, **results})
    Path(path).write_text(json.dumps(doc, indent=1, allow_nan=False))
    return doc


def load_json(path: Path) -> dict:
    doc = json.loads(Path(path).read_text())
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a graphcompare results file (schema {doc.get('schema')!r}, expected {SCHEMA!r})")
    return doc


STAT_KEYS = ("median", "q1", "q3", "min", "max", "n")
CSV_FIELDS = ["section", "workload", "impl", "config", "param", "value", "metric", *STAT_KEYS, "unit", "status"]


def _summary_rows(base: dict, metric: str, s: dict | None, unit: str):
    if s is None:
        return []
    return [{**base, "metric": metric, **{k: s.get(k) for k in STAT_KEYS}, "unit": unit}]


def _scalar_row(base: dict, metric: str, v, unit: str):
    if v is None:
        return []
    return [{**base, "metric": metric, "median": v, "n": 1, "unit": unit}]


def csv_rows(doc: dict) -> list[dict]:
    rows = []
    for r in doc.get("main", []):
        b = {"section": "time", "workload": r["workload"], "impl": r["impl"], "status": r["status"]}
        rows += _summary_rows(b, "total", r.get("total"), "s")
        rows += _summary_rows(b, "kernel", r.get("kernel"), "s")
        rows += _summary_rows(b, "nonkernel_replay", r.get("nonkernel"), "s")
        rows += _scalar_row(b, "build", r.get("build_s"), "s")
        rows += _scalar_row(b, "overhead", r.get("overhead_s"), "s")
        rows += _scalar_row(b, "kernel_calls", r.get("kernel_calls"), "calls")
        c = r.get("compile")
        if c:
            rows += _scalar_row(b, "compile_cold", c["cold"]["total_s"], "s")
            rows += _summary_rows(b, "compile_warm", c.get("warm"), "s")
            t = c.get("tiers") or {}
            for k in ("numpy_build_s", "numba_build_s", "wait_best_s"):
                rows += _scalar_row(b, "tiers_" + k[:-2], t.get(k), "s")
        if r["status"] != "ok":
            rows.append({**b, "metric": "status"})
    for r in doc.get("break_even", []):
        b = {"section": "break_even", "workload": r["workload"], "impl": r["impl"]}
        rows += _scalar_row(b, "n_star_cold", r.get("n_star_cold"), "steps")
        rows += _scalar_row(b, "n_star_warm", r.get("n_star_warm"), "steps")
        rows += _scalar_row(b, "n_star_best_tier", r.get("n_star_best_tier"), "steps")
    for r in doc.get("memory", []):
        b = {"section": "memory", "workload": r["workload"], "impl": r["impl"], "status": r["status"]}
        rows += _summary_rows(b, "measured_peak", r.get("measured_peak"), "B")
        for k in ("naive_bytes", "planned_bytes", "lower_bound_bytes", "resident_bytes", "compile_held"):
            rows += _scalar_row(b, k, r.get(k), "B")
    for sw in doc.get("scaling", []):
        for p in sw["points"]:
            for impl in ("dyngraph", "staticgraph", "numpy"):
                b = {"section": "scaling", "workload": sw["workload"], "impl": impl, "param": sw["param"],
                     "value": p["value"]}
                rows += _summary_rows(b, "total", p.get(impl), "s")
    for r in doc.get("ablation", []):
        b = {"section": "ablation", "workload": r["workload"], "impl": "staticgraph", "config": r["config"],
             "status": r["status"]}
        rows += _summary_rows(b, "total", r.get("total"), "s")
        rows += _scalar_row(b, "compile", r.get("compile_s"), "s")
        rows += _scalar_row(b, "planned_bytes", r.get("planned_bytes"), "B")
    tree = doc.get("tree") or {}
    for impl, r in (tree.get("impls") or {}).items():
        b = {"section": "dynamic_structure", "workload": "tree", "impl": impl, "status": r["status"]}
        rows += _summary_rows(b, "first_pass_per_tree", r.get("first_pass_per_tree"), "s")
        rows += _summary_rows(b, "steady_per_tree", r.get("steady_per_tree"), "s")
        rows += _scalar_row(b, "first_pass_total", r.get("first_pass_total_s"), "s")
        rows += _summary_rows(b, "steady_pass_total", r.get("steady_pass_total_s"), "s")
        rows += _scalar_row(b, "traces", r.get("traces"), "traces")
    return rows


def save_csv(doc: dict, path: Path) -> int:
    rows = csv_rows(doc)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return len(rows)
