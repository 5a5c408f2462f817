"""``graphcompare run``: arguments reach the harness, bad input is a clear error, help works."""

from __future__ import annotations

import subprocess
import sys

import pytest

from graphcompare import cli


def test_run_arguments_reach_the_harness(monkeypatch, tmp_path):
    seen = {}

    def fake_run_suite(cfg, out, command, progress, pin_cpu):
        seen.update(cfg=cfg, out=out, command=command, progress=progress, pin_cpu=pin_cpu)
        return {"main": [], "plots": {}}

    import graphcompare.experiments as ex

    monkeypatch.setattr(ex, "run_suite", fake_run_suite)
    rc = cli.main(["run", "--quick", "--out", str(tmp_path / "r"), "--seed", "7", "--no-progress", "--no-pin"])
    assert rc == 0
    assert seen["cfg"].name == "quick" and seen["cfg"].seed == 7 and seen["cfg"].backend == "numpy"
    assert seen["out"] == str(tmp_path / "r")
    assert seen["command"] == f"graphcompare run --quick --out {tmp_path / 'r'} --seed 7 --no-progress --no-pin"
    assert seen["progress"] is False and seen["pin_cpu"] is False
    cli.main(["run", "--out", str(tmp_path)])
    assert seen["cfg"].name == "standard" and seen["progress"] is True and seen["pin_cpu"] is True


def test_quick_and_suite_are_exclusive(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--quick", "--suite", "tiny"])
    assert e.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_unusable_backend_is_a_clear_error(capsys, tmp_path, monkeypatch):
    """On a machine without CuPy (made so here, whatever the machine) ``--backend cupy`` stops at
    once with the backend's own message, and writes nothing."""
    import shared_ops
    from shared_ops.errors import BackendError

    def no_cupy(name):
        raise BackendError("the CuPy backend was asked for but CuPy is not installed")

    monkeypatch.setattr(shared_ops, "get_backend", no_cupy)
    rc = cli.main(["run", "--backend", "cupy", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "backend 'cupy' is not usable here" in err and "CuPy is not installed" in err
    assert not (tmp_path / "r").exists()


def test_help_lists_both_subcommands():
    proc = subprocess.run([sys.executable, "-m", "graphcompare", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "run" in proc.stdout and "check" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "graphcompare", "run", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    for flag in ("--quick", "--backend", "--out", "--seed"):
        assert flag in proc.stdout
