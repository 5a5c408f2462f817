"""``graphcompare check --results DIR --status``: a campaign's totals read from its chunk files
only (a campaign may be running there), with the code version of each disagreement's chunk."""

from __future__ import annotations

import argparse
import json
from collections import Counter

from graphcompare.campaign import Campaign
from graphcompare.check import add_check_parser, run_check
from graphcompare.optable import drawable_ops
from graphcompare.results import ResultsDir


def _args(*argv):
    parser = argparse.ArgumentParser(prog="graphcompare")
    add_check_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["check", *argv])


def _chunk(rd, seed, code, programs, ops, cpu, disagreements=()):
    camp = Campaign(programs=programs, rejected=1, ops=Counter(ops), worst={"static": (0.0, 0)}, cpu_s=cpu,
                    disagreements=[{"seed": seed, "index": k, "differences": [f"static: grad x0 is {k} ULP off"]}
                                   for k in disagreements])
    rd.save(seed, programs, camp)
    path = rd._file(seed, programs)
    data = json.load(open(path))
    data["code"] = code  # the version a long campaign's chunks ran (several, when it was resumed)
    json.dump(data, open(path, "w"))


def _results(tmp_path):
    from graphcompare.campaign import ChunkSpec

    spec = ChunkSpec(ops=None, ways=("static",), max_steps=8, imports=(), backend="numpy", ways_flag="static",
                     keep_going=True)
    return ResultsDir(str(tmp_path / "res"), 17, 4, spec).open()


def test_status_sums_the_chunk_files_and_names_each_disagreements_code_version(tmp_path, capsys):
    rd = _results(tmp_path)
    _chunk(rd, 17000051, "aaaa111", 4, {"add": 3, "exp": 1}, 30.0)
    _chunk(rd, 17000052, "bbbb222", 4, {"add": 2, "mul": 4}, 42.0, disagreements=[2])
    assert run_check(_args("--results", str(tmp_path / "res"), "--status")) == 1
    out = capsys.readouterr().out
    assert "2 chunk(s) of 4 done, seed 17; 8 programs; CPU 0.020 h" in out and "(9.000 CPU s a program)" in out
    assert "code versions (programs): aaaa111 4, bbbb222 4" in out
    assert "rarest ops (times drawn): exp 1, mul 4, add 5" in out
    assert f"ops covered           3/{len(drawable_ops())}" in out
    assert "DISAGREEMENT (chunk seed 17000052, program 2, code bbbb222):" in out
    assert "  static: grad x0 is 2 ULP off" in out


def test_status_without_disagreements_exits_0_and_refuses_bad_input(tmp_path, capsys):
    rd = _results(tmp_path)
    _chunk(rd, 17000051, "aaaa111", 4, {"add": 3}, 30.0)
    assert run_check(_args("--results", str(tmp_path / "res"), "--status")) == 0
    assert "DISAGREEMENT" not in capsys.readouterr().out
    assert run_check(_args("--status")) == 2
    assert "--status reads a campaign's results: give --results DIR" in capsys.readouterr().err
    assert run_check(_args("--results", str(tmp_path / "none"), "--status")) == 2
    assert f"--results {tmp_path / 'none'} holds no readable campaign" in capsys.readouterr().err
    (tmp_path / "res" / "chunks" / "17000052-4.json").write_text("{half")
    assert run_check(_args("--results", str(tmp_path / "res"), "--status")) == 2
    assert "chunk file 17000052-4.json is unreadable" in capsys.readouterr().err
