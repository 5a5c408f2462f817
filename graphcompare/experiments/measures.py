"""The measures. Each returns plain rows (dicts) that the report and the JSON/CSV share.

Time per step is split three ways:

- **kernel**: the seconds spent inside kernels, from ``shared_ops.instrument()`` (instrumented
  steps, separate from the timed ones, since the counting wrapper costs a little per call);
- **graph building** (dyngraph): what recording costs, the forward pass with gradients on minus
  the same forward under ``no_grad``. For staticgraph the graph is built once: declaration,
  ``gradients`` and ``compile``, reported as compile time and not per step;
- **overhead**: the rest, ``total - kernel - building`` (dispatch, the backward engine's
  bookkeeping, the executable's run loop, Python).

The split is checked, not assumed: the same step is timed once more with every kernel replaced
by a replay of its recorded output (zero-cost kernels). That *non-kernel* time plus the kernel
time must equal the independently measured total within the configured margin.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Callable

import numpy as np

from shared_ops import dispatch, fusion_jit

from . import frontends as fe
from .stats import Summary, calibrate, quiet_gc, time_step
from .workloads import LABELS, make

perf = time.perf_counter

STATIC_O0 = "staticgraph_O0"
ALL_LABELS = {**LABELS, STATIC_O0: "staticgraph, optimize=False"}


def _err(exc: BaseException) -> str:
    kind = ("unavailable" if isinstance(exc, fe.Unavailable) else "over budget" if isinstance(exc, fe.BudgetExceeded)
            else type(exc).__name__)
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{kind}: {msg}"[:300]


def timer_bias(reps: int = 7, calls: int = 3000) -> float:
    """Seconds the instrumentation adds to each kernel's own timed interval (the clock reads and the
    call through the wrapper), measured on a kernel that does nothing; subtracted per call."""
    x = np.ones(1, np.float32)
    out = []
    for _ in range(reps):
        with dispatch.instrument() as st:
            k = dispatch.bind("__timer_bias__", lambda xp, x: x)
            for _ in range(calls):
                k(np, x)
        out.append(st.kernel_seconds / calls)
    return Summary.of(out).median


def _timed(step: Callable, inner: int) -> float:
    t0 = perf()
    for _ in range(inner):
        step()
    return (perf() - t0) / inner


def split_samples(im, cfg, bias: float, dynamic: bool) -> dict:
    """Interleaved samples (so all parts see the same machine load): the total, the kernel time
    (instrumented, timer bias removed), the non-kernel time (kernels replayed), and for dyngraph
    the forward pass with and without recording."""
    step = im.step
    for _ in range(cfg.warmup):
        step()
    with quiet_gc():
        return _split_samples(im, step, cfg, bias, dynamic)


def _split_samples(im, step, cfg, bias, dynamic) -> dict:
    inner = calibrate(step, cfg.target_s)
    log: list = []
    with fe.record_kernels(log):
        step()
    k_inner = max(1, min(inner, cfg.kernel_steps))
    S = {"total": [], "kernel": [], "nonkernel": [], "forward": [], "forward_nograd": []}
    calls = 0.0
    for _ in range(cfg.repeats):
        step()  # after a kernel swap: cached executables rebind here, outside the timed sample
        S["total"].append(_timed(step, inner))
        with fe.counting() as st:
            step()
            st.per_op.clear()
            for _ in range(k_inner):
                step()
        calls = st.calls / k_inner
        S["kernel"].append(max(0.0, st.kernel_seconds - st.calls * bias) / k_inner)
        if log:
            with fe.replay_kernels(log):
                step()
                S["nonkernel"].append(_timed(step, inner))
        if dynamic:
            S["forward"].append(_timed(im.forward, inner))
            S["forward_nograd"].append(_timed(im.forward_nograd, inner))
    out = {k: Summary.of(v) for k, v in S.items() if v}
    out["inner"] = inner
    out["calls"] = calls
    return out


def split_within(err: float, total: float, calls: float, cfg) -> bool:
    """The split check's stated margin: a share of the total plus a little per kernel call (creating
    and freeing a result object, and the clock, can fall on either side), or a small absolute floor."""
    return abs(err) <= max(cfg.split_margin * total + cfg.split_per_call_s * calls, cfg.split_abs_s)


def impls(cfg) -> list[str]:
    """The implementations a run measures: both front ends, static without passes, the peers."""
    return ["dyngraph", "staticgraph", STATIC_O0, *cfg.peers]


def _build(wl, impl: str, cfg):
    wl.slow_hook = cfg.hooks.get((wl.name, impl))
    wl.compile_budget = cfg.compile_budget_s
    if impl == STATIC_O0:
        return wl.impl("staticgraph", optimize=False)
    return wl.impl(impl)


def measure_step(wl, impl: str, cfg) -> dict:
    """The main table's row for one workload and one implementation."""
    row = {"workload": wl.name, "title": wl.title, "size": wl.size, "impl": impl, "label": ALL_LABELS[impl],
           "status": "ok"}
    try:
        im = _build(wl, impl, cfg)
        tiers = _best_tier(im.build.fn) if im.build is not None else None
        if impl not in ("dyngraph", "staticgraph", STATIC_O0):
            total, inner = time_step(im.step, cfg.repeats, cfg.target_s, warmup=cfg.warmup)
            row["total"], row["inner"] = total.to_dict(), inner
        else:
            sp = split_samples(im, cfg, cfg.timer_bias, impl == "dyngraph")
            total, kern = sp["total"], sp["kernel"]
            row.update(total=total.to_dict(), inner=sp["inner"], kernel=kern.to_dict(), kernel_calls=sp["calls"])
            build = 0.0
            if impl == "dyngraph":
                fwd, fwd0 = sp["forward"], sp["forward_nograd"]
                row["forward"], row["forward_nograd"] = fwd.to_dict(), fwd0.to_dict()
                build = max(0.0, fwd.median - fwd0.median)
            row["build_s"] = build
            row["overhead_s"] = total.median - kern.median - build
            nk = sp.get("nonkernel")
            if nk is not None:
                row["nonkernel"] = nk.to_dict()
                # fastest samples: the ones least disturbed by other processes on the machine
                err = kern.min + nk.min - total.min
                row["split_error_s"] = err
                row["split_error_rel"] = err / total.min
                row["split_ok"] = split_within(err, total.min, sp["calls"], cfg)
            if im.build is not None:
                row["compile"] = _compile_times(wl, impl, im.build, cfg)
                row["compile"]["tiers"] = tiers
                row["nodes_declared"] = im.build.n_nodes
    except Exception as exc:  # the run goes on; the report says what failed
        row["status"] = _err(exc)
    finally:
        wl.slow_hook = None
    return row


def _best_tier(fn) -> dict:
    """Wait until the fused regions run on their best tier (steps are timed there), and say
    what each tier cost to build: the first step ran on the NumPy tier right after compile."""
    regions = fn.regions()
    t0 = perf()
    if regions and fusion_jit.mode() != "off":  # the test suite runs with the JIT off: no waiting
        fn.wait_compiled()
    waited = perf() - t0
    numba = [k.build_seconds.get("numba") for k in regions]
    return {"regions": len(regions), "numpy_build_s": sum(k.build_seconds["numpy"] for k in regions),
            "numba_build_s": sum(t for t in numba if t is not None) if all(t is not None for t in numba) else None,
            "wait_best_s": waited, "on": sorted(set(fn.tiers().values()))}


def _compile_times(wl, impl, first, cfg) -> dict:
    """Building the static step: the first compile in this process (cold), then repeats (warm)."""
    cold = {"declare_s": first.declare_s, "gradients_s": first.gradients_s, "compile_s": first.compile_s,
            "total_s": first.build_s, "first_call_s": first.first_call_s}
    warm = []
    for _ in range(cfg.compile_repeats - 1):
        b = _build(wl, impl, cfg).build
        warm.append(b.build_s)
    return {"cold": cold, "warm": Summary.of(warm).to_dict() if warm else None}


def break_even(rows: list[dict]) -> list[dict]:
    """N* = compile / (t_dynamic - t_static): steps after which compiling has paid for itself.
    The compile time is until the first step can run (declare, gradients, ``sg.compile``; fused
    regions start on their NumPy tier); ``compile_best_tier_s`` adds the wait for numba's."""
    by = {(r["workload"], r["impl"]): r for r in rows}
    out = []
    for (w, impl), r in by.items():
        if impl not in ("staticgraph", STATIC_O0) or r["status"] != "ok":
            continue
        d = by.get((w, "dyngraph"))
        if d is None or d["status"] != "ok":
            continue
        t_dyn, t_st = d["total"]["median"], r["total"]["median"]
        gain = t_dyn - t_st
        cold = r["compile"]["cold"]["total_s"]
        warm = (r["compile"]["warm"] or {}).get("median")
        tiers = r["compile"].get("tiers") or {}
        best = cold + (tiers.get("wait_best_s") or 0.0)
        out.append({
            "workload": w, "impl": impl, "t_dynamic_s": t_dyn, "t_static_s": t_st, "gain_s": gain,
            "compile_cold_s": cold, "compile_warm_s": warm, "compile_best_tier_s": best,
            "n_star_best_tier": best / gain if gain > 0 else None,
            "n_star_cold": cold / gain if gain > 0 else None,
            "n_star_warm": (warm / gain if gain > 0 else None) if warm is not None else None,
        })
    return out


# --------------------------------------------------------------------------- memory


def _traced_peak(fn: Callable) -> tuple[int, int]:
    """(peak bytes above the level before ``fn``, bytes still held after it) under tracemalloc."""
    gc.collect()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    cur, peak = tracemalloc.get_traced_memory()
    return peak - base, cur - base


def measure_memory(wl, cfg) -> list[dict]:
    """Peak memory: dyngraph measured; static planned, lower bound, naive and measured; NumPy measured."""
    rows = []
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        for impl in ("dyngraph", "staticgraph", STATIC_O0, "numpy"):
            row = {"workload": wl.name, "title": wl.title, "impl": impl, "label": ALL_LABELS[impl], "status": "ok"}
            try:
                if impl.startswith("staticgraph"):
                    holder = {}
                    # what building keeps: the graph, the executable, planned buffers, and what the
                    # build's first call allocated and kept (buffers materialised at first use)
                    _, row["compile_held"] = _traced_peak(lambda: holder.setdefault("im", _build(wl, impl, cfg)))
                    im = holder["im"]
                    mem = fe.static_memory(im.build.fn)
                    row.update({f"{k}_bytes": v for k, v in mem.items()})
                else:
                    im = _build(wl, impl, cfg)
                    im.step()
                peaks, held = [], []
                for _ in range(cfg.memory_steps):
                    p, h = _traced_peak(im.step)
                    peaks.append(p)
                    held.append(h)
                row["measured_peak"] = Summary.of(peaks).to_dict()
                row["held_after_step"] = Summary.of(held).to_dict()
            except Exception as exc:
                row["status"] = _err(exc)
            rows.append(row)
    finally:
        if started:
            tracemalloc.stop()
    return rows


# --------------------------------------------------------------------------- scaling


def measure_scaling(sweep: str, spec, cfg, progress=None) -> dict:
    """One sweep: dyngraph, staticgraph and NumPy at every size, and where static stops winning."""
    name, param, values, fixed = spec
    points = []
    stop_static = None  # after a static build ran out of budget, larger ones are not attempted
    for v in values:
        wl = make(name, **{**fixed, param: v})
        pt = {"value": v, "size": wl.size}
        for impl in ("dyngraph", "staticgraph", "numpy"):
            if impl == "staticgraph" and stop_static is not None:
                pt[impl] = None
                pt.setdefault("errors", {})[impl] = stop_static
                continue
            try:
                im = _build(wl, impl, cfg)
                s, _ = time_step(im.step, cfg.repeats, cfg.target_s, warmup=1)
                pt[impl] = s.to_dict()
                if im.build is not None:
                    pt["compile_s"] = im.build.build_s
            except Exception as exc:
                pt[impl] = None
                pt.setdefault("errors", {})[impl] = _err(exc)
                if impl == "staticgraph" and isinstance(exc, fe.BudgetExceeded):
                    stop_static = f"skipped: the build at {param}={v} already exceeded the compile budget"
        d, s = pt.get("dyngraph"), pt.get("staticgraph")
        pt["speedup"] = d["median"] / s["median"] if d and s else None
        pt["static_faster"] = bool(d and s and d["median"] > s["median"])
        if d and s and d["median"] > s["median"]:
            pt["n_star"] = pt["compile_s"] / (d["median"] - s["median"])
        else:
            pt["n_star"] = None
        points.append(pt)
        if progress is not None:
            progress.update(1)
    return {"sweep": sweep, "workload": name, "param": param, "points": points,
            "crossover": crossover(points, param, cfg.win_margin)}


def crossover(points: list[dict], param: str, margin: float) -> dict:
    """Where static stops winning: the first size (after a win) whose dynamic/static ratio is <= 1+margin."""
    ratios = [(p["value"], p["speedup"]) for p in points if p.get("speedup") is not None]
    if not ratios:
        return {"kind": "unmeasured", "text": "no sweep point measured both front ends"}
    wins = [r > 1 + margin for _, r in ratios]
    if all(wins):
        return {"kind": "always", "value": None,
                "text": f"static wins at every measured {param} ({ratios[0][0]}..{ratios[-1][0]})"}
    if not any(wins):
        return {"kind": "never", "value": None,
                "text": f"static never wins by more than {margin:.0%} over {param} = {ratios[0][0]}..{ratios[-1][0]}"}
    for i, (v, _) in enumerate(ratios):
        if i > 0 and wins[i - 1] and not wins[i]:
            return {"kind": "stops", "value": v,
                    "text": f"static stops winning at {param} = {v} (it won at {ratios[i - 1][0]})"}
    first = next(v for (v, _), w in zip(ratios, wins) if w)
    return {"kind": "starts", "value": first, "text": f"static starts winning at {param} = {first}"}


# --------------------------------------------------------------------------- ablation


def measure_ablation(wl, cfg, progress=None) -> list[dict]:
    """Every compiler pass switched off alone, beside all on and all off: time, compile, memory."""
    try:
        passes = fe.pass_names()
    except Exception as exc:
        return [{"workload": wl.name, "config": "all", "status": _err(exc)}]
    configs = [("all passes on", True), *((f"without {p}", {p: False}) for p in passes),
               ("optimize=False", False)]
    rows = []
    for label, opt in configs:
        row = {"workload": wl.name, "title": wl.title, "config": label, "status": "ok"}
        try:
            wl.slow_hook = cfg.hooks.get((wl.name, "staticgraph"))
            wl.compile_budget = cfg.compile_budget_s
            im = wl.impl("staticgraph", optimize=opt)
            s, _ = time_step(im.step, cfg.repeats, cfg.target_s, warmup=1)
            row["total"] = s.to_dict()
            row["compile_s"] = im.build.build_s
            mem = fe.static_memory(im.build.fn)
            row.update({f"{k}_bytes": v for k, v in mem.items()})
            row["nodes_after"] = len(im.build.fn.program)
        except Exception as exc:
            row["status"] = _err(exc)
        finally:
            wl.slow_hook = None
        rows.append(row)
        if progress is not None:
            progress.update(1)
    return rows
