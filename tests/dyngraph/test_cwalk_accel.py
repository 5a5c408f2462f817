"""The compiled accelerator's switch (``dyngraph._accel``): where a compiled module is used, where
it is refused (stale, absent, ``DYNGRAPH_PURE=1``) and the engine walks in Python, and the pure
path kept covered in CI by a subprocess. The differential tests are in ``test_cwalk.py``."""

from __future__ import annotations

import sys

import pytest

from dyngraph import _accel, engine

from cwalk_switch import fan as _fan, C, compiled_only, walking  # tests/dyngraph is on sys.path


def bits(t):
    return None if t is None else t.numpy().tobytes()


def test_the_compiled_walk_runs_where_it_is_loaded():
    assert (C is not None) == ("_cwalk" in _accel.accelerated())
    if C is not None:
        assert C.SOURCE_HASH == _accel._source_hash("_cwalk")


def test_a_stale_module_is_refused_with_a_warning(monkeypatch):
    pytest.importorskip("dyngraph._cwalk")
    monkeypatch.setattr(_accel, "PURE", False)
    monkeypatch.setattr(_accel, "_source_hash", lambda name: "0" * 16)
    with pytest.warns(RuntimeWarning, match=r"dyngraph\._cwalk was built from another version.*python setup.py build_ext"):
        assert _accel.load("_cwalk") is None


def test_an_absent_or_switched_off_module_gives_the_python_walk(monkeypatch):
    import importlib

    monkeypatch.setattr(_accel, "PURE", True)
    assert _accel.load("_cwalk") is None
    monkeypatch.setattr(_accel, "PURE", False)

    def missing(name):
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", missing)
    assert _accel.load("_cwalk") is None
    with walking(False):  # and the engine then walks in Python, with the same results
        roots, leaves = _fan()
        roots[0].backward()
        assert leaves[0].grad is not None


@compiled_only
def test_setup_refuses_what_it_cannot_read_and_keeps_working():
    with pytest.raises(TypeError, match="needs Node, a class"):
        C.setup(Node=1)

    class Loose:
        pass

    kw = {"Node": Loose}
    with pytest.raises(TypeError, match="Node.op must be a writable __slots__ field"):
        C.setup(**kw)
    roots, leaves = _fan()
    roots[0].backward()  # the refused setups left the module as it was
    with walking(False):
        again, more = _fan()
        again[0].backward()
    assert bits(leaves[0].grad) == bits(more[0].grad)


def test_the_pure_python_path_still_passes_the_key_tests():
    """CI builds the compiled walk; this keeps the Python twin covered there: a few key tests
    of the engine run again in a fresh process with ``DYNGRAPH_PURE=1``."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, DYNGRAPH_PURE="1", PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    code = ("import dyngraph.engine as e, sys, pytest; assert e.CWALK is None, 'DYNGRAPH_PURE=1 left the compiled walk on'; "
            "sys.exit(pytest.main(['-q', '-x', '-p', 'no:cacheprovider', *sys.argv[1:]]))")
    files = ["test_engine.py", "test_mutants_engine.py", "test_basics.py", "test_inplace.py"]
    r = subprocess.run([sys.executable, "-c", code, *(str(root / "tests" / "dyngraph" / f) for f in files)],
                       check=False, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " passed" in r.stdout


def test_an_edited_header_makes_the_module_stale(monkeypatch, tmp_path):
    import shutil

    for f in _accel._HERE.glob("_cwalk*.[ch]"):
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setattr(_accel, "_HERE", tmp_path)
    before = _accel._source_hash("_cwalk")
    assert before == _accel._source_hash("_cwalk") and len(list(tmp_path.glob("_cwalk_*.h"))) >= 1
    header = next(iter(sorted(tmp_path.glob("_cwalk_*.h"))))
    header.write_text(header.read_text() + "\n/* edited */\n")
    assert _accel._source_hash("_cwalk") != before


@compiled_only
def test_classes_the_walk_cannot_read_give_the_python_walk_with_a_warning(monkeypatch):
    from dyngraph import node

    class Reshaped:  # a Node whose fields are no longer slots
        pass

    monkeypatch.setattr(_accel, "LOADED", dict(_accel.LOADED))
    monkeypatch.setattr(node, "Node", Reshaped)
    with pytest.warns(RuntimeWarning, match=r"dyngraph\._cwalk cannot read dyngraph's classes .*Node\.op"):
        assert engine._compiled() is None
    assert "_cwalk" not in _accel.accelerated()
    monkeypatch.undo()
    roots, leaves = _fan()  # the refused setup left the module as it was
    roots[0].backward()
    assert leaves[0].grad is not None and engine.CWALK is C
