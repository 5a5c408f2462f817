"""Disagreements the long campaigns found, each kept as a regression test (the campaign's chunk
seed and program are in the test's docstring)."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg
from graphcompare import controlflow as CF
from graphcompare._runners import loss  # the checker's own loss: the same terms, the same order
from graphcompare.equivalence import check_model


def test_cse_keeps_a_scalar_constant_apart_from_a_one_element_one():
    """Chunk 17000057: ``x0.gather(-1, np.array([0]))`` beside a while loop whose counter starts
    at the scalar constant 0; cse merged the two constants (the key's shape was taken after
    ``np.ascontiguousarray``, which makes a 0-d array 1-d), so gather read a 0-d index and
    returned shape () for (1,)."""
    x0 = np.array([-1.0804093856458006, 1.1080448213823653])
    with sg.Graph():
        x = sg.placeholder((2,), "float64")
        zero = sg.constant(np.array(0, dtype=np.int64))
        g = x.gather(-1, np.array([0]))
        fn = sg.compile([g, zero], inputs=[x], optimize=["cse"])
    got, z = fn(x0)
    assert got.shape == (1,) and got.tobytes() == x0[[0]].tobytes() and np.shape(z) == ()

    def model(F, a):
        return [CF.while_model(F, a, a, 2), a.gather(-1, np.array([0]))]

    res = check_model(model, [x0], ways=("static", "pass:cse", "optimized"))
    assert res.ok, res.report()


# inputs and loss weights as drawn: a 1-2 ULP difference depends on the very bits
DATA = json.loads((pathlib.Path(__file__).parent / "data" / "campaign_findings.json").read_text())


def _arrays(entries):
    return [np.array(e["values"], dtype=e["dtype"]).reshape(e["shape"]) for e in entries]


def _bitwise_as_dyngraph(model, X, W):
    xs = [dg.tensor(a, requires_grad=True) for a in X]
    total, outs = loss(dg, model, xs, W)
    total.backward()
    want = [o.detach().numpy() for o in outs] + [x.grad.numpy() for x in xs]
    with sg.Graph():
        ps = [sg.placeholder(a.shape, a.dtype.name) for a in X]
        total, outs = loss(sg, model, ps, W)
        fn = sg.compile(list(outs) + list(sg.gradients(total, ps)), inputs=ps, optimize=False)
    got = [np.asarray(v) for v in fn(*X)]
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), k


def test_two_whiles_and_an_identity_cond_chained_hand_their_terms_through_bitwise():
    """Chunk 17000099, programs 279-280 (the part of the campaign run on 07a1f78): a 0-step while
    hands x0 through to a 3-step while that also captures x0, and an identity cond hands an
    einsum's value through; grad x0 was 2 ULP off dyngraph in every bitwise way (the chained
    pass-through term order, fixed on main by the control-flow engineer)."""
    def model(F, x0, x1):
        v0 = F.concatenate([x0, x0], axis=0)
        v1 = CF.while_model(F, x0, x0, 0)
        v2 = F.stack([v0, v0, v0], axis=0)
        v3 = CF.while_model(F, v1, x0, 3)
        v4 = v0.prod(1)
        v5 = F.einsum("ak,mk->am", v3, x1)
        v6 = CF.cond_model(F, v5, v5, v5, "true")
        return [v2, v4, v6]

    case = DATA["seed17000099_279"]
    _bitwise_as_dyngraph(model, _arrays(case["X"]), _arrays(case["W"]))


def test_a_branch_handing_a_nested_scan_value_through_sums_its_terms_bitwise():
    """Chunk 17000105, program 66 (07a1f78): a scan whose body holds a cond feeds another such
    scan and a cond whose false branch hands it through; grad x0 was 1 ULP off dyngraph in every
    bitwise way (the same pass-through term order, fixed on main)."""
    def model(F, x0, x1):
        v0 = x0 + x0.argmin(dim=2, keepdim=True)
        v1 = x0.min(axis=-1, keepdims=False)
        v2 = CF.scan_model(F, x0, x1, "tanh", "cond")
        v3 = CF.scan_model(F, v2, x1, "tanh", "cond")
        v4 = CF.cond_model(F, v1, v2, x0, "false")
        v5 = (v2 * v2 + 0.5).sqrt()
        v6 = F.where((v3 > 0) & (v4 > 0), v3, v4)
        return [v0, v5, v6]

    case = DATA["seed17000105_66"]
    _bitwise_as_dyngraph(model, _arrays(case["X"]), _arrays(case["W"]))


def test_a_leaf_reached_only_through_an_untaken_branch_matches_none():
    """Chunk 17000203 #53-59: ``x3`` is captured by a cond whose output ``v0`` only feeds a
    comparison and the untaken branch of a second cond. dyngraph never reaches ``x3`` (None, as
    PyTorch); staticgraph forms its gradient at run time from the untaken branch's zeros, and the
    first cond's ``v * v - c`` negates them: -0.0. The checker holds None equal to zeros of
    either sign; a nonzero value against None still fails."""
    from graphcompare._runners import check_bitwise, run_dyngraph, run_static

    def model(F, x0, x1, x2, x3):
        v0 = CF.cond_model(F, x1, x0, x3, "none")
        v1 = x2.clip(-1.5, 0.5)
        v2 = CF.cond_model(F, x0, x0, v0, "true")
        return [F.where(v0 > v2, v2, v1), F.where(x0 < x2, x2, v1)]

    X = [np.array([-0.87098476, 1.69615924, -0.5152517, 0.90169672, -0.24072079]),
         np.array([-0.7054549], dtype=np.float32), np.array(1.4185205, dtype=np.float32),
         np.array([-0.58509182, -0.72865243, 0.86060679, 0.26542548, -0.58058323])]
    W = [np.array([0.98, 1.01, 0.70, 1.00, 0.77]), np.array([0.73, 0.92, 1.13, 1.16, 1.17], dtype=np.float32)]
    plain = run_dyngraph(model, X, W)
    static = run_static(model, X, W, optimize=False)
    names = ["v3", "v4", "grad x0", "grad x1", "grad x2", "grad x3"]
    assert plain[-1] is None and np.all(static[-1] == 0) and np.signbit(static[-1]).all()
    check_bitwise(static, plain, names, "staticgraph optimize=False")
    with pytest.raises(AssertionError, match="grad x3 is None on one side and nonzero"):
        check_bitwise(static[:-1] + [static[-1] + 1.0], plain, names, "staticgraph optimize=False")
