"""simplify's rules one at a time: each alone on a graph made for it (the program text before
and after), the same graph with that rule switched off (the pattern stays), and the rewritten
program bitwise equal to the original on values with signed zeros, infinities and NaN."""

import numpy as np
import pytest

import staticgraph as sg
from staticgraph.passes import PassOptionError, simplify
from staticgraph.program import PassContext
from staticgraph.lower import build_program


def op(x, name, *inputs, **attrs):
    return x._op(name, x, *inputs, **attrs)


# rule -> (build(x) -> outputs, the input shape, the program text after the rule alone)
CASES = {
    "mul_by_one": (lambda x: [x * 1.0, 1.0 * x], (2, 3), "return %0, %0"),
    "div_by_one": (lambda x: [x / 1.0], (2, 3), "return %0"),
    "add_negative_zero": (lambda x: [x + (-0.0), (-0.0) + x], (2, 3), "return %0, %0"),
    "sub_positive_zero": (lambda x: [x - 0.0], (2, 3), "return %0"),
    "double_neg": (lambda x: [-(-x)], (2, 3), "return %0"),
    "sum_to_own_shape": (lambda x: [op(x, "sum_to", shape=(2, 3))], (2, 3), "return %0"),
    "broadcast_to_own_shape": (lambda x: [x.broadcast_to((2, 3))], (2, 3), "return %0"),
    "reshape_own_shape": (lambda x: [op(x, "reshape", shape=(2, 3))], (2, 3), "return %0"),
    "astype_own_dtype": (lambda x: [op(x, "astype", dtype="float32")], (2, 3), "return %0"),
    "add_n_single": (lambda x: [op(x, "add_n")], (2, 3), "return %0"),
    "reshape_of_reshape": (lambda x: [x.reshape((3, 2)).reshape((6,))], (2, 3),
                           "%2 = reshape %0 {shape=(6,)} : f32[6]\nreturn %2"),
    "transpose_pair_cancels": (lambda x: [x.transpose().transpose()], (2, 3), "return %0"),
    "transpose_pair_merges": (lambda x: [x.transpose((1, 2, 0)).transpose((1, 2, 0))], (2, 3, 4),
                              "%2 = transpose %0 {axes=(2, 0, 1)} : f32[4,2,3]\nreturn %2"),
    "transpose_identity": (lambda x: [x.transpose((0, 1))], (2, 3), "return %0"),
    "outer_product": (lambda x: [x.reshape((6, 1)) @ x.reshape((1, 6))], (2, 3),
                      "%1 = reshape %0 {shape=(6, 1)} : f32[6,1]\n"
                      "%2 = reshape %0 {shape=(1, 6)} : f32[1,6]\n"
                      "%5 = constant 0. : f32[]\n"
                      "%4 = mul %1 %2 : f32[6,6]\n"
                      "%3 = add %4 %5 : f32[6,6]\n"
                      "return %3"),
    "matrix_vector": (lambda x: [(x @ x.sum(axis=0).unsqueeze(-1)).squeeze(-1)], (3, 3),
                      "%1 = sum %0 {axis=(0,), keepdims=False} : f32[3]\n"
                      "%4 = matmul %0 %1 : f32[3]\n"
                      "return %4"),
    "log_softmax": (lambda x: [x.softmax(axis=1).log()], (2, 3),
                    "%2 = log_softmax %0 {axis=1} : f32[2,3]\nreturn %2"),
}


def program_for(name):
    build, shape, _ = CASES[name]
    with sg.Graph():
        x = sg.placeholder(shape, name="x")
        outs = build(x)
    return build_program(outs, [x]), outs, x


def simplified(name, switches):
    p, _, _ = program_for(name)
    before = p.text()
    r = simplify.run(p, PassContext(options={"simplify": switches}))
    p.check()
    return before, p.text(), r


# rules that, switched on, do in steps what the rule does at once
SAME_EFFECT = {"transpose_pair_cancels": ("transpose_pair_merges", "transpose_identity")}


def only(name):
    return {k: k == name for k in simplify.RULES}


def test_every_rule_has_a_case_and_a_before_after_docstring():
    assert set(CASES) == set(simplify.RULES)
    for r in simplify.RULES.values():
        assert "->" in r.doc.splitlines()[0], r.name
        assert ("Exact" in r.doc) == r.exact and ("NOT exact" in r.doc) == (not r.exact), r.name


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_alone(name):
    before, after, r = simplified(name, only(name))
    assert before != after
    assert after == "%0 = placeholder x : f32" + f"[{','.join(map(str, CASES[name][1]))}]\n" + CASES[name][2]
    assert r.details and all(d.endswith(simplify.RULES[name].label) for d in r.details)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_switched_off_leaves_its_pattern(name):
    before, after, r = simplified(name, {k: False for k in (name,) + SAME_EFFECT.get(name, ())})
    assert after == before and r.details == []


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf * 0 in the inputs
@pytest.mark.parametrize("name", sorted(n for n, r in simplify.RULES.items() if r.exact))
def test_exact_rule_changes_no_bit(name):
    _, outs, x = program_for(name)
    rng = np.random.default_rng(0)
    v = rng.standard_normal(x.shape).astype(np.float32)
    v.flat[:4] = [-0.0, 0.0, np.inf, np.nan][: v.size]
    plain = sg.compile(outs, [x], optimize=False)(v)
    rewritten = sg.compile(outs, [x], optimize={"simplify": only(name), "prune": False, "cse": False,
                                                  "fold": False, "fuse": False, "memory": False})(v)
    for a, b in zip(plain, rewritten):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), name


def test_numpy_matmul_is_what_the_matmul_rules_assume():
    """``outer_product`` and ``matrix_vector`` are exact because NumPy's matmul with an inner
    (or last) dimension of 1 computes exactly this; checked over shapes, layouts and signed zeros."""
    rng = np.random.default_rng(1)
    for dt in (np.float32, np.float64):
        for m in (1, 3, 20, 129):
            for n in (1, 5, 20, 784):
                a, b = rng.standard_normal((m, 1)).astype(dt), rng.standard_normal((1, n)).astype(dt)
                a[0, 0], b[0, -1] = -0.0, 0.0
                assert (a @ b).tobytes() == (a * b + dt(0)).tobytes()
                for A in (rng.standard_normal((m, n)).astype(dt), rng.standard_normal((n, m)).astype(dt).T):
                    v = rng.standard_normal(n).astype(dt)
                    assert (A @ v[:, None])[:, 0].tobytes() == (A @ v).tobytes()


def test_default_table_is_exact_and_off_by_default_rules_are_not():
    assert simplify.EXACT
    assert "log_softmax" not in simplify.DEFAULT_ON and not simplify.RULES["log_softmax"].exact


def test_rule_switches_through_compile():
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        y = x * 1.0
    assert "mul" not in sg.compile([y], [x]).program.text()
    assert "mul" in sg.compile([y], [x], optimize={"simplify": {"mul_by_one": False}}).program.text()


def test_unknown_rule_or_options_for_another_pass_are_refused():
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        y = x * 1.0
    with pytest.raises(PassOptionError, match="unknown simplify rule.*'mul_by_two'.*mul_by_one"):
        sg.compile([y], [x], optimize={"simplify": {"mul_by_two": False}})
    with pytest.raises(PassOptionError, match="pass 'cse' takes no options"):
        sg.compile([y], [x], optimize={"cse": {"x": 1}})
