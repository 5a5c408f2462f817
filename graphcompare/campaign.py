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
    """``(seed, programs)`` per chunk: one chunk with the campaign's own seed when it fits."""
    if examples <= chunk and jobs == 1:
        return [(seed, examples)]
    n = -(-examples // chunk)
    sizes = [examples // n + (k < examples % n) for k in range(n)]
    return [(seed * 1000003 + k, size) for k, size in enumerate(sizes)]


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

    def rerun_command(self, seed_: int, examples: int) -> str:
        """The ``graphcompare check`` line that runs one chunk alone, in one process."""
        words = ["graphcompare", "check", "--examples", str(examples), "--seed", str(seed_)]
        if self.ops:
            words += ["--ops", ",".join(self.ops)]
        if self.ways_flag:
            words += ["--ways", self.ways_flag]
        if self.max_steps != 8:
            words += ["--max-steps", str(self.max_steps)]
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

    os.environ[CHUNK_ENV] = str(seed_)
    for mod in spec.imports:
        importlib.import_module(mod)
    with backend_context(spec.backend):
        return run_campaign(seed_, examples, spec.ops, spec.ways, spec.max_steps, on_program)


def run_campaign(seed_, examples, ops, ways, max_steps, on_program=None):
    """One hypothesis campaign in this process: ``(Campaign, failure)``; ``failure`` is None or
    a dict of plain strings (``differences``, ``program``, ``reproducer``) and the ``seed``."""
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
    @given(programs(ops=list(ops) if ops else None, max_steps=max_steps, record_events=False))
    def campaign(prog):
        res = equivalence.check_program(prog, ways=ways, seed=seed_)
        if not last_failure:  # statistics of the campaign, not of the shrinking
            digest.update(program_digest(prog))
            camp.add(prog, res)
            if res.valid and on_program is not None:
                on_program()
        assume(res.valid)
        if not res.ok:
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
