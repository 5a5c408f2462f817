"""Each pass on a small graph: the program text before and after (golden), its report line,
and that the rewritten program computes what ``optimize=False`` computes."""

import numpy as np
import pytest

import staticgraph as sg
from staticgraph.passes import PassOptionError, cse, fold, fuse, prune, selected, simplify
from staticgraph.program import PassContext
from staticgraph.lower import build_program


def program_of(build):
    with sg.Graph():
        outs, ins = build()
    return build_program(outs, ins), outs, ins


def run_pass(mod, build):
    p, outs, ins = program_of(build)
    before = p.text()
    r = mod.run(p, PassContext())
    p.check()
    return before, p.text(), r


def g_cse():
    x = sg.placeholder((3,), name="x")
    y = sg.placeholder((3,), name="y")
    return [x * y + y * x, (x + 2.0) * (x + 2.0)], [x, y]


def test_cse_merges_commutative_ops_and_equal_constants():
    before, after, r = run_pass(cse, g_cse)
    assert before.splitlines()[2:4] == ["%2 = mul %0 %1 : f32[3]", "%3 = mul %1 %0 : f32[3]"]
    assert after == (
        "%0 = placeholder x : f32[3]\n"
        "%1 = placeholder y : f32[3]\n"
        "%2 = mul %0 %1 : f32[3]\n"
        "%4 = add %2 %2 : f32[3]\n"
        "%5 = constant 2. : f32[]\n"
        "%6 = add %0 %5 : f32[3]\n"
        "%9 = mul %6 %6 : f32[3]\n"
        "return %4, %9"
    )
    assert (r.nodes_before, r.nodes_after) == (10, 7)
    assert r.details == ["merged 1 add, 1 constant, 1 mul"]


def test_cse_keeps_constants_of_different_dtype_or_value_apart():
    def build():
        x = sg.placeholder((2,), dtype="float64", name="x")
        return [x * sg.constant(np.float64(2.0)) + x * sg.constant(np.float64(3.0))], [x]

    _, after, r = run_pass(cse, build)
    assert r.nodes_before == r.nodes_after
    assert after.count("constant") == 2


def g_fold():
    x = sg.placeholder((3,), name="x")
    c = sg.constant(np.array([1.0, 2.0, 3.0], np.float32))
    return [x * (c * 2.0).exp()], [x]


def test_fold_evaluates_constant_subgraphs():
    before, after, r = run_pass(fold, g_fold)
    assert "%4 = exp %3 : f32[3]" in before
    assert after == (
        "%0 = placeholder x : f32[3]\n"
        "%4 = constant [  7.3890557, 54.59815  ,403.42877  ] : f32[3]\n"
        "%5 = mul %0 %4 : f32[3]\n"
        "return %5"
    )
    assert r.details == ["folded 1 exp, 1 mul into constants"]


def test_fold_leaves_big_broadcasts_alone():
    def build():
        x = sg.placeholder((100, 100), name="x")
        one = sg.constant(np.float32(1.0)).broadcast_to((100, 100))
        return [x * one], [x]

    _, after, r = run_pass(fold, build)
    assert "broadcast_to" in after and r.details == []


def g_simplify():
    x = sg.placeholder((2, 3), name="x")
    a = (x * 1.0) + (-0.0)
    d = (-(-a)).transpose().transpose().reshape((3, 2)).reshape((6,))
    return [d, x.softmax(axis=1).log(), x + 0.0], [x]


def test_simplify_rewrites_and_keeps_x_plus_positive_zero():
    before, after, r = run_pass(simplify, g_simplify)
    assert len(before.splitlines()) == 16
    assert after == (
        "%0 = placeholder x : f32[2,3]\n"
        "%10 = reshape %0 {shape=(6,)} : f32[6]\n"
        "%11 = softmax %0 {axis=1} : f32[2,3]\n"
        "%12 = log %11 : f32[2,3]\n"                 # log_softmax is not exact: off by default
        "%13 = constant 0. : f32[]\n"
        "%14 = add %0 %13 : f32[2,3]\n"   # x + 0.0 would turn -0.0 into +0.0: not rewritten
        "return %10, %12, %14"
    )
    assert r.details == ["1 x x * 1 -> x", "1 x x + (-0.0) -> x", "1 x neg(neg(x)) -> x",
                         "1 x transpose(transpose(x)) -> x", "1 x reshape(reshape(x)) -> reshape(x)"]


def test_simplify_outer_product_and_gemv():
    def build():
        a = sg.placeholder((4,), name="a")
        b = sg.placeholder((3,), name="b")
        W = sg.placeholder((4, 3), name="W")
        outer = a.reshape((4, 1)) @ b.reshape((1, 3))
        gemv = (W @ b.unsqueeze(-1)).squeeze(-1)
        return [outer, gemv], [a, b, W]

    _, after, r = run_pass(simplify, build)
    assert "mul %" in after and "squeeze" not in after
    assert set(r.details) == {"1 x matmul(a[m,1], b[1,n]) -> mul(a, b) + 0", "1 x squeeze(matmul(A, v[:, None])) -> matmul(A, v)"}


def g_fuse():
    x = sg.placeholder((4, 3), name="x")
    b = sg.placeholder((3,), name="b")
    h = (x + b).tanh()
    return [h.sum(), h * 2.0], [x, b]


def test_fuse_makes_one_kernel_with_a_reduction_output():
    before, after, r = run_pass(fuse, g_fuse)
    assert "%4 = sum %3 {axis=None, keepdims=False} : f32[]" in before
    assert after == (
        "%0 = placeholder x : f32[4,3]\n"
        "%1 = placeholder b : f32[3]\n"
        "%5 = constant 2. : f32[]\n"
        "%7 = fused[3 ops: add,tanh,mul+sum -> 2 outs] %0 %1 %5 : f32[4,3]\n"
        "%8 = fused[out0] %7 : f32[4,3]\n"
        "%9 = fused[out1] %7 : f32[]\n"
        "return %9, %8"
    )
    assert r.details[:2] == ["fused 4 nodes into 1 kernel(s)",
                             "%7 <- 4 nodes (3 ops: add,tanh,mul+sum -> 2 outs), 3 in, 2 out"]


def test_prune_removes_what_rewrites_orphaned():
    p, _, _ = program_of(g_cse)
    cse.run(p, PassContext())
    r = prune.run(p, PassContext())
    assert r.nodes_before == r.nodes_after  # cse already cleaned up after itself
    dead = p.add("exp", [p.inputs[0]], {}, p[p.inputs[0]].spec)
    r = prune.run(p, PassContext())
    assert dead.id not in p and r.details == ["removed 1 dead node(s)"]


@pytest.mark.parametrize("build", [g_cse, g_fold, g_simplify, g_fuse])
def test_each_pass_alone_keeps_the_values(build):
    with sg.Graph():
        outs, ins = build()
        ref = sg.compile(outs, ins, optimize=False)
        rng = np.random.default_rng(1)
        args = [rng.standard_normal(x.shape).astype(x.dtype) for x in ins]
        want = ref(*args)
        for name in ("prune", "cse", "fold", "simplify", "fuse"):
            got = sg.compile(outs, ins, optimize=[name])(*args)
            for a, b in zip(got, want):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


def test_options_select_passes_by_name():
    assert selected(True) == dict.fromkeys(["prune", "cse", "fold", "simplify", "fuse", "memory", "stack"], True)
    assert selected({"cse": False})["cse"] is False and selected({"cse": False})["fuse"] is True
    assert selected(["cse"]) == {**dict.fromkeys(["prune", "cse", "fold", "simplify", "fuse", "memory", "stack"], False), "cse": True}
    with pytest.raises(PassOptionError, match="unknown pass name.*'fusion'.*the passes are"):
        selected({"fusion": False})


def test_report_has_a_line_per_pass_the_tiers_and_the_program_once():
    with sg.Graph():
        outs, ins = g_fuse()
        fn = sg.compile(outs, ins, optimize={"fold": False, "whole_step": False})
    rep = fn.report()
    for name in ("prune", "cse", "simplify", "fuse", "pipeline"):
        assert any(line.startswith(f"{name}: ") and "nodes" in line for line in rep.splitlines()), name
    assert "fold:" not in rep
    assert rep.count("program (") == 1 and "program (6 nodes):" in rep
    assert "fused[3 ops: add,tanh,mul+sum -> 2 outs]" in rep
    assert "tiers:" in rep and "runs on numpy; numpy tier built in" in rep
    assert "naive sum of intermediates" in rep and "liveness lower bound" in rep
