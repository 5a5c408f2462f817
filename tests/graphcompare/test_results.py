"""``graphcompare check --results DIR``: a killed campaign resumes, and its totals equal an
uninterrupted run's; disagreements are recorded and the campaign goes on; another campaign's
directory is refused."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

from graphcompare.check import add_check_parser, run_check

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mutation import ROOT  # noqa: E402

from shared_ops import get_op  # noqa: E402

CAMPAIGN = ("--examples", "6", "--chunk", "2", "--seed", "11", "--ways", "static,pass:cse", "--no-progress")


def _args(*argv):
    parser = argparse.ArgumentParser(prog="graphcompare")
    add_check_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["check", *argv])


def _cli(*argv, **kw):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-m", "graphcompare", "check", *argv], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True, **kw)


def _totals(out: str) -> str:
    """The summary without its first line (times and this run's chunk count)."""
    return out.split("\n", 1)[1]


def test_a_killed_campaign_resumes_and_its_totals_equal_an_uninterrupted_one(tmp_path):
    whole = _cli(*CAMPAIGN, "--results", str(tmp_path / "whole"))
    killed = _cli(*CAMPAIGN, "--results", str(tmp_path / "killed"))
    chunks = tmp_path / "killed" / "chunks"
    deadline = time.monotonic() + 300
    while not (chunks.exists() and any(f.suffix == ".json" for f in chunks.iterdir())):
        assert killed.poll() is None and time.monotonic() < deadline, "no chunk was written"
        time.sleep(0.2)
    os.killpg(killed.pid, signal.SIGKILL)  # the campaign and its running chunk's process
    killed.wait()
    first = sorted(f.name for f in chunks.iterdir())
    assert 1 <= len(first) < 3 and all(f.endswith(".json") for f in first), first  # no half-written file
    out_whole = whole.communicate(timeout=600)[0]
    resumed = _cli(*CAMPAIGN, "--results", str(tmp_path / "killed"))
    out_resumed = resumed.communicate(timeout=600)[0]
    assert whole.returncode == 0 and resumed.returncode == 0, out_whole + out_resumed
    assert f"3/3 chunk(s) of 2 done ({3 - len(first)} in this run" in out_resumed
    assert _totals(out_resumed) == _totals(out_whole)
    assert "programs checked      6" in out_resumed
    # each chunk drew the same programs in both directories, and says which code ran it
    for name in os.listdir(chunks):
        assert json.loads((chunks / name).read_text())["code"]  # the worktree is a git checkout
        a, b = (json.loads((tmp_path / d / "chunks" / name).read_text())["stats"]["digests"] for d in ("whole", "killed"))
        assert a == b
    # nothing left to run: the same totals again, at once
    again = _cli(*CAMPAIGN, "--results", str(tmp_path / "killed"))
    out_again = again.communicate(timeout=600)[0]
    assert "(0 in this run, " in out_again and _totals(out_again) == _totals(out_whole)


def test_disagreements_are_recorded_with_reproducers_and_the_campaign_goes_on(tmp_path, capsys, monkeypatch):
    good = get_op("mul").vjp
    (tmp_path / "plant_bug.py").write_text(
        f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "import test_mutation\n_cm = test_mutation.wrong_vjp_sign()\n_cm.__enter__()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), ROOT, os.environ.get("PYTHONPATH", "")]))
    results = tmp_path / "res"
    code = run_check(_args("--examples", "16", "--chunk", "8", "--seed", "1", "--no-progress", "--ops", "mul,add,tanh",
                           "--ways", "static,finite differences", "--import", "plant_bug", "--results", str(results)))
    sys.modules.pop("plant_bug")._cm.__exit__(None, None, None)
    assert get_op("mul").vjp is good
    out = capsys.readouterr().out
    assert code == 1, out
    assert "2/2 chunk(s) of 8 done" in out  # both chunks ran to their end
    found = int(out.split("disagreements         ")[1].split()[0])
    assert found >= 2 and out.count("DISAGREEMENT (chunk seed 100000") == found
    assert "finite differences: direction" in out
    repros = sorted(os.listdir(results / "failures"))
    assert len(repros) == found and all(r.startswith("repro_seed100000") for r in repros)
    assert "def model(F" in (results / "failures" / repros[0]).read_text()


def test_a_directory_of_another_campaign_is_refused(tmp_path, capsys):
    results = str(tmp_path / "res")
    assert run_check(_args("--examples", "2", "--seed", "4", "--ways", "static", "--no-progress", "--results", results)) == 0
    assert run_check(_args("--examples", "2", "--seed", "5", "--ways", "static", "--no-progress", "--results", results)) == 2
    err = capsys.readouterr().err
    assert f"--results {results} holds another campaign (seed 4 there, 5 now)" in err
    (tmp_path / "res" / "campaign.json").write_text("{not json")
    assert run_check(_args("--examples", "2", "--seed", "4", "--ways", "static", "--no-progress", "--results", results)) == 2
    assert "cannot read campaign.json" in capsys.readouterr().err
