"""A campaign's results directory: ``graphcompare check --results DIR``, resumable and cumulative.

    DIR/campaign.json            what the chunks share: seed, chunk size, ways, ops, ... (checked)
    DIR/chunks/SEED-N.json       one finished chunk: its statistics, CPU seconds, disagreements, code version
    DIR/failures/repro_*.py      the reproducer of each disagreement

A chunk's file is written (whole, by an atomic rename) as soon as the chunk finishes, so a
campaign that is killed loses only its running chunks. Running the same command again skips
every chunk whose file exists and runs the rest; a longer ``--examples`` with the same seed and
chunk size adds chunks (their layout does not depend on ``--examples``, see
``campaign.chunks``). The totals are always merged from the chunks' files, so they are the same
however many runs it took.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess

from .campaign import Campaign, ChunkSpec

FORMAT = 1


class ResultsError(Exception):
    """The directory holds another campaign (other seed, chunk size, ways...) or is unreadable."""


class ResultsDir:
    def __init__(self, path: str, seed: int, chunk: int, spec: ChunkSpec):
        self.path = path
        self.manifest = {"format": FORMAT, "seed": seed, "chunk": chunk, "ops": list(spec.ops) if spec.ops else None,
                         "ways": list(spec.ways), "max_steps": spec.max_steps, "imports": list(spec.imports),
                         "backend": spec.backend}

    def open(self) -> ResultsDir:
        """Create the directory, or check that it holds this campaign."""
        os.makedirs(os.path.join(self.path, "chunks"), exist_ok=True)
        os.makedirs(os.path.join(self.path, "failures"), exist_ok=True)
        where = os.path.join(self.path, "campaign.json")
        if os.path.exists(where):
            try:
                with open(where) as f:
                    old = json.load(f)
            except (OSError, ValueError) as exc:
                raise ResultsError(f"--results {self.path}: cannot read campaign.json ({exc})") from None
            diff = [k for k in self.manifest if old.get(k) != self.manifest[k]]
            if diff:
                said = "; ".join(f"{k} {old.get(k)!r} there, {self.manifest[k]!r} now" for k in diff)
                raise ResultsError(f"--results {self.path} holds another campaign ({said}); "
                                   f"give the same options to resume it, or another directory")
        else:
            _write_json(where, self.manifest)
        return self

    def _file(self, seed: int, n: int) -> str:
        return os.path.join(self.path, "chunks", f"{seed}-{n}.json")

    def done(self, seed: int, n: int) -> bool:
        return os.path.exists(self._file(seed, n))

    def load(self, seed: int, n: int) -> Campaign:
        try:
            with open(self._file(seed, n)) as f:
                return Campaign.from_dict(json.load(f)["stats"])
        except (OSError, ValueError, KeyError) as exc:
            raise ResultsError(f"--results {self.path}: chunk file {self._file(seed, n)} is unreadable ({exc}); "
                               f"delete it to run that chunk again") from None

    def save(self, seed: int, n: int, part: Campaign) -> None:
        """Write one finished chunk: its statistics, and each disagreement's reproducer apart."""
        stats = part.to_dict()
        for d in stats["disagreements"]:
            if d.get("reproducer"):
                name = os.path.join(self.path, "failures", f"repro_seed{d['seed']}_{d['index']}.py")
                with open(name, "w") as f:
                    f.write(d["reproducer"])
                d["reproducer"] = os.path.relpath(name, self.path)
        _write_json(self._file(seed, n), {"seed": seed, "programs_asked": n, "code": code_version(), "stats": stats})

    def merged(self, chunks: list) -> tuple:
        """``(Campaign, chunks done)``: the merge of every finished chunk among ``chunks``."""
        camp, done = Campaign(), 0
        for s, n in chunks:
            if self.done(s, n):
                camp.merge(self.load(s, n))
                done += 1
        return camp, done


def code_version() -> str | None:
    """``git describe --always --dirty`` of the checkout graphcompare runs from (None outside
    one): a long campaign may span several versions of the code, and each chunk says which."""
    return _describe(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@functools.lru_cache(maxsize=4)
def _describe(where: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", where, "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _write_json(path: str, data) -> None:
    tmp = f"{path}.{os.getpid()}.part"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)  # whole or absent: a killed campaign never leaves half a file


__all__ = ["ResultsDir", "ResultsError"]
