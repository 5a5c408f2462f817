"""An mkdocs hook: the tables of chapter 6, generated from the committed experiments results.

A page writes ``<!-- results-table: NAME -->`` on a line of its own; the build replaces it
with a Markdown table made from ``docs/experiments/results.json`` (``NAME`` is one of
``TABLES``). So the figures on the page are always the file's, to the digit, and a new run
of ``graphcompare run --out docs/experiments`` updates the page without an edit. Every table
uses the results' own fields; nothing is measured here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MARKER = re.compile(r"^<!--[ \t]*results-table:[ \t]*([\w-]+)[ \t]*-->[ \t]*$", re.M)
RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results.json"
IMPLS = [("dyngraph", "dyngraph"), ("staticgraph", "static"), ("staticgraph_O0", "static -O0"),
         ("numpy", "NumPy"), ("torch", "PyTorch eager")]


def fmt_time(s) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_bytes(b) -> str:
    if b is None:
        return "-"
    if b >= 1e6:
        return f"{b / 1e6:.2f} MB"
    if b >= 1e3:
        return f"{b / 1e3:.1f} kB"
    return f"{b:.0f} B"


def _table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    marks = [":---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _main_rows(results) -> dict:
    return {(r["workload"], r["impl"]): r for r in results["main"] if r["status"] == "ok"}


def _workloads(rows) -> list[str]:
    return list(dict.fromkeys(w for w, _ in rows))


def source(results) -> str:
    m = results["meta"]
    c = m["config"]
    mach = m["machine"]
    return (f"These figures come from one run, `{m['command']}`, on {m['date']} (suite "
            f"`{c['name']}`: {c['repeats']} samples per figure, medians shown), on {mach['cpu']} "
            f"({mach['cpus_online']} cores, {m['affinity']}), Python {mach['python']}, NumPy "
            f"{mach['versions']['numpy']}, PyTorch {mach['versions']['torch']}.")


def workloads(results) -> str:
    seen = {}
    for r in results["main"]:
        seen.setdefault(r["workload"], (r["title"], r.get("size") or {}))
    rows = [[f"`{w}`", title.replace("*", "\\*"), ", ".join(f"{k}={v}" for k, v in size.items()) or "-"]
            for w, (title, size) in seen.items()]
    return _table(["workload", "what one step does", "size"], rows, align="lll")


def _medians(results) -> dict:
    rows = _main_rows(results)
    return {w: {k: rows[w, k]["total"]["median"] if (w, k) in rows else None for k, _ in IMPLS}
            for w in _workloads(rows)}


def time_per_step(results) -> str:
    out = [[f"`{w}`", *(fmt_time(t[k]) for k, _ in IMPLS)] for w, t in _medians(results).items()]
    return _table(["workload", *(name for _, name in IMPLS)], out)


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def ratios(results) -> str:
    out = [[f"`{w}`", _ratio(t["dyngraph"], t["staticgraph"]), _ratio(t["dyngraph"], t["staticgraph_O0"]),
            _ratio(t["torch"], t["dyngraph"]), _ratio(t["staticgraph"], t["numpy"])]
           for w, t in _medians(results).items()]
    return _table(["workload", "dyngraph / static", "dyngraph / static -O0", "PyTorch / dyngraph", "static / NumPy"], out)


def split_check(results) -> str:
    cfg = results["meta"]["config"]
    rows = _main_rows(results)
    out = []
    for (w, impl), r in rows.items():
        if r.get("split_ok") is None:
            continue
        total = r["total"]["min"]
        calls = r.get("kernel_calls") or 0
        allowed = max(cfg["split_margin"] * total + cfg["split_per_call_s"] * calls, cfg["split_abs_s"])
        err = r["split_error_s"]
        verdict = "ok" if r["split_ok"] else "**off**"
        out.append([f"`{w}`", dict(IMPLS)[impl], f"{err * 1e6:+.1f} µs ({r['split_error_rel']:+.0%} of {fmt_time(total)})",
                    f"{allowed * 1e6:.1f} µs", f"{abs(err) / allowed:.0%}", verdict])
    return _table(["workload", "way", "parts - total", "allowed", "used", "verdict"], out)


def split_rule(results) -> str:
    cfg = results["meta"]["config"]
    return (f"The check allows {cfg['split_margin']:.0%} of the total, plus "
            f"{cfg['split_per_call_s'] * 1e6:.1f} µs per kernel call (creating and freeing a result object "
            f"and reading the clock fall on either side of the split), and never less than "
            f"{cfg['split_abs_s'] * 1e6:.0f} µs.")


def split_worst(results) -> str:
    """A sentence on the row that used the largest share of its allowance."""
    cfg = results["meta"]["config"]
    worst, share = None, -1.0
    for r in _main_rows(results).values():
        if r.get("split_ok") is None:
            continue
        allowed = max(cfg["split_margin"] * r["total"]["min"] + cfg["split_per_call_s"] * r["kernel_calls"], cfg["split_abs_s"])
        if abs(r["split_error_s"]) / allowed > share:
            worst, share = r, abs(r["split_error_s"]) / allowed
    per_call = cfg["split_per_call_s"] * worst["kernel_calls"] * 1e6
    return (f"The row to read twice is `{worst['workload']}` at {dict(IMPLS)[worst['impl']]}, which used "
            f"{share:.0%} of its allowance: its parts differ from its total by {worst['split_error_rel']:+.0%}, "
            f"and its {worst['kernel_calls']:.0f} kernel calls alone earn {per_call:.1f} µs of it.")


def _steps(n) -> str:
    return "never (static not faster)" if n is None or n < 0 else f"{n:,.0f} steps"


def break_even(results) -> str:
    main = {(r["workload"], r["impl"]): r for r in results["main"]}
    out = []
    for r in results["break_even"]:
        if r["impl"] != "staticgraph":
            continue
        tiers = (main.get((r["workload"], r["impl"]), {}).get("compile") or {}).get("tiers") or {}
        numba = tiers.get("numba_build_s") if tiers.get("regions") else None
        out.append([f"`{r['workload']}`", fmt_time(r["compile_cold_s"]), fmt_time(numba), fmt_time(r["compile_warm_s"]),
                    fmt_time(r["gain_s"]) if r["gain_s"] > 0 else "none",
                    _steps(r["n_star_cold"]), _steps(r["n_star_warm"])])
    return _table(["workload", "compile until first step (cold)", "numba, in the background", "compile (warm)",
                   "saved per step", "break-even (cold)", "break-even (warm)"], out)


def _memory_rows(results) -> dict:
    return {(r["workload"], r["impl"]): r for r in results["memory"] if r["status"] == "ok"}


def memory(results) -> str:
    rows = _memory_rows(results)
    ways = ("dyngraph", "staticgraph", "staticgraph_O0", "numpy")
    out = []
    for w in _workloads(rows):
        peak = {k: rows[w, k]["measured_peak"]["median"] if (w, k) in rows else None for k in ways}
        diff = peak["staticgraph"] / peak["dyngraph"] - 1
        who = "less" if diff < 0 else "**more**"
        out.append([f"`{w}`", *(fmt_bytes(peak[k]) for k in ways), f"{diff:+.0%} ({who})"])
    return _table(["workload", *(dict(IMPLS)[k] for k in ways), "static vs dyngraph"], out)


def memory_plan(results) -> str:
    rows = _memory_rows(results)
    out = []
    for w in _workloads(rows):
        st = rows.get((w, "staticgraph"), {})
        out.append([f"`{w}`", fmt_bytes(st.get("naive_bytes")), fmt_bytes(st.get("planned_bytes")),
                    fmt_bytes(st.get("lower_bound_bytes")), fmt_bytes(st["measured_peak"]["median"]) if st else "-"])
    return _table(["workload", "naive sum", "planned peak", "liveness bound", "measured peak"], out)


def tree(results) -> str:
    t = results["tree"]
    out = []
    for impl, r in t["impls"].items():
        if r["status"] != "ok":
            out.append([r["label"], r["status"], "-", "-"])
            continue
        out.append([r["label"], fmt_time(r["first_pass_total_s"]), fmt_time(r["steady_per_tree"]["median"]),
                    str(r.get("compiles", "-"))])
    return _table(["way", f"first pass over {t['size']['trees']} trees", "later passes, per tree", "compiles"], out)


TABLES = {"source": source, "workloads": workloads, "time-per-step": time_per_step, "ratios": ratios, "split-rule": split_rule,
          "split-check": split_check, "split-worst": split_worst,
          "break-even": break_even, "memory": memory, "memory-plan": memory_plan, "tree": tree}


def expand(markdown: str, results: dict, where: str = "page") -> str:
    """``markdown`` with every marker replaced by its table."""
    def one(m):
        name = m.group(1)
        if name not in TABLES:
            raise ValueError(f"{where}: unknown results table {name!r}; the tables are {sorted(TABLES)}")
        return TABLES[name](results)

    return MARKER.sub(one, markdown)


def on_page_markdown(markdown, page, config, files):  # the mkdocs hook
    if not MARKER.search(markdown):
        return markdown
    return expand(markdown, json.loads(RESULTS.read_text()), page.file.src_path)
