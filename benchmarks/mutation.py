"""The suite's mutation score: cosmic-ray over ``shared_ops/ops/``, ``staticgraph/passes/`` and
dyngraph's engine (``engine.py``, ``autograd.py``), each module against the tests that cover it.

    python benchmarks/mutation.py init [--work DIR] [--sample N] [--seed S] [--groups ops,passes,engine]
    nice -n 19 python benchmarks/mutation.py run [--work DIR] [--minutes M]
    python benchmarks/mutation.py extend --sample N [--seed S]   # a larger sample, a superset
    python benchmarks/mutation.py report [--work DIR]
    python benchmarks/mutation.py reset-survivors [--work DIR]   # then run again: the new tests

``init`` copies this worktree's files (committed or not) to ``DIR/src``, makes one cosmic-ray
session per module and keeps a random sample of ``N`` mutants per group, spread over its
modules in proportion to their mutants (seeded; the rest are marked skipped). ``run`` executes
the pending mutants in the copy (never in the worktree) until done or ``M`` minutes pass.
``report`` prints killed / survived per module and the score, counting as equivalent the
mutants listed in ``benchmarks/mutation_equivalent.json`` (each with its reason), and writes
every other survivor with its diff to ``DIR/survivors.md``.

Why cosmic-ray and not mutmut: mutmut 3 mutates only the bodies of ``def`` functions (it
swaps each function for a trampoline), and the gradient rules here are lambdas inside
module-level ``register(...)`` calls, which it never mutates; cosmic-ray mutates any node of
a module's AST, works on this layout (plain packages, tests in ``tests/``) under Python 3.11,
and runs any test command per mutant.

Per mutant the command is ``mutation.py test MODULE``: stage 1 runs the tests that cover the
module (the op suite for that module's ops, the pass tests, the engine tests) with the
hypothesis ``mutation`` profile (few examples, derandomized: a mutant's verdict repeats);
only a stage-1 survivor runs stage 2, a few broader files (the PyTorch oracle, the
comparison with dyngraph, in-place and random graphs). Both run in a child
forked from a server that has imported pytest, NumPy, numba, hypothesis and torch once, so a
mutant costs its tests, not the interpreter's start; the child imports the project from the
mutated files.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {
    "ops": sorted(str(p.relative_to(ROOT)) for p in (ROOT / "shared_ops" / "ops").glob("*.py")
                  if p.name != "__init__.py" and not p.name.startswith("_examples")),  # the suite's own inputs
    "passes": sorted(str(p.relative_to(ROOT)) for p in (ROOT / "staticgraph" / "passes").glob("*.py")),
    "engine": ["dyngraph/engine.py", "dyngraph/autograd.py"],  # the walk, and its roots and dependency counts
}
# a helper module's mutants run the suite of the ops of the modules that import it
HELPER_OF = {"shared_ops/ops/_index.py": "shared_ops/ops/shape.py"}
TIMEOUT = 240  # seconds per mutant; a mutant that hangs a test is killed
EQUIVALENT = ROOT / "benchmarks" / "mutation_equivalent.json"


def stages(module: str, ops_map: dict) -> list:
    """The pytest arguments of stage 1 and stage 2 for a mutant of ``module``."""
    if module.startswith("shared_ops/ops/"):
        owner = HELPER_OF.get(module, module)
        names = ops_map.get(owner[:-3].replace("/", ".")) or ops_map["*"]  # a helper used by all: every op
        first = [f"tests/shared_ops/test_op_suite.py::test_every_registered_op[{n}-numpy]" for n in names]
        first += sorted(str(p) for p in Path("tests/shared_ops").glob("test_mutants_*.py"))  # the killers
        oracle = [f"tests/shared_ops/test_torch_oracle.py::test_forward_and_vjp_match_pytorch[{n}]" for n in names]
        return [first, [*oracle, "tests/shared_ops/test_semantics.py", "tests/shared_ops/test_op_traits.py"]]
    if module.startswith("staticgraph/passes/"):
        first = ["tests/staticgraph/test_passes.py", "tests/staticgraph/test_passes_random.py",
                 *sorted(str(p) for p in Path("tests/staticgraph").glob("test_mutants_*.py"))]
        if module.endswith("fuse.py"):
            first += ["tests/staticgraph/test_fusion.py", "tests/staticgraph/test_fusion_cost.py",
                      "tests/staticgraph/test_fuse_cycles.py"]
        if module.endswith("simplify.py"):
            first.append("tests/staticgraph/test_simplify_rules.py")  # each rule alone, on and off
        first = [f for f in first if Path(f).exists()]  # the copy's tests: a file added since init is not there
        return [first, ["tests/staticgraph/test_vs_dyngraph.py", "tests/staticgraph/test_compile.py"]]
    return [["tests/dyngraph/test_engine.py", "tests/dyngraph/test_basics.py",
             *sorted(str(p) for p in Path("tests/dyngraph").glob("test_mutants_*.py"))],
            ["tests/dyngraph/test_inplace.py", "tests/dyngraph/test_random_graphs.py"]]


# --------------------------------------------------------------------------- init


def _copy_worktree(src: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    shutil.rmtree(src, ignore_errors=True)
    for f in files:
        if (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, src / f)


def _ops_map(src: Path) -> dict:
    code = ("import json, shared_ops as so; m = {}\n"
            "for op in so.all_ops():\n"
            "    for f in (op.forward, op.vjp, op.infer):\n"
            "        mod = getattr(f, '__module__', '') or ''\n"
            "        if mod.startswith('shared_ops.ops') and op.name not in m.setdefault(mod, []): m[mod].append(op.name)\n"
            "m['*'] = [op.name for op in so.all_ops()]\nprint(json.dumps(m))")
    out = subprocess.run([sys.executable, "-c", code], cwd=src, env=_env(src), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _env(src: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(src), HYPOTHESIS_PROFILE="mutation", GRAPHCOMPARE_CACHE=str(src.parent / "fusion"),
                OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


def _session(work: Path, module: str) -> tuple:
    name = module.replace("/", "_")[:-3]
    return work / "sessions" / f"{name}.toml", work / "sessions" / f"{name}.sqlite"


def init(work: Path, sample: int, seed: int, groups: list) -> None:
    from cosmic_ray.work_db import WorkDB, use_db

    src = work / "src"
    _copy_worktree(src)
    _copy_worktree(work / "pristine")  # what _check_pristine puts back
    (work / "sessions").mkdir(parents=True, exist_ok=True)
    (work / "ops_by_module.json").write_text(json.dumps(_ops_map(src), indent=1))
    for group in groups:
        counts = {}
        for module in GROUPS[group]:
            cfg, db = _session(work, module)
            cmd = f"{sys.executable} {src / 'benchmarks' / 'mutation.py'} test {module} --work {work}"
            cfg.write_text(f'[cosmic-ray]\nmodule-path = "{module}"\ntimeout = {TIMEOUT}.0\nexcluded-modules = []\n'
                           f'test-command = "{cmd}"\n\n[cosmic-ray.distributor]\nname = "local"\n')
            db.unlink(missing_ok=True)
            subprocess.run(["cosmic-ray", "init", str(cfg), str(db)], cwd=src, env=_env(src), check=True)
            with use_db(str(db), WorkDB.Mode.open) as wdb:
                counts[module] = wdb.num_work_items
        print(f"{group}: {sum(counts.values())} mutants")
    _sample(work, groups, sample, seed)


def _sample(work: Path, groups: list, sample: int, seed: int) -> None:
    """Keep ``sample`` mutants per group pending (spread over its modules in proportion to their
    mutants) and mark the rest skipped. Each module's mutants are taken in one seeded order, so a
    larger ``sample`` with the same seed keeps a superset: ``extend`` grows a sample that ran
    without re-running what it has."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    for group in groups:
        counts = {}
        for module in GROUPS[group]:
            db = _session(work, module)[1]
            if db.exists():
                with use_db(str(db), WorkDB.Mode.open) as wdb:
                    counts[module] = wdb.num_work_items
        total = sum(counts.values())
        for module, n in counts.items():
            keep = n if sample <= 0 else min(n, max(1, round(sample * n / total)))
            db = _session(work, module)[1]
            with use_db(str(db), WorkDB.Mode.open) as wdb:
                # ordered by what is mutated, not by the job ids (random at each init): the same
                # code and seed give the same sample
                items = sorted(wdb.work_items, key=lambda i: (i.mutations[0].operator_name, i.mutations[0].occurrence))
                order = [item.job_id for item in items]
                random.Random(f"{seed}:{module}").shuffle(order)
                done = {item.job_id: result.output for item, result in wdb.completed_work_items}
                for job in order[keep:]:
                    if job not in done:
                        wdb.set_result(job, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="not sampled"))
            again = [(job,) for job in order[:keep] if done.get(job) == "not sampled"]
            if again:  # skipped by a smaller sample: pending again
                with sqlite3.connect(db) as con:
                    con.executemany("DELETE FROM work_results WHERE job_id = ?", again)
            print(f"{module:<34} {n:>5} mutants, {keep:>4} sampled")


# --------------------------------------------------------------------------- the fork server


def serve(work: Path) -> None:
    """Import the heavy dependencies once, then fork a child per request that runs the stages."""
    import hypothesis  # noqa: F401
    import numba  # noqa: F401
    import numpy  # noqa: F401
    import pytest

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    src = work / "src"
    ops_map = json.loads((work / "ops_by_module.json").read_text())
    path = work / "server.sock"
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)
    os.environ.update(_env(src))
    while True:
        conn, _ = server.accept()
        module = conn.recv(4096).decode()
        if module == "stop":
            conn.close()
            break
        pid = os.fork()
        if pid == 0:  # the child: the project is imported here, from the (mutated) files
            os.chdir(src)
            sys.path.insert(0, str(src))
            code = 0
            for args in stages(module, ops_map):
                code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=", *args])
                if code != 0:
                    break
            os._exit(int(code))
        deadline = time.monotonic() + TIMEOUT - 10
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                code = 124
                break
            time.sleep(0.05)
        conn.sendall(str(code).encode())
        conn.close()


def test(work: Path, module: str) -> int:
    """The test command cosmic-ray runs per mutant: 0 when every test passed (it survived)."""
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(work / "server.sock"))
    client.sendall(module.encode())
    code = int(client.recv(64).decode() or 1)
    print(f"tests of {module}: exit code {code}")
    return 0 if code == 0 else 1


# --------------------------------------------------------------------------- run and report


def run(work: Path, minutes: float, groups: list) -> None:
    src = work / "src"
    _check_pristine(src)
    for test in [ROOT / "tests" / "conftest.py", *ROOT.glob("tests/*/test_mutants_*.py")]:
        shutil.copy2(test, src / test.relative_to(ROOT))  # the newest killing tests, the modules as at init
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=False)
    server = subprocess.Popen([sys.executable, __file__, "serve", "--work", str(work)], env=_env(src))
    deadline = time.monotonic() + 60 * minutes
    try:
        while not (work / "server.sock").exists():
            time.sleep(0.2)
        for group in groups:
            for module in GROUPS[group]:
                cfg, db = _session(work, module)
                if not cfg.exists():  # a module added since init
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    print("out of time: the remaining mutants stay pending (run again to go on)")
                    return
                proc = subprocess.Popen(["cosmic-ray", "exec", str(cfg), str(db)], cwd=src, env=_env(src),
                                        preexec_fn=_default_sigint)
                try:
                    proc.wait(timeout=left)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGINT)  # cosmic-ray puts the mutated file back on an interrupt
                    proc.wait()
    finally:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(work / "server.sock"))
            s.sendall(b"stop")
        server.wait()
        _check_pristine(src)


def reset_survivors(work: Path) -> None:
    """Make every non-equivalent survivor pending again, for ``run`` to test it against the
    tests written since (the modules stay as they were at init)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from mutation_report import annotation_only, mutant_key

    equivalent = json.loads(EQUIVALENT.read_text()) if EQUIVALENT.exists() else {}

    def known(path, row, name, diff):
        key = mutant_key(path, name, diff or "")
        return key in equivalent or annotation_only((work / "pristine" / path).read_text(), row, key.rsplit(" => ", 1)[1])

    for db in sorted((work / "sessions").glob("*.sqlite")):
        con = sqlite3.connect(db)
        rows = con.execute("SELECT r.job_id, m.module_path, m.start_pos_row, m.operator_name, r.diff "
                           "FROM work_results r JOIN mutation_specs m ON m.job_id = r.job_id "
                           "WHERE upper(r.test_outcome) = 'SURVIVED'").fetchall()
        again = [job for job, path, row, name, diff in rows if not known(path, row, name, diff)]
        con.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in again])
        con.commit()
        con.close()
        if again:
            print(f"{db.stem}: {len(again)} survivor(s) pending again")


def _default_sigint() -> None:
    # a job started in the background by a shell ignores SIGINT, and so would its children:
    # cosmic-ray must take it, to put the mutated file back before it stops
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _check_pristine(src: Path) -> None:
    """The copy's sources equal the ones copied at init (a mutant left behind would poison a rerun)."""
    pristine = src.parent / "pristine"
    for module in (m for ms in GROUPS.values() for m in ms):
        if (pristine / module).exists() and (src / module).read_bytes() != (pristine / module).read_bytes():
            shutil.copy2(pristine / module, src / module)
            print(f"restored {module} in the copy")


def report(work: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from mutation_report import report as _report

    return _report(work, GROUPS, _session, EQUIVALENT)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("init", "extend", "run", "report", "reset-survivors", "serve", "test"))
    p.add_argument("module", nargs="?", help="(test) the mutated module")
    p.add_argument("--work", type=Path, default=Path("/tmp/graphcompare-mutation"))
    p.add_argument("--sample", type=int, default=300, help="(init) mutants kept per group; 0: all")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--groups", default="ops,passes,engine")
    p.add_argument("--minutes", type=float, default=60.0)
    a = p.parse_args(argv)
    groups = a.groups.split(",")
    if a.command == "init":
        init(a.work, a.sample, a.seed, groups)
    elif a.command == "run":
        run(a.work, a.minutes, groups)
    elif a.command == "report":
        report(a.work)
    elif a.command == "extend":
        _sample(a.work, groups, a.sample, a.seed)
    elif a.command == "reset-survivors":
        reset_survivors(a.work)
    elif a.command == "serve":
        serve(a.work)
    else:
        return test(a.work, a.module)
    return 0


if __name__ == "__main__":
    sys.exit(main())
