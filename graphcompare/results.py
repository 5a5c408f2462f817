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
import sys
from collections import Counter

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
        if spec.control != 8:  # a campaign of the default draw keeps the manifest it always had
            self.manifest["control"] = spec.control

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
            mine, old = dict(self.manifest), dict(old)
            mine.setdefault("control", 8)
            old.setdefault("control", 8)
            diff = [k for k in mine if old.get(k) != mine[k]]
            if diff:
                said = "; ".join(f"{k} {old.get(k)!r} there, {mine[k]!r} now" for k in diff)
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


def status(path: str, drawable: list, out) -> int:
    """``graphcompare check --results DIR --status``: the totals of every chunk file in ``DIR``,
    read only (a campaign may be running there): programs, CPU hours, op coverage with the
    rarest ops, the code versions the chunks ran, and each disagreement with its chunk's code
    version. Exit code 0, or 1 while any disagreement is recorded; 2 for no campaign there."""
    try:
        with open(os.path.join(path, "campaign.json")) as f:
            manifest = json.load(f)
        names = sorted(n for n in os.listdir(os.path.join(path, "chunks")) if n.endswith(".json"))
    except (OSError, ValueError) as exc:
        print(f"graphcompare check: --results {path} holds no readable campaign ({exc})", file=sys.stderr)
        return 2
    camp, versions, code_of = Campaign(), Counter(), {}
    for name in names:
        try:
            with open(os.path.join(path, "chunks", name)) as f:
                data = json.load(f)
            part = Campaign.from_dict(data["stats"])
        except (OSError, ValueError, KeyError) as exc:
            print(f"graphcompare check: chunk file {name} is unreadable ({exc}); delete it to run that chunk again",
                  file=sys.stderr)
            return 2
        camp.merge(part)
        code_of[data["seed"]] = data.get("code") or "not recorded"
        versions[code_of[data["seed"]]] += part.programs
    print(f"graphcompare check: results in {path}: {len(names)} chunk(s) of {manifest['chunk']} done, seed "
          f"{manifest['seed']}; {camp.programs} programs; CPU {camp.cpu_s / 3600:.3f} h over the chunks' processes "
          f"({camp.cpu_s / max(camp.programs, 1):.3f} CPU s a program)", file=out)
    print("code versions (programs): " + ", ".join(f"{v} {n}" for v, n in versions.items()), file=out)
    rare = sorted(camp.ops.items(), key=lambda kv: (kv[1], kv[0]))[:8]
    print("rarest ops (times drawn): " + ", ".join(f"{op} {n}" for op, n in rare), file=out)
    print(camp.table(drawable, tuple(manifest["ways"])), file=out)
    for d in camp.disagreements:
        repro = f"; reproducer {os.path.join(path, d['reproducer'])}" if d.get("reproducer") else ""
        print(f"\nDISAGREEMENT (chunk seed {d['seed']}, program {d['index']}, code {code_of.get(d['seed'])}{repro}):",
              file=out)
        for line in d["differences"]:
            print(f"  {line}", file=out)
    return 1 if camp.disagreements else 0


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


__all__ = ["ResultsDir", "ResultsError", "status"]
