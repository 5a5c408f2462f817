"""The promise itself: on random programs both front ends give the same gradients.

dyngraph vs staticgraph ``optimize=False`` and ``sg.function``: bitwise. Each pass alone and
all passes: within the tolerance of ``graphcompare.equivalence``. The float64 reference:
against finite differences and PyTorch.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings

from graphcompare import _runners as R
from graphcompare.equivalence import check_model, check_program, default_ways
from graphcompare.program import Leaf, Program, Step
from graphcompare.strategies import programs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@given(programs())
def test_every_way_agrees_on_random_programs(prog):
    res = check_program(prog)
    assume(res.valid)
    assert res.ok, res.report()


@settings(max_examples=settings.default.max_examples * 5)  # thorough: 10,000 programs
@given(programs(max_steps=10))
def test_optimize_false_is_bitwise_equal(prog):
    res = check_program(prog, ways=("static", "function"))
    assume(res.valid)
    assert res.ok, res.report()


def _program(steps, leaves):
    """A hand-written program: ``leaves`` as arrays, ``steps`` as (op, args, params, shape, dtype)."""
    nodes = [Leaf(a.shape, a.dtype.name, a) for a in leaves] + [Step(*s) for s in steps]
    used = {a for s in steps for a in s[1]}
    outputs = tuple(i for i in range(len(leaves), len(nodes)) if i not in used)
    weights = tuple(np.ones(nodes[i].shape) for i in outputs)
    return Program(nodes, outputs, weights)


def _fan_in_program():
    x = np.array([[0.5, -1.25, 1.5], [0.75, 1.0, -0.3]], dtype=np.float32)
    y = np.array([1.5, -0.5, 0.25], dtype=np.float32)
    steps = [
        ("mul", (0, 1), {}, (2, 3), "float32"),
        ("add", (2, 0), {}, (2, 3), "float32"),
        ("sum", (3,), {"axis": 0, "keepdims": False, "axes": (0,)}, (3,), "float32"),
        ("mul", (4, 1), {}, (3,), "float32"),
        ("tanh", (2,), {}, (2, 3), "float32"),
    ]
    return _program(steps, [x, y])


def test_hand_written_program_prints_and_agrees():
    prog = _fan_in_program()
    assert prog.model_source() == (
        "def model(F, x0, x1):\n"
        "    v0 = (x0 * x1)\n"
        "    v1 = (v0 + x0)\n"
        "    v2 = v1.sum(axis=0, keepdims=False)\n"
        "    v3 = (v2 * x1)\n"
        "    v4 = v0.tanh()\n"
        "    return [v3, v4]\n"
    )
    assert prog.fan_out() == 2 and prog.fan_in() == 2
    res = check_program(prog)
    assert res.valid and res.ok, res.report()
    assert set(res.worst) >= {"static", "function", "optimized"}
    assert res.worst["static"] == (0.0, 0)


def test_reproducer_of_an_agreeing_program_runs_clean(tmp_path):
    from graphcompare.equivalence import subject_of
    from graphcompare.reproduce import reproducer

    s = subject_of(_fan_in_program())
    for way in ("static", "optimized", "finite differences"):
        path = tmp_path / "r.py"
        path.write_text(reproducer(s, way))
        env = dict(os.environ, PYTHONPATH=ROOT)
        out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "no disagreement"


def test_default_ways_name_every_pass():
    ways = default_ways()
    assert ways[:2] == ("static", "function")
    for p in ("prune", "cse", "fold", "simplify", "fuse", "memory"):
        assert f"pass:{p}" in ways
    assert "optimized" in ways and "finite differences" in ways


# --------------------------------------------------------------------------- the rules


def test_bitwise_check_sees_the_sign_of_zero():
    a, b = np.array([0.0, 1.0], np.float32), np.array([-0.0, 1.0], np.float32)
    with pytest.raises(AssertionError, match="grad x0 is not bitwise equal"):
        R.check_bitwise([a], [b], ["grad x0"], "static")
    R.check_bitwise([a], [a.copy()], ["grad x0"], "static")


def test_tolerance_admits_rounding_and_rejects_a_wrong_value():
    ref = np.array([1.0, -2.0, 3.0])
    plain = (ref + np.array([1e-7, 0, -2e-7])).astype(np.float32)
    one_ulp = np.nextafter(plain, np.float32(np.inf))
    R.check_close([one_ulp], [plain], [ref], ["grad x0"], "pass:fuse")
    with pytest.raises(AssertionError, match=r"pass:fuse: grad x0 is .* from the float64 reference"):
        R.check_close([plain * np.float32(1.001)], [plain], [ref], ["grad x0"], "pass:fuse")


def test_ulp_distance_counts_across_zero():
    a = np.array([np.float32(1e-45)])  # the smallest subnormal
    assert R.ulp_distance(a, -a) == 2
    assert R.ulp_distance(np.float32([1.0]), np.nextafter(np.float32([1.0]), np.float32(2))) == 1


# --------------------------------------------------------------------------- a user's model


def test_check_model_on_a_users_mlp():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    w1 = rng.normal(size=(3, 5)).astype(np.float32)
    w2 = rng.normal(size=(5, 2)).astype(np.float32)

    def mlp(F, x, w1, w2):
        h = (x @ w1).tanh()
        return F.log_softmax(h @ w2, axis=-1)

    res = check_model(mlp, [x, w1, w2])
    assert res.ok, res.report()
    assert "static" in res.worst and res.worst["static"] == (0.0, 0)


def test_check_model_without_F_and_several_outputs():
    x = np.linspace(0.5, 2.0, 6).reshape(2, 3)
    res = check_model(lambda a: [a.sqrt(), (a * a).sum(axis=1)], [x], ways=("static", "finite differences"))
    assert res.ok, res.report()


def test_check_model_refuses_integer_inputs():
    from shared_ops.errors import DTypeError

    with pytest.raises(DTypeError, match="not floating point"):
        check_model(lambda a: a * 2, [np.arange(3)])
