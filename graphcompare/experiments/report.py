"""The Markdown report: every figure in it is one measured in this run (from the results document)."""

from __future__ import annotations

from .stats import Summary, fmt_bytes, fmt_seconds, fmt_summary

SECTIONS = ("Setup", "Workloads", "Time per step", "Compile time and break-even", "Peak memory",
            "Scaling with graph size and tensor size", "Compiler pass ablation", "Dynamic structure",
            "Peers", "Method and caveats")


def _s(d):
    return Summary.from_dict(d) if d else None


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _img(plots: dict, key: str, alt: str) -> list[str]:
    name = plots.get(key)
    return [f"![{alt}]({name})", ""] if name else [f"_(no plot: nothing measured for {alt})_", ""]


def _load_rows(meta) -> list:
    """The share of the machine this run had: other processes' load and this run's CPU time."""
    rows = []
    load = meta.get("load") or {}
    if load.get("start") and load.get("end"):
        rows.append(["machine load (1, 5, 15-min load average)",
                     f"at start {', '.join(f'{x:.1f}' for x in load['start'])}; "
                     f"at end {', '.join(f'{x:.1f}' for x in load['end'])}"])
    if meta.get("cpu_s") and meta.get("wall_s"):
        rows.append(["CPU time of this run (all its threads)", f"{fmt_seconds(meta['cpu_s'])} "
                     f"({meta['cpu_s'] / meta['wall_s']:.0%} of its wall time)"])
    return rows


def _cache_text(c) -> str:
    if not c:
        return "n/a"
    state = "empty: every fused kernel was compiled in this run" if not c["entries"] else (
        f"{c['entries']} files from earlier runs: cold compiles may load machine code instead of compiling")
    return f"`{c['dir']}` ({state})"


def _nstar(x) -> str:
    return "never (static not faster)" if x is None else f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def _tier_cells(t) -> list[str]:
    """Per tier: regions, NumPy tier build (inside compile), numba build, wait until numba runs all."""
    if not t:
        return ["n/a"] * 4
    if not t["regions"]:
        return ["0", "-", "-", "-"]
    numba = fmt_seconds(t["numba_build_s"]) if t.get("numba_build_s") is not None else "not built"
    wait = fmt_seconds(t["wait_best_s"]) if "numba" in t.get("on", ()) and "numpy" not in t.get("on", ()) else "not waited for"
    return [str(t["regions"]), fmt_seconds(t["numpy_build_s"]), numba, wait]


def render(doc: dict, plots: dict) -> str:
    meta = doc["meta"]
    m = meta["machine"]
    L = ["# graphcompare: what each execution model costs", "",
         f"Run `{meta['command']}` on {meta['date']}, suite `{meta['config']['name']}`, backend "
         f"`{meta['config']['backend']}`. Every figure below was measured in this run; times are medians over "
         f"repeated samples with the interquartile range in brackets, `median [q1–q3]`.", ""]

    # -- setup
    L += ["## Setup", ""]
    v = m["versions"]
    L += _table(["item", "value"], [
        ["date (UTC)", meta["date"]],
        ["command", f"`{meta['command']}`"],
        ["suite", f"{meta['config']['name']} ({meta['config']['repeats']} samples of ≈{meta['config']['target_s'] * 1e3:.0f} ms per timing, "
                  f"{meta['config']['warmup']} warm-up steps)"],
        ["seed", meta["config"]["seed"]],
        ["CPU", f"{m['cpu']} ({m['cpus_online']} online, {m['cpus_allowed']} allowed to this process)"],
        ["memory", m["memory"]],
        ["platform", m["platform"]],
        ["Python", f"{m['python']} ({m['implementation']})"],
        ["versions", ", ".join(f"{k} {x}" for k, x in v.items() if x)],
        ["BLAS", m["blas"]],
        ["BLAS threads", meta["threads"]["method"]],
        ["CPU affinity", meta["affinity"]],
        ["allocator", meta.get("allocator", "default")],
        ["dyngraph's compiled accelerator", meta.get("dyngraph_accelerator", "not recorded")],
        ["fused-kernel disk cache at start", _cache_text(meta.get("fusion_cache_at_start"))],
        ["wall time of this run", fmt_seconds(meta.get("wall_s", float("nan")))],
        *_load_rows(meta),
    ])
    L.append("")

    # -- workloads
    L += ["## Workloads", "",
          "The same model function (written once on the shared tensor surface) is the dyngraph step, the "
          "staticgraph declaration and the PyTorch/JAX step; the NumPy peer is written by hand (forward and "
          "backward). A step is forward + backward; training steps also apply SGD: dyngraph in place under "
          "`no_grad` (`p.sub_(p.grad * lr)`); staticgraph runs one compiled function returning the loss and the "
          "gradients, then `p -= lr * g` through the same shared `mul`/`sub` kernels (outside the graph, so "
          "both front ends run identical update kernels); NumPy updates in place.", ""]
    seen = {}
    for r in doc["main"]:
        seen.setdefault(r["workload"], r)
    L += _table(["workload", "what", "size"], [[w, r["title"], ", ".join(f"{k}={x}" for k, x in r["size"].items()) or "-"]
                                                for w, r in seen.items()])
    L.append("")

    # -- time
    L += ["## Time per step", "",
          "kernel: time inside kernels (dispatch instrumentation); graph building: dyngraph's recording cost "
          "(forward with gradients minus forward under `no_grad`); overhead: total − kernel − building. "
          "staticgraph builds its graph once (next section), so its building is 0 per step. "
          f"split check: kernel + non-kernel time (the step re-timed with every kernel replaced by one returning a "
          f"fresh view of its recorded output: no computation) against the total, each taken as its fastest sample (the one least disturbed by "
          f"other processes), passing within {meta['config']['split_margin']:.0%} of the total plus "
          f"{meta['config']['split_per_call_s'] * 1e6:.1f} µs per kernel call (creating and freeing a result "
          f"object and reading the clock can fall on either side), or {meta['config']['split_abs_s'] * 1e6:.0f} µs.",
          ""]
    numpy_t = {r["workload"]: r["total"]["median"] for r in doc["main"] if r["impl"] == "numpy" and _ok(r)}
    rows = []
    for r in doc["main"]:
        if not _ok(r):
            rows.append([r["workload"], r["label"], f"— ({r['status']})", "", "", "", "", "", ""])
            continue
        t = r["total"]["median"]
        ratio = f"{t / numpy_t[r['workload']]:.2f}x" if r["workload"] in numpy_t else "n/a"
        if "kernel" in r:
            check = ("ok" if r.get("split_ok") else "**off**") + f" ({r['split_error_rel']:+.0%})" if "split_error_s" in r else "n/a"
            rows.append([r["workload"], r["label"], fmt_summary(_s(r["total"])), fmt_seconds(r["kernel"]["median"]),
                         fmt_seconds(r["build_s"]), fmt_seconds(r["overhead_s"]), f"{r['kernel_calls']:.0f}", ratio, check])
        else:
            rows.append([r["workload"], r["label"], fmt_summary(_s(r["total"])), "", "", "", "", ratio, ""])
    L += _table(["workload", "implementation", "total per step", "kernel", "graph building", "overhead",
                 "kernel calls", "vs NumPy", "split check"], rows)
    L += [""] + _img(doc["plots"], "time_split", "time per step split into kernel, graph building and overhead")

    # -- compile / break-even
    L += ["## Compile time and break-even", "",
          "Compile = declaration + `gradients` + `compile` (pruning, passes, memory plan, lowering): the time until "
          "the first step can run. Fused regions run at once on their NumPy tier (built during `compile`); numba "
          "builds each region's loop in the background (`docs/deeper/tiers.md`), and the steps below are timed "
          "once every region runs on it. *Cold* is the first build of that graph in this process (a fused "
          "kernel's machine code may come from the disk cache named in Setup); *warm* rebuilds the same graph. "
          "Break-even N* = compile / (t_dynamic − t_static): the number of steps after which the static graph "
          "has paid for its compilation. *N\\* (first step)* counts the compile until the first step can run; "
          "*N\\* (best tier)* adds the wait until numba's loops run every region. A build that runs past the "
          f"suite's budget ({meta['config'].get('compile_budget_s')} s) is stopped and reported as over budget.", ""]
    rows = []
    comp = {(r["workload"], r["impl"]): r for r in doc["main"] if _ok(r) and r.get("compile")}
    for b in doc.get("break_even", []):
        c = comp[(b["workload"], b["impl"])]["compile"]
        cold = c["cold"]
        rows.append([b["workload"], "optimize=True" if b["impl"] == "staticgraph" else "optimize=False",
                     f"{fmt_seconds(cold['declare_s'])} / {fmt_seconds(cold['gradients_s'])} / {fmt_seconds(cold['compile_s'])}",
                     fmt_seconds(cold["total_s"]), fmt_seconds(cold.get("first_call_s")), *_tier_cells(c.get("tiers")),
                     fmt_summary(_s(c.get("warm"))), fmt_seconds(b["t_dynamic_s"]), fmt_seconds(b["t_static_s"]),
                     _nstar(b["n_star_cold"]), _nstar(b.get("n_star_best_tier")) if "n_star_best_tier" in b else "n/a",
                     _nstar(b["n_star_warm"])])
    L += _table(["workload", "static", "declare / gradients / compile (cold)", "until first step (cold)", "first call",
                 "fused regions", "NumPy tier build", "numba build", "then waited for numba", "compile warm",
                 "t dynamic", "t static", "N* (first step)", "N* (best tier)", "N* (warm)"], rows) \
        if rows else ["_no static build measured_"]
    L.append("")

    # -- memory
    L += ["## Peak memory", "",
          "dyngraph measured: tracemalloc peak during one step above the level before it (arrays and Python "
          "objects the step allocates: saved values, graph nodes, gradients). staticgraph: from its compile "
          "report, the naive sum of all intermediates, the planned peak of its buffer plan, and the liveness "
          "lower bound (the planned peak includes the resident buffers, allocated once and reused by every "
          "call); and measured the same way as dyngraph on a steady-state call, beside what building and the "
          "first call keep allocated between calls.", ""]
    rows = []
    for r in doc.get("memory", []):
        if r["status"] != "ok":
            rows.append([r["workload"], r["label"], f"— ({r['status']})", "", "", "", "", ""])
            continue
        rows.append([r["workload"], r["label"], fmt_summary(_s(r["measured_peak"]), fmt_bytes),
                     fmt_bytes(r.get("naive_bytes")), fmt_bytes(r.get("planned_bytes")),
                     fmt_bytes(r.get("lower_bound_bytes")), fmt_bytes(r.get("resident_bytes")),
                     fmt_bytes(r.get("compile_held"))])
    L += _table(["workload", "implementation", "measured peak per step", "naive (report)", "planned (report)",
                 "lower bound (report)", "resident buffers (report)", "kept by build + first call"], rows)
    L += [""] + _img(doc["plots"], "memory", "peak memory")

    # -- scaling
    L += ["## Scaling with graph size and tensor size", "",
          f"Each sweep times dyngraph, staticgraph (optimize=True) and NumPy at every size. Static *wins* at a "
          f"size when dynamic/static > {1 + meta['config']['win_margin']:.2f}; the crossover is where that stops.", ""]
    for sw in doc.get("scaling", []):
        L += [f"### {sw['workload']}: {sw['param']}", "", f"**Crossover:** {sw['crossover']['text']}.", ""]
        rows = []
        for p in sw["points"]:
            rows.append([p["value"], fmt_summary(_s(p.get("dyngraph"))), fmt_summary(_s(p.get("staticgraph"))),
                         fmt_summary(_s(p.get("numpy"))), f"{p['speedup']:.2f}x" if p.get("speedup") else "n/a",
                         fmt_seconds(p.get("compile_s")) if p.get("compile_s") is not None else "n/a",
                         _nstar(p.get("n_star")) if p.get("speedup") is not None else "n/a"])
        L += _table([sw["param"], "dyngraph", "staticgraph", "NumPy", "dynamic/static", "compile", "N*"], rows)
        errs = [f"{sw['param']}={p['value']} {k}: {e}" for p in sw["points"] for k, e in (p.get("errors") or {}).items()]
        if errs:
            L += ["", "Not measured:", ""] + [f"- {e}" for e in errs]
        L += [""] + _img(doc["plots"], f"scaling_{sw['sweep']}", f"scaling in {sw['param']}")

    # -- ablation
    L += ["## Compiler pass ablation", "",
          "Each pass switched off alone (`optimize={name: False}`), beside all passes on and `optimize=False`.", ""]
    rows = []
    base = {r["workload"]: r["total"]["median"] for r in doc.get("ablation", []) if r.get("status") == "ok" and r["config"] == "all passes on"}
    for r in doc.get("ablation", []):
        if r.get("status") != "ok":
            rows.append([r["workload"], r["config"], f"— ({r['status']})", "", "", "", ""])
            continue
        rel = f"{r['total']['median'] / base[r['workload']]:.2f}x" if r["workload"] in base else "n/a"
        rows.append([r["workload"], r["config"], fmt_summary(_s(r["total"])), rel, fmt_seconds(r["compile_s"]),
                     fmt_bytes(r.get("planned_bytes")), r.get("nodes_after") if r.get("nodes_after") is not None else "n/a"])
    L += _table(["workload", "configuration", "time per step", "vs all on", "compile", "planned peak",
                 "nodes after passes"], rows)
    L += [""] + _img(doc["plots"], "ablation", "pass ablation")

    # -- tree
    tr = doc.get("tree") or {}
    L += ["## Dynamic structure", ""]
    if tr:
        sz = tr["size"]
        L += [f"A recursive net (`tanh(concat(l, r) @ W + b)`, d={sz['d']}) over {sz['trees']} random binary trees "
              f"with {sz['leaves'][0]}–{sz['leaves'][1]} leaves: {tr['structures']} distinct structures. dyngraph "
              "runs the Python recursion on each tree; staticgraph traces, differentiates and compiles a graph per "
              "new structure and reuses it when the structure comes again.", ""]
        rows = []
        for impl, r in tr["impls"].items():
            if r["status"] != "ok":
                rows.append([r["label"], f"— ({r['status']})", "", "", "", ""])
                continue
            rows.append([r["label"], fmt_seconds(r["first_pass_total_s"]), fmt_summary(_s(r.get("steady_pass_total_s"))),
                         fmt_summary(_s(r["first_pass_per_tree"])), fmt_summary(_s(r["steady_per_tree"])),
                         f"{r['traces']} traces, {r['compiles']} compiles; first calls of new structures took "
                         f"{fmt_seconds(r['compile_total_s'])}" if "traces" in r else "-"])
        L += _table(["implementation", "first pass (all trees)", "later pass (all trees)", "first pass per tree",
                     "later passes per tree", "retracing"], rows)
        L += [""] + _img(doc["plots"], "tree", "dynamic structure")
    if doc.get("dynamic"):
        from .structure import report_lines

        L += [""] + report_lines(doc["dynamic"], doc.get("plots") or {})

    # -- peers
    L += ["## Peers", ""]
    L += _table(["peer", "status"], [[k, x] for k, x in doc["peers"].items()])
    L.append("")

    # -- method
    L += ["## Method and caveats", "",
          f"- Timing: `time.perf_counter`; each sample averages enough consecutive steps to last ≈"
          f"{meta['config']['target_s'] * 1e3:.0f} ms; medians and IQR over {meta['config']['repeats']} samples; "
          "kernel time over separate instrumented steps (the instrumentation wrapper is not in the totals). "
          "The cyclic garbage collector is off inside timed samples (as `timeit` does): a full collection "
          "costs in proportion to everything the process holds, not to the step; both front ends free their "
          "graphs by reference counting.",
          "- BLAS threads pinned to 1 and the process pinned to one core (see Setup), so the comparison is of "
          "execution models, not of thread scheduling.",
          f"- Kernel time counts every kernel that goes through the `shared_ops` dispatch point, less the "
          f"instrumentation's own cost inside each timed call ({meta['config']['timer_bias'] * 1e9:.0f} ns per call, "
          f"measured in this run on a kernel that does nothing). Kernels a staticgraph executable calls around "
          f"the dispatch point (generated fused kernels, kernels writing into planned buffers) are wrapped the "
          f"same way by the harness and counted as kernels too (per-op names `fused`, `planned:<op>`).",
          "- dyngraph's graph building is a difference of two medians and is clamped at 0.",
          "- A split check marked **off** means that row's parts did not add up within the margin in this run. "
          "The parts are timed in separate (interleaved) samples, so other processes competing for the core or "
          "for memory bandwidth can disturb one part and not another; memory-bound steps are the most sensitive. "
          "The totals are unaffected; read that row's split as approximate.",
          "- Memory is traced with tracemalloc (NumPy reports its allocations to it); PyTorch's allocator is "
          "not traced, so no PyTorch memory figure is given.", ""]
    errs = [f"{r['workload']} / {r['impl']}: {r['status']}" for r in doc["main"] if r["status"] != "ok"]
    if errs:
        L += ["Cells that did not run:", ""] + [f"- {e}" for e in errs] + [""]
    return "\n".join(L)


def _ok(r):
    return r.get("status") == "ok" and r.get("total")
