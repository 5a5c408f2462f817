"""A campaign's pieces that every runner shares: its statistics, its chunks, one chunk's run.

A chunk is ``(seed, programs)``; it carries everything needed to run it again anywhere
(``rerun_command``). The in-process campaign, the local process pool (``graphcompare.check``)
and the Dask runner (``graphcompare.cluster``) all run a chunk with ``run_campaign`` and add up
the chunks' ``Campaign`` statistics with ``Campaign.merge``, so a campaign's summary does not
depend on where its chunks ran.
"""

from __future__ import annotations

import hashlib
import shlex
from collections import Counter
from dataclasses import dataclass, field

# Set in a process that runs one chunk (its seed): an --import module can tell it is in one.
CHUNK_ENV = "GRAPHCOMPARE_CHUNK_SEED"


@dataclass
class Campaign:
    programs: int = 0
    rejected: int = 0
    ops: Counter = field(default_factory=Counter)
    fan_in3: int = 0
    fan_out3: int = 0
    worst: dict = field(default_factory=dict)  # way -> (max abs, max ULP)
    used: dict = field(default_factory=dict)  # tolerance way -> largest fraction of its bound used
    digests: dict = field(default_factory=dict)  # chunk seed -> digest of the programs it drew, in order
    disagreements: list = field(default_factory=list)  # keep-going campaigns: each one found (dicts)
    cpu_s: float = 0.0  # CPU seconds of the chunks' processes (a measurement: not in the table)

    def add(self, prog, res) -> None:
        if not res.valid:
            self.rejected += 1
            return
        self.programs += 1
        self.ops.update(set(prog.ops()))
        self.fan_in3 += prog.fan_in() >= 3
        self.fan_out3 += prog.fan_out() >= 3
        self._worst_of(res.worst, res.used)

    def merge(self, other: Campaign) -> None:
        """Add another chunk's statistics (the campaign of several chunks)."""
        self.programs += other.programs
        self.rejected += other.rejected
        self.ops.update(other.ops)
        self.fan_in3 += other.fan_in3
        self.fan_out3 += other.fan_out3
        self._worst_of(other.worst, other.used)
        self.digests.update(other.digests)
        self.disagreements = sorted(self.disagreements + other.disagreements, key=lambda d: (d["seed"], d["index"]))
        self.cpu_s += other.cpu_s

    def to_dict(self) -> dict:
        """Plain JSON-able statistics (floats written exactly: ``json`` round-trips them)."""
        return {"programs": self.programs, "rejected": self.rejected, "ops": dict(sorted(self.ops.items())),
                "fan_in3": self.fan_in3, "fan_out3": self.fan_out3,
                "worst": {w: list(v) for w, v in sorted(self.worst.items())}, "used": dict(sorted(self.used.items())),
                "digests": {str(k): v for k, v in self.digests.items()}, "disagreements": self.disagreements,
                "cpu_s": self.cpu_s}

    @classmethod
    def from_dict(cls, d: dict) -> Campaign:
        return cls(programs=d["programs"], rejected=d["rejected"], ops=Counter(d["ops"]), fan_in3=d["fan_in3"],
                   fan_out3=d["fan_out3"], worst={w: (a, u) for w, (a, u) in d["worst"].items()}, used=dict(d["used"]),
                   digests={int(k): v for k, v in d["digests"].items()}, disagreements=list(d["disagreements"]),
                   cpu_s=d.get("cpu_s", 0.0))

    def _worst_of(self, worst: dict, used: dict) -> None:
        for way, (a, u) in worst.items():
            a0, u0 = self.worst.get(way, (0.0, 0))
            self.worst[way] = (max(a0, a), max(u0, u))
        for way, f in used.items():
            self.used[way] = max(self.used.get(way, 0.0), f)

    def table(self, drawable: list, ways: tuple) -> str:
        n = max(self.programs, 1)
        missing = [o for o in drawable if o not in self.ops]
        lines = [
            f"programs checked      {self.programs}  (rejected at a kink or overflow: {self.rejected})",
            f"ops covered           {len([o for o in drawable if o in self.ops])}/{len(drawable)}"
            + (f"  (not drawn: {', '.join(missing)})" if missing else ""),
            f"fan-in >= 3           {self.fan_in3} programs ({100 * self.fan_in3 / n:.0f}%)",
            f"fan-out >= 3          {self.fan_out3} programs ({100 * self.fan_out3 / n:.0f}%)",
            *([f"disagreements         {len(self.disagreements)} (programs that some way disagreed on)"]
              if self.disagreements else []),
            "",
            f"{'way':<22}{'compared with':<22}{'worst abs':>12}  {'worst ULP':>10}  {'tolerance used':>14}",
        ]
        from .equivalence import BITWISE_WAYS, exact_passes

        for way in ways:
            if way == "finite differences":
                lines.append(f"{way:<22}{'float64 gradient':<22}{'(checked)':>12}")
                continue
            exact = way in BITWISE_WAYS or (way.startswith("pass:") and way[5:] in exact_passes())
            vs = "float64 dyngraph" if way == "torch" else ("dyngraph, bitwise" if exact else "dyngraph, tolerance")
            a, u = self.worst.get(way, (0.0, 0))
            used = f"{100 * self.used[way]:>13.1f}%" if way in self.used else ""
            lines.append(f"{way:<22}{vs:<22}{a:>12.3g}  {u:>10}  {used}".rstrip())
        return "\n".join(lines)


def chunks(examples: int, chunk: int, seed: int, jobs: int) -> list:
    """``(seed, programs)`` per chunk: one chunk with the campaign's own seed when it fits in
    one process; otherwise chunk ``k`` has seed ``seed * 1000003 + k`` and ``chunk`` programs,
    the last one the rest. A chunk does not depend on ``examples``: a longer campaign with the
    same seed and chunk size starts with the same chunks (``--results`` keeps them)."""
    if examples <= chunk and jobs == 1:
        return [(seed, examples)]
    return [(seed * 1000003 + k, min(chunk, examples - k * chunk)) for k in range(-(-examples // chunk))]


@dataclass(frozen=True)
class ChunkSpec:
    """What every chunk of one campaign shares: with a chunk's ``(seed, programs)`` it is a
    complete, picklable description of the work, sent as is to a process or a Dask worker."""

    ops: tuple | None
    ways: tuple
    max_steps: int
    imports: tuple = ()
    backend: str = "numpy"
    ways_flag: str | None = None  # the --ways text the user gave (None: every way)
    keep_going: bool = False  # record every disagreement and go on (no shrinking) instead of stopping
    control: int = 8  # about one step in this many is a control-flow step (0: none)

    def rerun_command(self, seed_: int, examples: int) -> str:
        """The ``graphcompare check`` line that runs one chunk alone, in one process."""
        words = ["graphcompare", "check", "--examples", str(examples), "--seed", str(seed_)]
        if self.ops:
            words += ["--ops", ",".join(self.ops)]
        if self.ways_flag:
            words += ["--ways", self.ways_flag]
        if self.max_steps != 8:
            words += ["--max-steps", str(self.max_steps)]
        if self.control != 8:
            words += ["--control", str(self.control)]
        if self.backend != "numpy":
            words += ["--backend", self.backend]
        for mod in self.imports:
            words += ["--import", mod]
        return " ".join(shlex.quote(w) for w in words)

    def died(self, seed_: int, examples: int, why: str) -> dict:
        """The failure of a chunk that gave no answer, with the command that runs it alone."""
        return {"crashed": True, "seed": seed_, "differences": [
            f"the worker running the chunk with seed {seed_} {why}; run it alone to see it: "
            f"{self.rerun_command(seed_, examples)}"]}


def run_chunk(spec: ChunkSpec, seed_: int, examples: int, on_program=None):
    """Run one chunk in this process (a fresh one: it imports the user's modules): ``(Campaign,
    failure)`` as ``run_campaign``; exceptions propagate to the runner, which reports them."""
    import importlib
    import os

    import resource

    os.environ[CHUNK_ENV] = str(seed_)
    quiet_jit()
    for mod in spec.imports:
        importlib.import_module(mod)
    with backend_context(spec.backend):
        camp, failure = run_campaign(seed_, examples, spec.ops, spec.ways, spec.max_steps, on_program,
                                     keep_going=spec.keep_going, control=spec.control)
    # the whole process (a chunk has one, imports included) and the numba compiler's, if one ran
    camp.cpu_s = sum(r.ru_utime + r.ru_stime for r in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
    return camp, failure


def quiet_jit() -> None:
    """Run fused kernels on their NumPy tier, never compiling numba machine code, unless
    ``$GRAPHCOMPARE_JIT`` says otherwise. A campaign runs each program once: a kernel compiled
    in the background would rarely be ready before its program is done, and which tier ran
    would depend on timing, so a seed's result would too (the numba tier has its own tests;
    ``GRAPHCOMPARE_JIT=sync`` puts it in a campaign, deterministically)."""
    import os

    if "GRAPHCOMPARE_JIT" not in os.environ:
        from shared_ops import fusion_jit

        fusion_jit.set_mode("off")


def run_campaign(seed_, examples, ops, ways, max_steps, on_program=None, keep_going=False, control=8):
    """One hypothesis campaign in this process: ``(Campaign, failure)``; ``failure`` is None or
    a dict of plain strings (``differences``, ``program``, ``reproducer``) and the ``seed``.
    ``keep_going``: a disagreement goes into ``Campaign.disagreements`` (program as drawn, not
    shrunk) and the campaign goes on; ``failure`` is then always None. ``control``: about one
    step in this many is a control-flow step (``programs(control=...)``)."""
    from hypothesis import HealthCheck, Phase, assume, given, seed, settings

    from . import equivalence
    from .strategies import programs

    camp = Campaign()
    last_failure: list = []
    digest = hashlib.sha256()

    @seed(seed_)
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              phases=(Phase.generate, Phase.shrink), print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(programs(ops=list(ops) if ops else None, max_steps=max_steps, record_events=False, control=control))
    def campaign(prog):
        res = equivalence.check_program(prog, ways=ways, seed=seed_)
        if not last_failure:  # statistics of the campaign, not of the shrinking
            digest.update(program_digest(prog))
            camp.add(prog, res)
            if res.valid and on_program is not None:
                on_program()
        assume(res.valid)
        if not res.ok and keep_going:
            camp.disagreements.append({"seed": seed_, "index": camp.programs, "differences": [str(d) for d in res.differences],
                                       "program": prog.model_source(), "reproducer": res.reproducer})
        elif not res.ok:
            last_failure[:] = [res]
            raise AssertionError(res.differences[0])

    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            campaign()
        camp.digests[seed_] = digest.hexdigest()[:16]
    except AssertionError:
        camp.digests[seed_] = digest.hexdigest()[:16]
        if not last_failure:
            raise
        res = last_failure[0]
        return camp, {"differences": [str(d) for d in res.differences], "program": res.program.model_source(),
                      "reproducer": res.reproducer, "seed": seed_}
    return camp, None


def program_digest(prog) -> bytes:
    """The bytes that identify a program: its source and its inputs' bytes (a campaign's seed
    must draw the same programs in any process; ``Campaign.digests`` lets that be checked)."""
    parts = [prog.model_source().encode()]
    parts += [a.tobytes() for a in prog.inputs()] + [w.tobytes() for w in prog.weights]
    return hashlib.sha256(b"\0".join(parts)).digest()


def backend_context(name: str):
    """A context that makes ``name`` the array backend; a clear BackendError now if it cannot be used."""
    import contextlib

    if name == "numpy":
        return contextlib.nullcontext()
    from shared_ops import get_backend, use_backend

    get_backend(name)
    return use_backend(name)
