"""An mkdocs hook: the tables of chapter 6, generated from the committed experiments results.

A page writes ``<!-- results-table: NAME -->`` on a line of its own (or, for a generated
sentence, inside a paragraph); the build replaces it with a Markdown table (or the sentence)
made from ``docs/experiments/results.json`` (``NAME`` is one of ``TABLES``). So the figures on the page are always the file's, to the digit, and a new run
of ``graphcompare run --out docs/experiments`` updates the page without an edit. Every table
uses the results' own fields; nothing is measured here.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

# on a line of its own (a table) or inside a sentence or list item (a generated sentence)
MARKER = re.compile(r"<!--[ \t]*results-table:[ \t]*([\w-]+)[ \t]*-->")
RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results.json"
IMPLS = [("dyngraph", "dyngraph"), ("staticgraph", "static"), ("staticgraph_O0", "static -O0"),
         ("numpy", "NumPy"), ("torch", "PyTorch eager")]
# the compiled peers, in a table of their own (a table wider than six columns overflows the page)
PEERS = [("dyngraph", "dyngraph"), ("staticgraph", "static"), ("torch", "PyTorch eager"),
         ("torch_compile", "torch.compile"), ("jax", "JAX jit")]
NAMES = dict(IMPLS + PEERS)
NOISY = 0.5  # a figure whose interquartile range is wider than this share of its median is marked


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


def run_kind(results) -> str:
    """The box above the tables: which suite this is, and how to read its figures."""
    c = results["meta"]["config"]
    if c["name"] == "standard":
        head = (f'!!! note "One run of the standard suite"\n    {c["repeats"]} samples of about '
                f'{c["target_s"] * 1e3:.0f} ms per figure, medians shown.')
    else:
        head = (f'!!! warning "One run of the `{c["name"]}` suite, not the standard one"\n    {c["repeats"]} samples of '
                f'about {c["target_s"] * 1e3:.0f} ms per figure, at smaller sizes than the standard suite '
                f'(`graphcompare run`); a standard run written to `docs/experiments` replaces every table '
                f'below without an edit.')
    return (head + " The machine has two cores and was shared with other jobs during the run; the run was "
            "pinned to one core, but other processes still disturb single figures. Quote ratios between "
            "figures of this run (measured side by side), never microseconds, and never a ratio across runs.")


def source(results) -> str:
    m = results["meta"]
    c = m["config"]
    mach = m["machine"]
    return (f"These figures come from one run, `{m['command']}`, on {m['date']} (suite "
            f"`{c['name']}`: {c['repeats']} samples per figure, medians shown), on {mach['cpu']} "
            f"({mach['cpus_online']} cores, {m['affinity']}), Python {mach['python']}, NumPy "
            f"{mach['versions']['numpy']}, PyTorch {mach['versions']['torch']}.{_load(m)}")


def _load(m) -> str:
    """How shared the machine was: its load average and the run's CPU time against its wall time."""
    load, cpu, wall = m.get("load") or {}, m.get("cpu_s"), m.get("wall_s")
    if not (load.get("start") and load.get("end") and cpu and wall):
        return ""
    return (f" Other jobs shared the machine: its load average (runnable processes, 1-minute) was "
            f"{load['start'][0]:.1f} at the start and {load['end'][0]:.1f} at the end, and the run had "
            f"{cpu / wall:.0%} of a core over its {wall / 60:.0f} minutes.")


def workloads(results) -> str:
    seen = {}
    for r in results["main"]:
        seen.setdefault(r["workload"], (r["title"], r.get("size") or {}))
    rows = [[f"`{w}`", title.replace("*", "\\*"), ", ".join(f"{k}={v}" for k, v in size.items()) or "-"]
            for w, (title, size) in seen.items()]
    return _table(["workload", "what one step does", "size"], rows, align="lll")


def _noisy(total: dict) -> bool:
    return total["q3"] - total["q1"] > NOISY * total["median"]


def _cell(rows, w, k) -> str:
    """The median of one row, marked † when its samples spread widely (a busy machine)."""
    if (w, k) not in rows:
        return "-"
    t = rows[w, k]["total"]
    return fmt_time(t["median"]) + (" †" if _noisy(t) else "")


def noisy(results) -> str:
    rows = _main_rows(results)
    marked = [f"`{w}` {NAMES.get(k, k)}" for (w, k), r in rows.items() if _noisy(r["total"])]
    return (f"A † marks a median whose samples spread widely: their interquartile range is wider than "
            f"{NOISY:.0%} of the median, which on this machine means other jobs took the core during those "
            f"samples. {len(marked)} of the {len(rows)} figures of this run are marked"
            + (f" ({', '.join(marked)}); compare them only with care." if marked else "."))


def _medians(results) -> dict:
    rows = _main_rows(results)
    return {w: {k: rows[w, k]["total"]["median"] if (w, k) in rows else None for k, _ in IMPLS}
            for w in _workloads(rows)}


def time_per_step(results) -> str:
    rows = _main_rows(results)
    out = [[f"`{w}`", *(_cell(rows, w, k) for k, _ in IMPLS)] for w in _workloads(rows)]
    return _table(["workload", *(name for _, name in IMPLS)], out)


def peers(results) -> str:
    rows = _main_rows(results)
    out = [[f"`{w}`", *(_cell(rows, w, k) for k, _ in PEERS)] for w in _workloads(rows)]
    return _table(["workload", *(name for _, name in PEERS)], out)


def not_measured(results) -> str:
    """Every (workload, way) the run has no figure for, with the reason it recorded."""
    out = [[f"`{r['workload']}`", NAMES.get(r["impl"], r["impl"]), what, r["status"].replace("|", "/")]
           for what, section in (("time", "main"), ("memory", "memory")) for r in results.get(section, [])
           if r["status"] != "ok"]
    if not out:
        return "Every workload ran every way: no row is missing."
    return _table(["workload", "way", "table", "why there is no figure"], out, align="llll")


def _faster_slower(t, a, b) -> tuple[list, list]:
    both = [w for w, v in t.items() if v[a] and v[b]]
    return [w for w in both if t[w][a] < t[w][b]], [w for w in both if t[w][a] >= t[w][b]]


def _names(ws) -> str:
    return ", ".join(f"`{w}`" for w in ws) or "none"


def torch_vs_dyngraph(results) -> str:
    t = _medians(results)
    faster, slower = _faster_slower(t, "torch", "dyngraph")
    return (f"In this run PyTorch eager is faster than dyngraph on {len(faster)} of {len(faster) + len(slower)} "
            f"workloads ({_names(faster)}) and slower on the others ({_names(slower)}).")


def static_vs_dyngraph(results) -> str:
    t = _medians(results)
    win = 1 + results["meta"]["config"]["win_margin"]
    both = [w for w, v in t.items() if v["dyngraph"] and v["staticgraph"]]
    wins = [w for w in both if t[w]["dyngraph"] / t[w]["staticgraph"] > win]
    rest = [w for w in both if w not in wins]
    return (f"The compiled static graph is more than {win - 1:.0%} faster than dyngraph on {_names(wins)}; "
            f"on {_names(rest)} it is not (within {win - 1:.0%}, or slower).")


def memory_loss(results) -> str:
    rows = _memory_rows(results)
    lost = []
    for w in _workloads(rows):
        if (w, "staticgraph") in rows and (w, "dyngraph") in rows:
            st, dy = rows[w, "staticgraph"]["measured_peak"]["median"], rows[w, "dyngraph"]["measured_peak"]["median"]
            if st > dy:
                lost.append(f"`{w}` ({fmt_bytes(st)} static against {fmt_bytes(dy)} dyngraph)")
    if not lost:
        return "In this run the static graph's measured peak is below dyngraph's on every workload measured."
    return "In this run the static graph's measured peak is **higher** than dyngraph's on " + ", ".join(lost) + "."


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def ratios(results) -> str:
    rows = _main_rows(results)

    def r(w, a, b):  # marked † when either median is
        mark = any((w, k) in rows and _noisy(rows[w, k]["total"]) for k in (a, b))
        shown = _ratio(t[a], t[b])
        return shown + (" †" if mark and shown != "-" else "")

    out = []
    for w, t in _medians(results).items():
        out.append([f"`{w}`", r(w, "dyngraph", "staticgraph"), r(w, "dyngraph", "staticgraph_O0"),
                    r(w, "torch", "dyngraph"), r(w, "staticgraph", "numpy")])
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
        out.append([f"`{w}`", NAMES[impl], f"{err * 1e6:+.1f} µs ({r['split_error_rel']:+.0%} of {fmt_time(total)})",
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
    if share > 1:
        off = [f"`{r['workload']}` at {NAMES[r['impl']]}" for r in _main_rows(results).values() if r.get("split_ok") is False]
        return (f"{len(off)} row(s) fail the check: {', '.join(off)}. The worst, `{worst['workload']}` at "
                f"{NAMES[worst['impl']]}, is off by {worst['split_error_rel']:+.0%} of its total, {share:.0%} of its "
                f"allowance: for that row the split into kernel time and overhead is not a measurement, only its "
                f"total is.")
    return (f"The row to read twice is `{worst['workload']}` at {NAMES[worst['impl']]}, which used "
            f"{share:.0%} of its allowance: its parts differ from its total by {worst['split_error_rel']:+.0%}, "
            f"and its {worst['kernel_calls']:.0f} kernel calls alone earn {per_call:.1f} µs of it.")


def _steps(n) -> str:
    if n is None or n < 0:
        return "never (static not faster)"
    steps = max(1, math.ceil(n))
    return f"{steps:,} step{'s' if steps > 1 else ''}"


def break_even(results) -> str:
    main = {(r["workload"], r["impl"]): r for r in results.get("main", [])}
    out = []
    for r in results["break_even"]:
        if r["impl"] != "staticgraph":
            continue
        tiers = (main.get((r["workload"], r["impl"]), {}).get("compile") or {}).get("tiers") or {}
        numba = tiers.get("numba_build_s") if tiers.get("regions") else None
        out.append([f"`{r['workload']}`", fmt_time(r["compile_cold_s"]), fmt_time(numba), fmt_time(r["compile_warm_s"]),
                    fmt_time(r["gain_s"]) if r["gain_s"] > 0 else "none",
                    _steps(r.get("n_star_cold")), _steps(r["n_star_warm"])])
    return _table(["workload", "compile until first step (cold)", "numba, in the background", "compile (warm)",
                   "saved per step", "break-even (cold)", "break-even (warm)"], out)


def break_even_summary(results) -> str:
    rows = [r for r in results["break_even"] if r["impl"] == "staticgraph"]
    paid = [(math.ceil(r["n_star_warm"]), r["workload"]) for r in rows if r["n_star_warm"] is not None and r["n_star_warm"] >= 0]
    never = [r["workload"] for r in rows if r["n_star_warm"] is None or r["n_star_warm"] < 0]
    out = ""
    if paid:
        steps, w = max(paid)
        steps = max(1, steps)
        out = (f"Where the static graph is faster, it pays a warm rebuild back within {steps:,} "
               f"step{'s' if steps > 1 else ''} at most (`{w}`).")
    if never:
        out += f" On {_names(never)} it never does, because it is not faster there."
    return out.strip()


def _memory_rows(results) -> dict:
    return {(r["workload"], r["impl"]): r for r in results["memory"] if r["status"] == "ok"}


def memory(results) -> str:
    rows = _memory_rows(results)
    ways = ("dyngraph", "staticgraph", "staticgraph_O0", "numpy")
    out = []
    for w in _workloads(rows):
        peak = {k: rows[w, k]["measured_peak"]["median"] if (w, k) in rows else None for k in ways}
        if peak["staticgraph"] and peak["dyngraph"]:
            diff = peak["staticgraph"] / peak["dyngraph"] - 1
            versus = f"{diff:+.0%} ({'less' if diff < 0 else '**more**'})"
        else:
            versus = "-"
        out.append([f"`{w}`", *(fmt_bytes(peak[k]) for k in ways), versus])
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


TABLES = {"run-kind": run_kind, "noisy": noisy, "break-even-summary": break_even_summary, "source": source, "workloads": workloads, "time-per-step": time_per_step,
          "ratios": ratios, "peers": peers, "not-measured": not_measured, "torch-vs-dyngraph": torch_vs_dyngraph,
          "static-vs-dyngraph": static_vs_dyngraph, "memory-loss": memory_loss, "split-rule": split_rule,
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
