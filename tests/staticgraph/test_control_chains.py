"""Values handed through control flow more than once in a row (an identity cond applied twice,
a cond after a while_loop of no step, a loop whose init is, at run time, also one of its
closures): dyngraph sees one tensor and sums all its terms in their consumers' creation order;
staticgraph must place every handed-through term at its outside key across each control node
on the way, and interleave the terms of two inputs of one control node that turn out to be
one array. Bitwise with ``optimize=False``.

The programs and their inputs are the random programs on which the 100,000-program campaign
(seed 17, graphcompare check) found a 1-4 ULP difference; the inputs are kept in
``data/control_chains.json`` because the bits depend on them.
"""

import json
import pathlib

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg
from graphcompare import controlflow as CF
from graphcompare._runners import loss, run_dyngraph  # the checker's own runner: the same loss, the same order

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "control_chains.json").read_text())


def _arrays(entries):
    return [np.array(e["values"], dtype=e["dtype"]).reshape(e["shape"]) for e in entries]


def m063(F, x0, x1, x2, x3):  # scan with an identity branch; a 0-step while fed to a 3-step while
    v0 = CF.scan_model(F, x0, x3, "tanh", "cond_same")
    v1 = CF.while_model(F, x0, x3, 0)
    v2 = F.where((x3 > 0) & (v1 > 0), x3, v1)
    v3 = CF.while_model(F, x0, v1, 3)
    return [v0, v2, v3]


def m069(F, x0):  # a 0-step while feeding an identity cond
    v0 = CF.while_model(F, x0, x0, 0)
    v1 = (x0 * x0 + 0.5) ** v0.tanh()
    v2 = CF.cond_model(F, v0, v0, x0, "true")
    v3 = (v1 * v1 + 0.5) ** v0.tanh()
    return [v2, v3]


def m070(F, x0, x1, x2):  # a cond, then two 0-step whiles on its result
    v0 = x1.exp()
    v1 = F.where(v0 > x1, x1, v0)
    v2 = CF.cond_model(F, v1, v1, v0, "none")
    v3 = CF.while_model(F, v2, v2, 0)
    v4 = CF.while_model(F, v2, v2, 0)
    v5 = CF.scan_model(F, v2, x2, "tanh", "plain")
    v6 = v1.max(0, keepdim=True).values
    return [v3, v4, v5, v6]


def m072(F, x0, x1):  # two identity conds in a row
    v0 = CF.cond_model(F, x1, x0, x0, "true")
    v1 = F.linalg.vector_norm(x0, 1, dim=1)
    v2 = CF.cond_model(F, x1, v0, x0, "true")
    v3 = F.linalg.vector_norm(v0, 1, dim=0)
    return [v1, v2, v3]


def m074(F, x0, x1, x2):  # an identity cond's result is the init of a while closing over the same value
    v0 = F.concatenate([x0, x0, x0], axis=1)
    v1 = x1.prod(1)
    v2 = F.where(v1 <= x0, x0, x1)
    v3 = v2.logsumexp(axis=(2,), keepdims=False)
    v4 = CF.cond_model(F, v1, x1, v1, "true")
    v5 = F.avg_pool2d(v2.reshape(1, 3, 2, 4), (2, 2))
    v6 = CF.while_model(F, v4, x1, 1)
    return [v0, v3, v5, v6]


def m075(F, x0, x1, x2):  # two 0-step whiles in a row
    v0 = CF.scan_model(F, x0, x1, "tanh", "plain")
    v1 = CF.while_model(F, x0, x0, 0)
    v2 = CF.while_model(F, v1, x2, 0)
    v3 = v1.flip(1, 2)
    idx = np.array([[[1, 0, 0, 2, 0]], [[1, 2, 2, 1, 0]], [[2, 1, 1, 2, 1]], [[1, 2, 0, 1, 2]]])
    v4 = v2.gather(-2, idx)
    return [v0, v3, v4]


def m081(F, x0, x1, x2):  # an identity cond on the ys of a scan with an identity branch inside
    v0 = CF.scan_model(F, x0, x1, "tanh", "cond_same")
    v1 = CF.scan_model(F, x1, x2, "tanh", "cond")
    v2 = CF.cond_model(F, x1, v0, v0, "true")
    v3 = F.stack([v0, v2, x0, x0], axis=2)
    v4 = (x1 * x1 + 0.5).rsqrt()
    v5 = (v2 * v2 + 0.5).rsqrt()
    v6 = (v4 * v4 + 0.5).rsqrt()
    v7 = F.stack([x0, v2, x0], axis=1)
    return [v1, v3, v5, v6, v7]


def m099(F, x0, x1):  # a 3-step while whose init is a 0-step while over its own closure
    v0 = F.concatenate([x0, x0], axis=0)
    v1 = CF.while_model(F, x0, x0, 0)
    v2 = F.stack([v0, v0, v0], axis=0)
    v3 = CF.while_model(F, v1, x0, 3)
    v4 = v0.prod(1)
    v5 = F.einsum("ak,mk->am", v3, x1)
    v6 = CF.cond_model(F, v5, v5, v5, "true")
    return [v2, v4, v6]


def m105(F, x0, x1):  # an identity false branch on a scan's ys, which have other consumers
    v0 = x0 + x0.argmin(dim=2, keepdim=True)
    v1 = x0.min(axis=-1, keepdims=False)
    v2 = CF.scan_model(F, x0, x1, "tanh", "cond")
    v3 = CF.scan_model(F, v2, x1, "tanh", "cond")
    v4 = CF.cond_model(F, v1, v2, x0, "false")
    v5 = (v2 * v2 + 0.5).sqrt()
    v6 = F.where((v3 > 0) & (v4 > 0), v3, v4)
    return [v0, v5, v6]


def m111a(F, x0, x1, x2, x3):  # an identity false branch, then a 0-step while on its result
    v0 = F.concatenate([x1, x0], axis=2)
    v1 = CF.cond_model(F, x1, x1, x2, "false")
    v2 = F.where((x2 > 0).any(dim=1, keepdim=True), x2, -x2)
    v3 = F.concatenate([x1, v2, v1], axis=1)
    v4 = CF.while_model(F, v1, x3, 0)
    v5 = F.where((x1 > 0) & (x3 > 0), x1, x3)
    v6 = F.where(x3 < v1, v1, v2)
    v7 = (v5 * v5 + 0.5).log()
    return [v0, v3, v4, v6, v7]


def m111b(F, x0, x1):  # three conds in a chain, operands and closures one value at run time
    v0 = F.where(x0 == x1, x1, x1)
    v1 = CF.cond_model(F, x0, x1, v0, "true")
    v2 = CF.cond_model(F, v0, v1, v1, "false")
    v3 = CF.cond_model(F, v0, v1, v0, "true")
    v4 = F.where((v1 > 0) & (v1 > 0), v1, v1)
    v5 = F.where((v0 > 0) & (v3 > 0), v0, v3)
    v6 = CF.while_model(F, v0, v0, 0)
    return [v2, v4, v5, v6]


def m_cond_after_loop(F, x0, x1, x2):  # an identity cond on a 2-step while's result (found by a campaign of this fix)
    v0 = CF.while_model(F, x1, x1, 2)
    v1 = CF.cond_model(F, x1, v0, x1, "true")
    v2 = CF.scan_model(F, x1, x2, "sigmoid", "cond")
    v3 = CF.while_model(F, v0, v2, 2)
    return [v1, v3]


def m_whiles(F, x0):  # no step hands anything through, but each loop could have: found by a campaign of this fix
    v0 = CF.while_model(F, x0, x0, 1)
    v1 = CF.while_model(F, v0, x0, 1)
    v2 = CF.while_model(F, x0, v0, 3)
    return [v1, v2]


CASES = {"whiles_in_a_row": m_whiles, "cond_after_loop": m_cond_after_loop, "seed17000063_109": m063, "seed17000069_80": m069, "seed17000070_127": m070, "seed17000072_95": m072,
         "seed17000074_406": m074, "seed17000075_7": m075, "seed17000081_350": m081, "seed17000099_279": m099,
         "seed17000105_66": m105, "seed17000111_234": m111a, "seed17000111_306": m111b}


def _graph(model, X, W):
    with sg.Graph() as g:
        ps = [sg.placeholder(a.shape, a.dtype.name) for a in X]
        total, outs = loss(sg, model, ps, W)
        grads = sg.gradients(total, ps)
    return g, ps, list(outs), grads


def _static(model, X, W, save=None):
    g, ps, outs, grads = _graph(model, X, W)
    fetch = outs + [d for d in grads if d is not None]
    fn = sg.compile(fetch, inputs=ps, optimize=False)
    if save is not None:
        sg.save(fn, save)
        fn = sg.load(save)
    got = iter(fn(*X))
    return [next(got) for _ in outs] + [None if d is None else next(got) for d in grads]


def _assert_bitwise(got, expected):
    assert len(got) == len(expected)
    for k, (a, b) in enumerate(zip(got, expected)):
        if a is None and b is None:
            continue
        if a is None or b is None:  # no gradient on one side: zeros (+0.0) on the other
            other = np.asarray(b if a is None else a)
            assert not np.any(other != 0) and not np.signbit(other).any(), k
            continue
        a, b = np.asarray(a), np.asarray(b)
        assert (a.dtype, a.shape) == (b.dtype, b.shape), k
        assert a.tobytes() == b.tobytes(), f"value {k} differs: max |a - b| = {np.max(np.abs(a - b))}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_chained_pass_through_bitwise(name):
    X, W = _arrays(DATA[name]["X"]), _arrays(DATA[name]["W"])
    _assert_bitwise(_static(CASES[name], X, W), run_dyngraph(CASES[name], X, W))


@pytest.mark.parametrize("name", ["seed17000072_95", "seed17000074_406"])
def test_chained_pass_through_survives_save_load(name, tmp_path):
    X, W = _arrays(DATA[name]["X"]), _arrays(DATA[name]["W"])
    _assert_bitwise(_static(CASES[name], X, W, save=tmp_path / "f.json"), run_dyngraph(CASES[name], X, W))


def test_a_closure_beside_an_init_that_is_also_a_closure_bitwise():
    # x is the loop's init and a closure (its terms merged by step and consumer), W another
    # closure used in every step: W's terms must stay in step order too
    rng = np.random.default_rng(5)
    X, Wv = rng.standard_normal(200), rng.standard_normal(200)

    def body(h, c, W):
        return (h * c).tanh() + h * W

    with sg.Graph():
        x, W = sg.placeholder((200,), "float64"), sg.placeholder((200,), "float64")
        _, h = sg.while_loop(lambda i, h: i < 3, lambda i, h: (i + 1, body(h, x, W)), (sg.constant(np.int64(0)), x))
        loss = (h * W).sum() + (W * 1.5).sum()
        got = sg.compile(sg.gradients(loss, [x, W]), [x, W], optimize=False)(X, Wv)
    xt, Wt = dg.tensor(X, requires_grad=True), dg.tensor(Wv, requires_grad=True)
    h = xt
    for _ in range(3):
        h = body(h, xt, Wt)
    ((h * Wt).sum() + (Wt * 1.5).sum()).backward()
    _assert_bitwise(got, [xt.grad.numpy(), Wt.grad.numpy()])


@pytest.mark.parametrize("kind", ["while", "scan"])
def test_an_identity_cond_on_a_loop_result_among_its_other_consumers_bitwise(kind):
    # the final carry's consumers, in creation order: B, A1 (through the identity cond), C, A2;
    # the cotangents seed the loop's last step in that order, not the cond's terms first
    X = np.random.default_rng(7).standard_normal(300)

    def model(F, x, loop, ident):
        h = loop(x)
        v = ident(h)
        return (h * 1.1 + v * 1.3 + h.sin() + v.cos()).sum()

    with sg.Graph():
        x = sg.placeholder((300,), "float64")
        if kind == "while":
            def loop(v):
                return sg.while_loop(lambda i, h: i < 2, lambda i, h: (i + 1, (h * 0.9).tanh()), (sg.constant(np.int64(0)), v))[1]
        else:
            def loop(v):
                return sg.scan(lambda h, e: ((h * 0.9).tanh(), None), v, sg.constant(np.zeros((2, 1))))[0]
        loss = model(sg, x, loop, lambda h: sg.cond(x.sum() < 1e9, lambda a: a, lambda a: a * 2.0, h))
        got = sg.compile(sg.gradients(loss, x), [x], optimize=False)(X)

    def eager_loop(v):
        for _ in range(2):
            v = (v * 0.9).tanh()
        return v

    xt = dg.tensor(X, requires_grad=True)
    model(dg, xt, eager_loop, lambda h: h).backward()
    _assert_bitwise([got], [xt.grad.numpy()])


@pytest.mark.parametrize("T", [0, 1, 3])
@pytest.mark.parametrize("kind", ["while", "scan"])
def test_a_carry_the_body_returns_unchanged_is_the_initial_value_bitwise(kind, T):
    # c passes through every step: for dyngraph the result is the initial tensor, so its
    # consumers after the loop sum among x's other consumers in creation order
    X = np.random.default_rng(8).standard_normal(300)

    def model(F, x, loop):
        h, c = loop(x * 0.5, x)
        return (h + x * 1.1 + c * 1.3 + x.sin() + c.cos()).sum()

    with sg.Graph():
        x = sg.placeholder((300,), "float64")
        if kind == "while":
            def loop(h, c):
                return sg.while_loop(lambda i, h, c: i < T, lambda i, h, c: (i + 1, (h * c).tanh(), c),
                                     (sg.constant(np.int64(0)), h, c))[1:]
        else:
            def loop(h, c):
                return sg.scan(lambda hc, e: (((hc[0] * hc[1]).tanh(), hc[1]), None), (h, c), sg.constant(np.zeros((T, 1))))[0]
        got = sg.compile(sg.gradients(model(sg, x, loop), x), [x], optimize=False)(X)

    def eager_loop(h, c):
        for _ in range(T):
            h, c = (h * c).tanh(), c
        return h, c

    xt = dg.tensor(X, requires_grad=True)
    model(dg, xt, eager_loop).backward()
    _assert_bitwise([got], [xt.grad.numpy()])
