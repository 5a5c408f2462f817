"""The run's setting: BLAS threads pinned to one, CPU affinity, versions, machine.

``pin_threads_env`` must run before NumPy is imported to take effect through the environment
(the CLI calls it first thing); ``pin_threads`` also uses threadpoolctl when it is installed,
which works after the import. What was actually achieved is recorded for the report.
"""

from __future__ import annotations

import os
import platform
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")
# OpenBLAS tuning variables inherited from a shell make timings machine-specific; drop them.
DROP_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


_FIRST_PIN: dict = {}


def pin_threads_env() -> dict:
    """Set every BLAS/OpenMP thread count to 1 in this process's environment (before imports).

    Returns whether NumPy was already imported the *first* time this process pinned."""
    for v in THREAD_VARS:
        os.environ[v] = "1"
    for v in DROP_VARS:
        os.environ.pop(v, None)
    _FIRST_PIN.setdefault("numpy_imported_before_pin", "numpy" in sys.modules)
    return dict(_FIRST_PIN)


def pin_threads() -> dict:
    """Pin BLAS threads to 1 now (threadpoolctl if installed); say what was done."""
    info = pin_threads_env()
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(1)
        info["method"] = "threadpoolctl.threadpool_limits(1) + environment variables"
        info["pools"] = [
            {k: p.get(k) for k in ("internal_api", "num_threads", "version")}
            for p in threadpoolctl.threadpool_info()
        ]
    except ImportError:
        how = "environment variables " + ", ".join(THREAD_VARS[:3]) + ", ... = 1"
        if info["numpy_imported_before_pin"]:
            how += " (set after NumPy was imported in this process, so they may not apply; install threadpoolctl)"
        else:
            how += " (set before NumPy was imported)"
        info["method"] = how
    return info


def dyngraph_accelerator() -> str:
    """Which of dyngraph's compiled modules ran (``dyngraph._accel``): its per-op recording and
    backward walk cost several times more in pure Python, so a report says which one it timed."""
    import dyngraph  # noqa: F401  (loads the compiled modules it can)
    from dyngraph import _accel

    names = _accel.accelerated()
    if names:
        return "on: " + ", ".join(f"dyngraph.{n}" for n in names)
    why = "DYNGRAPH_PURE=1" if _accel.PURE else "not built (no C compiler at install?)"
    return f"off, pure Python ({why})"


def steady_allocator() -> str:
    """Keep freed memory mapped (glibc), so no implementation pays page faults to re-allocate.

    By default glibc returns large freed blocks to the kernel (mmap threshold, heap trimming)
    and the next allocation of the same size faults every page in again. Which implementation
    triggers that depends on the order it frees its temporaries, not on its execution model:
    a hand-written NumPy step on 1 MiB vectors measured 4.0 ms with the default and 1.05 ms
    with both thresholds raised, in one process. Raising them for the whole run makes the
    comparison about the execution models. Returns what was done, for the report.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "default allocator (not glibc)"
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = libc.mallopt(m_trim_threshold, 1 << 30) == 1 and libc.mallopt(m_mmap_threshold, 1 << 30) == 1
    if not ok:  # pragma: no cover - depends on the libc
        return "default allocator (mallopt refused)"
    return "glibc mallopt: trim and mmap thresholds 1 GiB (freed memory stays mapped; no page-fault churn)"


def pin_cpu(core: int | None = None) -> str:
    """Pin this process to one core (the last allowed one unless given); return what was done."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this platform)"
    allowed = sorted(os.sched_getaffinity(0))
    core = allowed[-1] if core is None else core
    try:
        os.sched_setaffinity(0, {core})
    except OSError as exc:  # pragma: no cover - depends on the machine
        return f"not pinned ({exc})"
    return f"pinned to core {core} of {allowed}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    kb = int(line.split()[1])
                    return f"{kb / 1e6:.1f} GB"
    except OSError:
        pass
    return "unknown"


def _version(mod: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:
        m = sys.modules.get(mod)
        return getattr(m, "__version__", None)


def load_average() -> list | None:
    """The 1, 5 and 15-minute load averages (runnable processes on the machine), or None where
    the platform has none: a run shares its cores with whatever else runs."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def fusion_cache() -> dict:
    """Where staticgraph's fused kernels are cached on disk, and how many entries it held."""
    d = os.environ.get("GRAPHCOMPARE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "graphcompare", "fusion")
    try:
        n = len(os.listdir(d))
    except OSError:
        n = 0
    return {"dir": d, "entries": n}


def machine_info() -> dict:
    import numpy as np

    try:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        blas = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:
        blas = "unknown"
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus_online": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory": _mem_total(),
        "blas": blas,
        "versions": {m: _version(m) for m in ("graphcompare", "numpy", "numba", "torch", "jax", "cupy",
                                               "matplotlib", "tqdm", "threadpoolctl")},
        "thread_env": {v: os.environ.get(v) for v in THREAD_VARS[:3]},
    }
