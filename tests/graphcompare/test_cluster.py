"""``graphcompare check --scheduler``: campaigns on Dask distributed (the ``cluster`` extra).

Small campaigns (a few programs a chunk) on a two-worker local cluster: a planted bug is found
and its chunk named; a worker killed mid-campaign has its chunk rescheduled and the campaign
ends with the right count; a chunk that dies on both tries is reported with the command that
runs it alone; the statistics equal the local process pool's. Without the flag, Dask is never
imported.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import textwrap

import pytest

from graphcompare.check import add_check_parser, run_check

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mutation import ROOT  # noqa: E402

from shared_ops import get_op  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
_GOOD_MUL_VJP = get_op("mul").vjp


def _args(*argv):
    parser = argparse.ArgumentParser(prog="graphcompare")
    add_check_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["check", *argv])


def test_the_default_path_never_imports_dask(tmp_path):
    """In process and on the local pool, a campaign runs with Dask made unimportable."""
    code = textwrap.dedent(f"""
        import sys
        sys.modules["dask"] = sys.modules["distributed"] = None  # any import of them raises
        from graphcompare.check import main
        assert main(["--examples", "2", "--no-progress", "--ways", "static"]) == 0
        assert main(["--examples", "2", "--chunk", "1", "--jobs", "2", "--no-progress", "--ways", "static"]) == 0
        loaded = [m for m in sys.modules if m.split(".")[0] in ("dask", "distributed") and sys.modules[m] is not None]
        assert not loaded, loaded
        print("no dask")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=300)
    assert out.returncode == 0 and "no dask" in out.stdout, out.stdout + out.stderr


def test_without_dask_the_scheduler_flag_names_the_cluster_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert run_check(_args("--no-progress", "--examples", "2", "--scheduler", "local:2")) == 2
    err = capsys.readouterr().err
    assert "needs Dask distributed" in err and "pip install 'graphcompare[cluster]'" in err


@pytest.mark.parametrize("argv, words", [
    (("--scheduler", "local:0"), "local:N needs a number of workers N >= 1"),
    (("--scheduler", "local:two"), "local:N needs a number of workers N >= 1"),
    (("--scheduler", "localhost"), "give a scheduler address (tcp://HOST:PORT) or local:N"),
    (("--scheduler", "local:2", "--jobs", "2"), "--jobs sizes the local process pool"),
    (("--scheduler", "tcp://127.0.0.1:9"), "cannot reach a Dask scheduler at 'tcp://127.0.0.1:9'"),
])
def test_bad_scheduler_arguments_exit_2_with_a_clear_message(argv, words, capsys, monkeypatch):
    pytest.importorskip("distributed", reason="the cluster extra is not installed")
    from graphcompare import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2)  # nothing listens on port 9 (discard)
    assert run_check(_args("--no-progress", "--examples", "2", *argv)) == 2
    assert words in capsys.readouterr().err


@pytest.fixture(scope="module")
def mods(tmp_path_factory):
    """A folder on the path of the workers (and their chunks' processes) for --import modules."""
    path = tmp_path_factory.mktemp("cluster_mods")
    sys.path.insert(0, str(path))
    yield path
    sys.path.remove(str(path))


@pytest.fixture(scope="module")
def scheduler(mods):
    """A two-worker cluster started apart from the campaign, as `dask scheduler` and `dask worker`
    would be, with the allowed-failures of a local:N cluster."""
    distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed")
    import logging

    import dask

    from graphcompare.cluster import ALLOWED_FAILURES

    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None, silence_logs=logging.CRITICAL)
    with cluster:
        yield cluster.scheduler_address


def test_a_local_dask_cluster_finds_a_planted_bug_and_names_its_seed(tmp_path, capsys, mods):
    pytest.importorskip("distributed", reason="the cluster extra is not installed")
    (mods / "plant_bug_dask.py").write_text(
        f"import sys; sys.path.insert(0, {HERE!r})\n"
        "import test_mutation\n_cm = test_mutation.wrong_vjp_sign()\n_cm.__enter__()\n")
    try:
        code = run_check(_args("--examples", "40", "--chunk", "20", "--seed", "1", "--no-progress",
                               "--scheduler", "local:2", "--ops", "mul,add,tanh", "--ways", "static,finite differences",
                               "--import", "plant_bug_dask", "--out", str(tmp_path)))
    finally:  # --import planted the bug in this process too: take it out
        sys.modules.pop("plant_bug_dask")._cm.__exit__(None, None, None)
    assert get_op("mul").vjp is _GOOD_MUL_VJP
    out = capsys.readouterr().out
    assert code == 1, out
    assert "2 chunk(s) on a local Dask cluster of 2 worker(s)" in out
    assert "FAILED (minimal program after shrinking)" in out and "finite differences" in out
    written = [f for f in os.listdir(tmp_path) if f.startswith("repro_seed")]
    assert len(written) == 1 and written[0] in ("repro_seed1000003.py", "repro_seed1000004.py"), written
    seed = written[0][len("repro_seed"):-3]
    assert (f"(the failing chunk alone: graphcompare check --examples 20 --seed {seed} --ops mul,add,tanh "
            f"--ways 'static,finite differences' --import plant_bug_dask)") in out


def test_statistics_merge_as_on_the_local_process_pool(scheduler, capsys):
    argv = ("--examples", "6", "--chunk", "3", "--seed", "2", "--no-progress", "--ways", "static,pass:fuse")
    assert run_check(_args(*argv, "--scheduler", scheduler)) == 0
    on_dask = capsys.readouterr().out
    assert run_check(_args(*argv, "--jobs", "2")) == 0
    on_pool = capsys.readouterr().out
    assert f"2 chunk(s) on Dask scheduler {scheduler}" in on_dask
    assert "programs checked      6" in on_dask
    assert on_dask.split("\n", 1)[1] == on_pool.split("\n", 1)[1]  # all but the timing line


def test_a_worker_killed_mid_campaign_has_its_chunk_rescheduled(scheduler, mods, capsys):
    killed = mods / "killed.txt"
    (mods / "kill_worker_once.py").write_text(textwrap.dedent(f"""
        import os, signal
        if "GRAPHCOMPARE_CHUNK_SEED" in os.environ:  # in a chunk's process, not in the campaign's
            try:
                fd = os.open({str(killed)!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:  # the first chunk to get here kills its Dask worker, as the OOM killer would
                os.write(fd, os.environ["GRAPHCOMPARE_CHUNK_SEED"].encode())
                os.close(fd)
                os.kill(os.getppid(), signal.SIGKILL)
                os._exit(9)
    """))
    code = run_check(_args("--examples", "6", "--chunk", "3", "--seed", "4", "--no-progress", "--ways", "static",
                           "--scheduler", scheduler, "--import", "kill_worker_once"))
    out = capsys.readouterr().out
    assert killed.read_text() in ("4000012", "4000013")  # one worker really died, in a chunk
    assert code == 0, out
    assert "programs checked      6" in out and "OK: every way agreed" in out


@pytest.mark.parametrize("how, error", [("exit", "ChunkDied: its process exited with code 3"),
                                        ("kill worker", "KilledWorker")])
def test_a_chunk_that_dies_on_both_tries_is_reported_with_its_seed(how, error, scheduler, mods, capsys):
    tries = mods / f"tries_{how.replace(' ', '_')}.txt"
    name = f"die_{how.replace(' ', '_')}"
    (mods / f"{name}.py").write_text(textwrap.dedent(f"""
        import os, signal
        if "GRAPHCOMPARE_CHUNK_SEED" in os.environ:
            with open({str(tries)!r}, "a") as f:
                f.write(os.environ["GRAPHCOMPARE_CHUNK_SEED"] + "\\n")
            if {how!r} == "kill worker":
                os.kill(os.getppid(), signal.SIGKILL)
            os._exit(3)
    """))
    code = run_check(_args("--examples", "4", "--chunk", "2", "--seed", "3", "--no-progress", "--ways", "static",
                           "--scheduler", scheduler, "--import", name))
    out = capsys.readouterr().out
    assert code == 1, out
    died = re.search(r"FAILED: the worker running the chunk with seed (3000009|3000010) died on both tries "
                     rf"\({error}.*\); run it alone to see it: graphcompare check --examples 2 --seed (\d+) "
                     rf"--ways static --import {name}$", out, re.M)
    assert died and died.group(1) == died.group(2), out
    runs = tries.read_text().split().count(died.group(1))
    if how == "exit":
        assert runs == 2  # tried, then retried once (the task's retries=1)
    else:  # the scheduler counts a death against every chunk the worker held, running or queued
        assert 1 <= runs <= 3 and "on 3 different workers" in out, out
