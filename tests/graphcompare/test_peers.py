"""The engines of benchmarks/bench_peers.py compute W1-W4's loss and gradients correctly, and the
check that guards its timings catches a wrong gradient."""

import os

import numpy as np
import pytest

from graphcompare.experiments import peers
from graphcompare.experiments.frontends import Unavailable

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
# JAX's and PyTensor's compiles of the unrolled W1/W2 take tens of seconds each: thorough only
ENGINES = ["numpy", "dyngraph", "staticgraph_O0", "torch"] + (["jax", "pytensor"] if THOROUGH else [])


def _args(name):
    return peers.SPECS[name].inputs(np.random.default_rng(1))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["W1", "W2", "W3"])
def test_engine_agrees_with_the_hand_written_reference(name, engine):
    spec, args = peers.SPECS[name], _args(name)
    try:
        runner = peers.make(engine, spec, args)
    except Unavailable as exc:
        pytest.skip(str(exc))  # an optional peer that is not installed here
    assert peers.check(runner, spec, args) <= 2e-3
    # the step returns (loss, *grads): one gradient per differentiated input
    assert len(runner.to_numpy(runner.step())) == 1 + len(spec.wrt)


def test_optimized_static_agrees_on_the_memory_bound_workload():
    spec, args = peers.SPECS["W4"], [a[:4096] for a in _args("W4")]
    assert peers.check(peers.make("staticgraph", spec, args), spec, args) <= 2e-3


def test_a_wrong_gradient_is_caught_and_named():
    spec, args = peers.SPECS["W2"], _args("W2")
    good = peers.make("numpy", spec, args)

    def wrong():
        loss, gwx, gwh = good.step()
        return loss, gwx, gwh * 1.01

    bad = peers.Runner(wrong, good.to_numpy)
    with pytest.raises(AssertionError, match="W2: gradient 2 is off by"):
        peers.check(bad, spec, args)


def test_a_missing_output_is_caught():
    spec, args = peers.SPECS["W1"], _args("W1")
    good = peers.make("numpy", spec, args)
    bad = peers.Runner(lambda: good.step()[:1], good.to_numpy)
    with pytest.raises(AssertionError, match="1 outputs, the reference has 2"):
        peers.check(bad, spec, args)


@pytest.mark.skipif(not THOROUGH, reason="torch.compile's first call takes tens of seconds: thorough only")
def test_torch_compile_agrees():
    pytest.importorskip("torch")
    spec, args = peers.SPECS["W2"], _args("W2")
    assert peers.check(peers.make("torch_compile", spec, args), spec, args) <= 2e-3
