"""The compiler scales: long chains compile with every pass on and agree with ``optimize=False``.

Every pass and the lowering are linear in the program (a clients index instead of program
scans; regions formed in one walk); a long elementwise chain is split into regions of at most
``MAX_REGION`` ops, each one numba loop (its body cut into basic blocks: no deep recursion). Times are printed by
``benchmarks/bench_compile.py``; here only results are checked.
"""

import os

import numpy as np
import pytest

import staticgraph as sg
from staticgraph.passes.fuse import MAX_REGION

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


def chain(n_ops: int, width: int = 3, grad: bool = True):
    with sg.Graph():
        x = sg.placeholder((width,), dtype="float64", name="x")
        y = x
        for k in range(n_ops // 3):
            y = (y * 1.0001 + 0.001).tanh()
        outs = [y]
        if grad:
            outs += sg.gradients(y.sum(), [x])
        plain = sg.compile(outs, [x], optimize=False)
        fast = sg.compile(outs, [x], optimize=True)
    return plain, fast


def _agree(plain, fast, width=3):
    a = np.linspace(-1, 1, width)
    for p, f in zip(plain(a), fast(a)):
        np.testing.assert_allclose(f, p, rtol=1e-9, atol=1e-12)


def test_a_500_op_elementwise_chain_fuses_in_one_region_numba_can_compile():
    plain, fast = chain(501, grad=False)
    (region,) = fast.regions()
    assert 501 <= len(region.members) <= MAX_REGION
    _agree(plain, fast)
    assert fast.wait_compiled()  # the loop builds (no RecursionError inside numba)
    assert list(fast.tiers().values()) == ["numba"]
    _agree(plain, fast)


def test_a_chain_longer_than_a_region_splits(monkeypatch):
    from staticgraph.passes import fuse

    monkeypatch.setattr(fuse, "MAX_REGION", 100)
    plain, fast = chain(501, grad=False)
    regions = fast.regions()
    assert len(regions) >= 5 and all(len(k.members) <= 100 for k in regions)
    _agree(plain, fast)


def test_a_20000_op_chain_compiles_with_every_pass_and_agrees():
    plain, fast = chain(20_000)
    assert len(fast.program) < len(plain.program) // 3
    _agree(plain, fast)


@pytest.mark.skipif(not THOROUGH, reason="a 100,000-node graph: run with HYPOTHESIS_PROFILE=thorough")
def test_a_100000_node_graph_compiles_without_recursion():
    plain, fast = chain(44_000)
    assert len(plain.program) > 100_000
    _agree(plain, fast)
