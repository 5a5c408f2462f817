"""The comparative experiments: workloads, measures, and the report (``graphcompare run``)."""

from .config import PRESETS, Config, quick, standard, tiny
from .results import load_json, save_json
from .runner import run_suite

__all__ = ["Config", "PRESETS", "standard", "quick", "tiny", "run_suite", "load_json", "save_json"]
