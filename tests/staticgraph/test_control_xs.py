"""A value reaching the loss through a scan's ``xs`` and other paths of the same loop
(``control_xs_models``): with ``optimize=False`` staticgraph's gradient is bitwise dyngraph's
Python loop, for float32 and float64 and lengths 1 to 5; with ``optimize=True`` it agrees
within the tolerance; PyTorch (float64) agrees within rounding; a saved and loaded gradient
gives the same bits."""

import numpy as np
import pytest
import torch
from control_xs_models import MODELS, arrays

import dyngraph as dg
import staticgraph as sg
from staticgraph.control.kernels import Loop

LENGTHS = (1, 2, 3, 5)


def eager(name: str, arrs: list, lib=dg) -> list:
    ts = [lib.tensor(a, requires_grad=True) for a in arrs]
    MODELS[name](lib, *ts).backward()
    return [None if t.grad is None else t.grad.detach().numpy() for t in ts]


def static(name: str, arrs: list, optimize=False):
    """The compiled gradients of every input (``None`` where unconnected) and the function."""
    with sg.Graph():
        ps = [sg.placeholder((None,) + a.shape[1:] if k == 0 else a.shape, str(a.dtype)) for k, a in enumerate(arrs)]
        gs = sg.gradients(MODELS[name](sg, *ps), ps)
        fn = sg.compile([g for g in gs if g is not None], inputs=ps, optimize=optimize)
    return [k for k, g in enumerate(gs) if g is not None], fn


def run(fn, have: list, arrs: list) -> list:
    out = list(fn(*arrs))
    return [out.pop(0) if k in have else None for k in range(len(arrs))]


def bits(a) -> bytes | None:
    return None if a is None else a.tobytes()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bitwise_dyngraph_at_O0(name):
    """One graph (a free number of steps) for every length, float32 and float64."""
    for dtype in ("float64", "float32"):
        have, fn = static(name, arrays(name, 2, dtype, 0))
        for T in LENGTHS:
            for seed in range(2):
                arrs = arrays(name, T, dtype, seed)
                got, want = run(fn, have, arrs), eager(name, arrs)
                assert [bits(g) for g in got] == [bits(w) for w in want], (dtype, T, seed, [
                    None if g is None or w is None else float(np.max(np.abs(g - w))) for g, w in zip(got, want)])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_optimized_and_torch_agree(name):
    for dtype, rtol in (("float64", 1e-10), ("float32", 2e-4)):
        have, fn = static(name, arrays(name, 2, dtype, 0), optimize=True)
        for T in (1, 3):
            arrs = arrays(name, T, dtype, 1)
            for g, w in zip(run(fn, have, arrs), eager(name, arrs)):
                assert (g is None) == (w is None)
                if g is not None:
                    np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)
    arrs = arrays(name, 3, "float64", 2)
    for g, w in zip(eager(name, arrs), eager(name, arrs, torch)):
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def _terms_of_captured_once(arrs):
    """The gradient terms of xs in ``captured_once`` (length 4), each from a leaf of its own:
    the rows' (``xs[t]``) and the closure's per step."""
    xs, h0 = arrs[0], dg.tensor(arrs[1])
    rows = [dg.tensor(xs[t], requires_grad=True) for t in range(4)]
    caps = [dg.tensor(xs, requires_grad=True) for _ in range(4)]
    h, ys = h0, []
    for t in range(4):
        h, y = h * 0.5 + (caps[t] * rows[t]).sum(), rows[t] * 2.0
        ys.append(y)
    ((h * h).sum() + (dg.stack(ys) * dg.stack(ys)).sum()).backward()
    return [r.grad.numpy() for r in rows], [c.grad.numpy() for c in caps]


def test_the_reported_case_is_bitwise_where_the_old_order_was_not():
    """``captured_once`` at length 4 (the reported case): dyngraph sums xs's terms step by step
    (row t scattered, then step t's closure term); adding the stacked rows first, then the
    closure's terms, differs in the last bits on most inputs. staticgraph gives dyngraph's."""
    have, fn = static("captured_once", [np.zeros((4, 5)), np.zeros(5), np.zeros(5)])
    rng = np.random.default_rng(0)
    old_differs = 0
    for _ in range(20):
        arrs = [rng.standard_normal((4, 5)), rng.standard_normal(5), rng.standard_normal(5)]
        got, want = run(fn, have, arrs), eager("captured_once", arrs)
        assert got[0].tobytes() == want[0].tobytes()
        rows, caps = _terms_of_captured_once(arrs)
        step_by_step = []
        for t in range(4):
            s = np.zeros((4, 5))
            s[t] = rows[t]
            step_by_step += [s, caps[t]]
        assert sum(step_by_step[1:], step_by_step[0]).tobytes() == want[0].tobytes()
        old = sum(caps, np.stack(rows) + 0.0)
        old_differs += old.tobytes() != want[0].tobytes()
    assert old_differs >= 10, old_differs


def test_a_scan_capturing_its_xs_hands_the_rows_out_as_terms():
    """The gradient node of such a scan gives the xs one term per step, merged with the
    closure's (``info["xterms"]``); a plain scan keeps one stacked array."""
    for name, expect in (("captured_once", [True]), ("used_after", [False])):
        _, fn = static(name, arrays(name, 2, "float64", 0))
        grads = [n.payload for n in fn.program.nodes if isinstance(n.payload, Loop) and n.payload.kind == "scan_grad"]
        assert [g.cf.n["xterms"] for g in grads] == [expect]
        assert bool(grads[0].cf.n["merge"]) == expect[0]


@pytest.mark.parametrize("optimize", [False, True])
def test_saved_and_loaded_gradient_keeps_the_bits(tmp_path, optimize):
    name = "captured_used_before_and_after"
    have, fn = static(name, arrays(name, 2, "float64", 0), optimize=optimize)
    sg.save(fn, tmp_path / "g.json")
    again = sg.load(tmp_path / "g.json")
    for T in (1, 4):
        arrs = arrays(name, T, "float64", 3)
        assert [bits(a) for a in run(fn, have, arrs)] == [bits(b) for b in run(again, have, arrs)]


def test_no_step_gives_zeros_for_xs():
    """A scan of no step: xs (connected in the graph) gets zeros, the initial carry its own terms."""
    have, fn = static("captured_once", [np.zeros((2, 5)), np.zeros(5), np.zeros(5)])
    h0 = np.linspace(-1.0, 1.0, 5)
    gx, gh, gw = run(fn, have, [np.zeros((0, 5)), h0, np.ones(5)])
    assert gx.shape == (0, 5) and gw is None
    assert gh.tobytes() == (h0 + h0).tobytes()


@pytest.mark.parametrize("name", ["captured_once", "xs_twice_and_captured", "init_is_xs"])
def test_second_order_agrees_with_torch(name):
    """The gradient of ``sum(c * dloss/dxs)``: the rows' terms of the first gradient are
    differentiated like its stacked rows (within rounding: second order is not bitwise)."""
    arrs = arrays(name, 3, "float64", 1)
    c = np.random.default_rng(5).standard_normal(arrs[0].shape)
    with sg.Graph():
        ps = [sg.placeholder(a.shape, "float64") for a in arrs]
        gx = sg.gradients(MODELS[name](sg, *ps), ps[0])
        second = sg.gradients((gx * sg.constant(c)).sum(), ps)
        fn = sg.compile([g for g in second if g is not None], inputs=ps, optimize=False)
    ts = [torch.tensor(a, requires_grad=True) for a in arrs]
    (tx,) = torch.autograd.grad(MODELS[name](torch, *ts), ts[0], create_graph=True)
    want = [w for w in torch.autograd.grad((tx * torch.tensor(c)).sum(), ts, allow_unused=True) if w is not None]
    got = fn(*arrs)
    assert len(got) == len(want) >= 1
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["captured_used_before_and_after", "carry_becomes_captured"])
def test_the_rows_terms_run_on_array_api_strict(name):
    """The rows' scattered terms and the keyed sums use the array API only: the same bits."""
    xp = pytest.importorskip("array_api_strict")
    arrs = arrays(name, 3, "float64", 4)
    have, fn = static(name, arrs)
    got, want = run(fn, have, [xp.asarray(a) for a in arrs]), run(fn, have, arrs)
    assert all(type(g).__module__.startswith("array_api_strict") for g in got if g is not None)
    assert [None if g is None else np.asarray(g).tobytes() for g in got] == [bits(w) for w in want]
