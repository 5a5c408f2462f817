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


def test_every_way_agrees_in_a_chunked_campaign(request, tmp_path, capsys):
    """The same property as a ``graphcompare check`` campaign in fresh worker processes, one per
    core: 10,000 programs under ``thorough`` (a single process would hold every compiled fused
    kernel: numba never frees them), a short one under ``ci``."""
    import argparse

    from graphcompare.check import add_check_parser, run_check

    profile = request.config.getoption("hypothesis_profile", None) or os.environ.get("HYPOTHESIS_PROFILE", "ci")
    examples = 10_000 if profile == "thorough" else 8
    parser = argparse.ArgumentParser(prog="graphcompare")
    add_check_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check", "--examples", str(examples), "--chunk", str(max(4, examples // 40)),
                              "--jobs", str(max(2, os.cpu_count() or 1)), "--seed", "11", "--no-progress",
                              "--out", str(tmp_path)])
    code = run_check(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"programs checked      {examples}" in out


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
    for way in ("static", "optimized", "finite differences", "torch"):
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


def _cancelling(F, x):
    # the loss's gradient is 0.1 + 0.2 - 0.3 per element: terms of 0.1 cancel to 5.6e-17
    return [x * 0.1, x * 0.2, x * -0.3]


def test_tolerance_admits_a_reordered_sum_that_cancels():
    """A legitimate reordering of a cancelling float64 sum is off by an ULP of the *terms*,
    not of the result: the rule measures that with the plain run's rounding error ``E``
    (the fresh-clone failure of #6: plain == reference in float64, so its own error was 0)."""
    X, W = [np.ones(3)], [np.ones(3)] * 3
    ref = R.run_dyngraph(_cancelling, X, W)
    names = ["output 0", "output 1", "output 2", "grad x0"]
    g = ref[3]
    other = (0.1 + (0.2 + -0.3)) * np.ones(3)  # the other association of the same three terms
    assert np.all(g != other) and np.max(np.abs(g - other)) < 1e-16
    got = ref[:3] + [other]
    with pytest.raises(AssertionError, match="grad x0 is .* from the float64 reference"):
        R.check_close(got, ref, ref, names, "pass:fuse")  # without E: too tight
    err = R.rounding_error(_cancelling, X, W, ref)
    # an ULP of the terms (0.1 to 0.3: ULPs of 1.4e-17 to 5.6e-17), not of 5.6e-17 (1.2e-32)
    assert 5e-18 < float(np.max(err[3])) < 2e-16
    used = R.check_close(got, ref, ref, names, "pass:fuse", err)
    assert 0 < used < 0.1
    wrong = ref[:3] + [g + 1e-13]  # a bug the size of 500 ULPs of the terms is still caught
    with pytest.raises(AssertionError, match="grad x0 is .* from the float64 reference"):
        R.check_close(wrong, ref, ref, names, "pass:fuse", err)


def test_tolerance_sees_float32_rounding_inside_a_float64_result():
    """From the 10,000-program campaign (chunk seed 2009): a float64 gradient fed by float32
    ops (a cast, a float32 tanh). The plain run's own float32 error happened to be small
    (1.3e-7 on 21.2), the fused kernel's float32 tanh (within 2 ULP of NumPy's) was 1e-6 off:
    E, measured with every op perturbed at its own dtype's ULP, allows for that."""
    from graphcompare.equivalence import Subject, check_subject

    def model(F, x0, x1, x2):
        v0 = x2.astype("float32")
        v1 = F.where(x0 == x2, x2, x0)
        v2 = ((x2 * x2 + 0.5) ** x2.tanh())
        v3 = (v0 * v0 + 0.5).sqrt()
        v4 = ((x2 * x2 + 0.5) ** v0.tanh())
        return [v1, v2, v3, v4 ** 2.0]

    def model64(F, x0, x1, x2):
        v0 = x2
        v1 = F.where(x0 == x2, x2, x0)
        v2 = ((x2 * x2 + 0.5) ** x2.tanh())
        v3 = (v0 * v0 + 0.5).sqrt()
        v4 = ((x2 * x2 + 0.5) ** v0.tanh())
        return [v1, v2, v3, v4 ** 2.0]

    X = [np.array(1.3465310335159302, np.float32), np.array(1.8015297651290894, np.float32),
         np.array(1.9818972217959274)]
    W = [np.array(1.1369616873214543), np.array(0.7697867137638703), np.array(0.5409735441207886, np.float32),
         np.array(0.5165276355285291)]
    names = ["output v1", "output v2", "output v3", "output v5", "grad x0", "grad x1", "grad x2"]
    plain = R.run_dyngraph(model, X, W)
    ref = R.run_dyngraph(model64, [a.astype(np.float64) for a in X], [w.astype(np.float64) for w in W])
    err = R.rounding_error(model, X, W, plain)
    assert plain[6].dtype == np.float64
    assert float(err[6]) > 1e-7  # float32 ULPs of the terms (2.5e-6 on 21), not float64's (3.6e-15)
    bound_without = R.tolerance_bound(plain[6], ref[6])
    assert bound_without < 1e-6 < R.tolerance_bound(plain[6], ref[6], err[6])
    s = Subject(model, model64, X, W, names)
    res = check_subject(s, ways=("pass:fuse", "optimized"))
    assert res.ok, res.report()


def test_the_fresh_clone_failure_agrees_every_way():
    """A program mixing float32 and float64 inputs through ``where`` ties: every way agrees, and
    the tolerance ways use under half of their bound."""
    from graphcompare.equivalence import Subject, check_subject

    def model(F, x0, x1, x2):
        v0 = F.where(x0 > x1, x1, x0)
        v1 = F.where(x1 > x0, x0, x2)
        v2 = F.where(x0 > x2, x2, x2)
        v3 = F.where(v0 > x0, x0, v1)
        return [v3.sigmoid(), v2 / (v2 * v2 + 0.5)]

    X = [np.array(1.3465310335159302, np.float32), np.array(0.721041738986969, np.float32),
         np.array(1.0071472579980896)]
    W = [np.array(1.079555538168546), np.array(1.1679733558225953)]
    s = Subject(model, model, X, W, ["output v4", "output v5", "grad x0", "grad x1", "grad x2"])
    res = check_subject(s)
    assert res.ok, res.report()
    assert set(res.used) == {"pass:fuse", "pass:stack", "optimized"} and max(res.used.values()) < 0.5


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
