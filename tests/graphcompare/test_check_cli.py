"""``graphcompare check``: a small campaign passes, a planted bug fails with a reproducer file."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import pytest

from graphcompare.check import add_check_parser, run_check

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mutation import ROOT, wrong_vjp_sign  # noqa: E402  (the planted bugs live there)

from shared_ops import get_op  # noqa: E402

_GOOD_MUL_VJP = get_op("mul").vjp


def _args(*argv):
    parser = argparse.ArgumentParser(prog="graphcompare")
    add_check_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["check", *argv])


def test_a_clean_campaign_prints_the_summary(tmp_path, capsys):
    code = run_check(_args("--examples", "12", "--seed", "3", "--no-progress", "--out", str(tmp_path),
                           "--ways", "static,function,pass:cse,finite differences"))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "programs checked      12" in out
    assert "ops covered" in out and "fan-in >= 3" in out
    for way in ("static", "function", "pass:cse", "finite differences"):
        assert way in out
    assert "OK: every way agreed" in out
    assert not os.listdir(tmp_path)


def test_ops_restrict_the_campaign(capsys):
    code = run_check(_args("--examples", "5", "--ops", "exp,mul", "tanh", "--no-progress", "--ways", "static"))
    out = capsys.readouterr().out
    assert code == 0
    assert "ops covered           3/3" in out


def test_a_planted_bug_fails_with_a_minimal_reproducer(tmp_path, capsys):
    with wrong_vjp_sign():
        code = run_check(_args("--examples", "200", "--seed", "1", "--no-progress", "--out", str(tmp_path),
                               "--ways", "static,finite differences"))
    out = capsys.readouterr().out
    assert code == 1, out
    assert "FAILED (minimal program after shrinking)" in out
    assert "finite differences" in out
    path = tmp_path / "repro_seed1.py"
    assert path.exists() and f"reproducer written to {path}" in out
    # the minimal program is small: shrinking worked
    body = path.read_text().split("def model(F")[1].split("return")[0]
    assert body.count(" = ") <= 3, body
    env = dict(os.environ, PYTHONPATH=ROOT)
    planted = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); import test_mutation as m; "
               f"cm = m.wrong_vjp_sign(); cm.__enter__(); exec(open({str(path)!r}).read())")
    broken = subprocess.run([sys.executable, "-c", planted], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert broken.returncode == 1 and "AssertionError" in broken.stderr
    fixed = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert fixed.returncode == 0 and "no disagreement" in fixed.stdout


@pytest.mark.parametrize("argv, words", [
    (("--ops", "no_such_op"), "unknown or undrawable op(s) no_such_op"),
    (("--ways", "telepathy"), "unknown way(s) telepathy"),
    (("--examples", "0"), "--examples must be at least 1"),
    (("--jobs", "0"), "--jobs must be at least 1 (got 0)"),
    (("--chunk", "-5"), "--chunk must be at least 1 (got -5)"),
])
def test_bad_arguments_exit_2_with_a_clear_message(argv, words, capsys):
    assert run_check(_args("--no-progress", *argv)) == 2
    assert words in capsys.readouterr().err


def test_cupy_backend_without_cuda_is_a_clear_error(capsys):
    try:
        import cupy  # noqa: F401

        cupy.cuda.runtime.getDeviceCount()
        pytest.skip("CuPy with a CUDA device is present: the GPU campaign is exercised on the device machine")
    except Exception:  # noqa: BLE001 - no CuPy or no device: the case under test
        pass
    assert run_check(_args("--no-progress", "--backend", "cupy", "--examples", "1")) == 2
    assert "cupy" in capsys.readouterr().err.lower()


def test_the_module_runs_as_a_script(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-m", "graphcompare.check", "--examples", "3", "--no-progress",
                          "--ways", "static"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "programs checked      3" in out.stdout


def test_chunks_split_the_campaign_and_keep_the_seed_of_a_single_one():
    from graphcompare.check import _chunks

    assert _chunks(200, 500, 7, 1) == [(7, 200)]  # the in-process campaign, as before
    assert _chunks(1001, 500, 7, 1) == [(7000021, 500), (7000022, 500), (7000023, 1)]
    assert _chunks(10, 500, 7, 2) == [(7000021, 10)]
    assert sum(n for _, n in _chunks(10_000, 500, 0, 2)) == 10_000
    # a longer campaign starts with the same chunks (what a results directory resumes and extends)
    assert _chunks(2000, 500, 7, 1)[:2] == _chunks(1001, 500, 7, 2)[:2]


def test_chunked_campaign_in_worker_processes_finds_a_planted_bug(tmp_path, capsys, monkeypatch):
    """--jobs 2: chunks run in fresh processes, which import --import modules (here one that
    plants a wrong gradient rule); the failing chunk's reproducer is written and named."""
    (tmp_path / "plant_bug.py").write_text(
        f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "import test_mutation\n_cm = test_mutation.wrong_vjp_sign()\n_cm.__enter__()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), ROOT, os.environ.get("PYTHONPATH", "")]))
    try:
        code = run_check(_args("--examples", "120", "--chunk", "60", "--jobs", "2", "--seed", "1", "--no-progress",
                               "--ways", "static,finite differences", "--import", "plant_bug", "--out", str(tmp_path)))
    finally:  # --import planted the bug in this process too: take it out
        sys.modules.pop("plant_bug")._cm.__exit__(None, None, None)
    assert get_op("mul").vjp is _GOOD_MUL_VJP
    out = capsys.readouterr().out
    assert code == 1, out
    assert "2 chunk(s) on 2 process(es)" in out and "FAILED (minimal program after shrinking)" in out
    written = [f for f in os.listdir(tmp_path) if f.startswith("repro_seed")]
    assert len(written) == 1 and written[0] in ("repro_seed1000003.py", "repro_seed1000004.py"), written
    assert "(the failing chunk alone: graphcompare check --examples 60 --seed 100000" in out


def test_chunked_campaign_agrees_and_merges_statistics(capsys):
    code = run_check(_args("--examples", "6", "--chunk", "3", "--jobs", "2", "--seed", "2", "--no-progress",
                           "--ways", "static,pass:fuse"))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "programs checked      6" in out and "2 chunk(s) on 2 process(es)" in out
    assert "OK: every way agreed on every program." in out


def test_a_worker_that_dies_is_reported_not_waited_for(tmp_path, capsys, monkeypatch):
    (tmp_path / "die_in_worker.py").write_text(
        "import multiprocessing, os\n"
        "if multiprocessing.parent_process() is not None:\n"
        "    os._exit(3)  # a crash in a worker (as a segfault in compiled code would be)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), ROOT, os.environ.get("PYTHONPATH", "")]))
    code = run_check(_args("--examples", "4", "--chunk", "2", "--jobs", "2", "--seed", "3", "--no-progress",
                           "--ways", "static", "--import", "die_in_worker", "--out", str(tmp_path)))
    sys.modules.pop("die_in_worker", None)
    out = capsys.readouterr().out
    assert code == 1, out
    died = re.search(r"FAILED: the worker running the chunk with seed (3000009|3000010) died \(exit code 3\); "
                     r"run it alone to see it: graphcompare check --examples 2 --seed (\d+)", out)
    assert died and died.group(1) == died.group(2), out
