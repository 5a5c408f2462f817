"""Suite configurations: ``standard`` (the default), ``quick`` (under a minute) and ``tiny``
(the test suite's: seconds, small sizes, every section still present)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable


@dataclass
class Config:
    name: str
    repeats: int                 # samples per timing (median and IQR over these)
    target_s: float              # wall time of one sample (consecutive steps averaged)
    warmup: int = 2
    kernel_steps: int = 5        # instrumented steps for kernel time
    memory_steps: int = 3        # tracemalloc'd steps for peak memory
    compile_repeats: int = 3     # compiles of one graph (first = cold, rest = warm)
    workloads: dict = field(default_factory=dict)       # name -> size kwargs (the main table)
    memory: list = field(default_factory=list)          # workload names measured for memory
    ablation: dict = field(default_factory=dict)        # workload name -> size overrides, for the pass ablation
    scaling: dict = field(default_factory=dict)         # sweep name -> (workload, param, values, fixed)
    tree: dict = field(default_factory=dict)            # TreeStream kwargs
    dynamic: dict = field(default_factory=dict)         # the four-ways experiment (experiments.structure)
    peers: tuple = ("numpy", "torch", "torch_compile", "jax")
    backend: str = "numpy"
    seed: int = 0
    win_margin: float = 0.05     # static "wins" when dynamic/static > 1 + win_margin
    split_margin: float = 0.25   # the split check: |kernel + non-kernel - total| within this share of the total
    split_per_call_s: float = 0.5e-6  # ... plus this per kernel call (result objects, timer: either side)
    split_abs_s: float = 20e-6   # ... or within this many seconds (tiny steps)
    compile_budget_s: float | None = 30.0  # a static build running longer is stopped and reported
    hooks: dict = field(default_factory=dict)           # (workload, impl) -> callable; tests only
    timer_bias: float = 0.0      # seconds per instrumented kernel call, measured at the start of a run

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hooks"] = {f"{w}/{i}": getattr(f, "__name__", repr(f)) for (w, i), f in self.hooks.items()}
        return d


def _scaling(depths, Ts, ns):
    return {
        "depth": ("deep_chain", "depth", list(depths), {"width": 1}),
        "T": ("rnn", "T", list(Ts), {}),
        "n": ("elementwise", "n", list(ns), {}),
    }


def standard() -> Config:
    return Config(
        name="standard", repeats=7, target_s=0.03, warmup=2, compile_budget_s=30.0,
        workloads={
            "seed_mul": {}, "seed_5x5": {}, "seed_rnn_cell": {}, "rnn": {"T": 32},
            "mlp": {"batch": 128, "sizes": (784, 512, 512, 10)}, "cnn": {"batch": 16, "image": 28},
            "elementwise": {"n": 1 << 20}, "deep_chain": {"depth": 201},
            "lstm_lm": {"T": 12}, "transformer": {"batch": 8, "T": 16, "d": 64},
        },
        memory=["rnn", "mlp", "cnn", "elementwise", "deep_chain"],
        ablation={"mlp": {}, "elementwise": {}, "rnn": {"T": 8}, "deep_chain": {"depth": 60}},
        scaling=_scaling([15, 30, 60, 120, 240, 480, 960], [2, 4, 8, 16, 32, 64, 128],
                         [1 << k for k in range(6, 23, 2)]),
        tree={"count": 48, "leaves": (3, 5), "d": 16},
        dynamic={"batches": [1, 4, 16, 64, 256], "reps": 3, "count": 256},
    )


def quick() -> Config:
    return Config(
        name="quick", repeats=5, target_s=0.01, warmup=1, kernel_steps=3, memory_steps=2, compile_repeats=2,
        compile_budget_s=10.0,
        workloads={
            "seed_mul": {}, "seed_5x5": {}, "seed_rnn_cell": {}, "rnn": {"T": 8},
            "mlp": {"batch": 128, "sizes": (784, 512, 512, 10)}, "cnn": {"batch": 4, "image": 28},
            "elementwise": {"n": 1 << 18}, "deep_chain": {"depth": 60},
            "lstm_lm": {"T": 6}, "transformer": {"batch": 4, "T": 8, "d": 32},
        },
        memory=["mlp", "elementwise", "deep_chain"],
        ablation={"elementwise": {}, "deep_chain": {"depth": 30}},
        scaling=_scaling([15, 30, 60], [2, 4, 8], [1 << 8, 1 << 14, 1 << 20]),
        tree={"count": 16, "leaves": (2, 4), "d": 8},
        dynamic={"batches": [1, 8, 64], "reps": 2, "count": 64},
    )


def tiny() -> Config:
    """For the test suite only: every measure and section, at toy sizes, in seconds."""
    return Config(
        name="tiny", repeats=3, target_s=0.002, warmup=1, kernel_steps=2, memory_steps=1, compile_repeats=2,
        compile_budget_s=60.0,
        # torch.compile's first call alone (tens of seconds per model) outlasts this whole suite
        peers=("numpy", "torch", "jax"),
        workloads={
            "seed_mul": {}, "seed_rnn_cell": {}, "rnn": {"T": 4},
            "mlp": {"batch": 8, "sizes": (32, 16, 10)}, "cnn": {"batch": 2, "image": 6, "channels": (1, 2, 2)},
            "elementwise": {"n": 4096}, "deep_chain": {"depth": 30},
            "lstm_lm": {"batch": 2, "T": 2, "vocab": 6, "embed": 4, "hidden": 3},
            "transformer": {"batch": 2, "T": 3, "d": 4, "heads": 2},
        },
        memory=["mlp", "elementwise"],
        ablation={"elementwise": {}},
        scaling=_scaling([9, 30], [2, 4], [256, 4096]),
        tree={"count": 6, "leaves": (2, 4), "d": 4},
        dynamic={"batches": [1, 2], "reps": 1, "count": 4},
    )


PRESETS: dict[str, Callable[[], Config]] = {"standard": standard, "quick": quick, "tiny": tiny}
