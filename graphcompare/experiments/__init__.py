"""The comparative experiments: workloads, measures, and the report (``graphcompare run``).

The names below load lazily, so ``graphcompare.experiments.env`` can pin the BLAS threads
before anything imports NumPy.
"""

from importlib import import_module

_EXPORTS = {
    "Config": "config", "PRESETS": "config", "standard": "config", "quick": "config", "tiny": "config",
    "run_suite": "runner", "load_json": "results", "save_json": "results",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'graphcompare.experiments' has no attribute {name!r}")
    return getattr(import_module(f".{mod}", __name__), name)
