"""More of the Module API against PyTorch: ``repr`` of every module, ``to``/``double``/``float``,
``load_state_dict`` from front-end tensors and NumPy in both front ends (PyTorch's error texts,
nothing copied on failure), ``train``/``eval`` of static modules."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg

torch = pytest.importorskip("torch")


def every_module(nn):
    return nn.Sequential(
        nn.ModuleList([nn.Tanh(), nn.Sigmoid(), nn.SiLU(), nn.ReLU(), nn.GELU(), nn.GELU("tanh")]),
        nn.RNNCell(3, 2), nn.RNNCell(3, 2, bias=False, nonlinearity="relu"), nn.LSTMCell(3, 2, bias=False),
        nn.MultiheadAttention(4, 2), nn.MultiheadAttention(4, 2, batch_first=True, bias=False),
        nn.Flatten(), nn.Flatten(0, 2), nn.MaxPool2d(2), nn.MaxPool2d((2, 3), stride=1, padding=1),
        nn.AvgPool2d(2), nn.AvgPool2d(3, 2, 1),
        nn.Conv2d(4, 4, (3, 2), stride=(2, 1), padding=1, dilation=2, groups=2, bias=False), nn.Conv2d(1, 2, 3),
        nn.Linear(3, 4, bias=False), nn.LayerNorm((3, 4), elementwise_affine=False), nn.LayerNorm(3, eps=1e-6, bias=False),
        nn.Dropout(), nn.Dropout(0.25), nn.Embedding(5, 3),
    )


def test_repr_of_every_module_is_pytorchs():
    assert repr(every_module(dg.nn)) == repr(every_module(torch.nn))
    with sg.Graph():
        assert repr(every_module(sg.nn)) == repr(every_module(torch.nn))


def test_names_of_every_module_are_pytorchs():
    ours, theirs = every_module(dg.nn), every_module(torch.nn)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})


def test_to_double_float_in_both_front_ends():
    model = dg.nn.Sequential(dg.nn.Linear(3, 2), dg.nn.LayerNorm(2))
    assert model.double() is model and {p.dtype for p in model.parameters()} == {dg.float64}
    assert model.float() is model and {p.dtype for p in model.parameters()} == {dg.float32}
    model.to("cpu", dg.float64)
    assert {p.dtype for p in model.parameters()} == {dg.float64}
    model.to(dtype="float32", device="cpu")
    assert {p.dtype for p in model.parameters()} == {dg.float32}
    with pytest.raises(ValueError, match="CPU"):
        model.to("cuda")
    with sg.Graph() as g:
        smodel = sg.nn.Linear(3, 2).double()
        x = sg.placeholder((None, 3), "float64")
        y = smodel(x)
    assert y.dtype == "float64" and all(v.dtype == "float64" for v in smodel.state_dict().values())
    assert sg.Session(g).run(y, {x: np.ones((1, 3))}).dtype == np.float64


def test_load_state_dict_in_staticgraph_reads_like_pytorch_and_copies_nothing_on_failure():
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with sg.Graph() as g:
        model = sg.nn.Sequential(sg.nn.Linear(3, 2))
    start = sg.Session(g).run(model.state_dict())
    for bad in ({"0.weight": np.ones((2, 3))}, {"0.weight": np.ones((2, 3)), "0.bias": np.ones(2), "x": np.ones(1)},
                {"0.weight": np.ones((2, 3)), "0.bias": np.ones(5)}):
        with pytest.raises(RuntimeError) as ours:
            model.load_state_dict(bad)
        with pytest.raises(RuntimeError) as theirs:
            tmodel.load_state_dict({k: torch.tensor(v) for k, v in bad.items()})
        assert str(ours.value) == str(theirs.value)
    after = sg.Session(g).run(model.state_dict())
    assert all(np.array_equal(after[k], start[k]) for k in start)
    # front-end tensors (dyngraph's) and NumPy arrays both load
    source = dg.nn.Sequential(dg.nn.Linear(3, 2))
    model.load_state_dict(source.state_dict())
    loaded = sg.Session(g).run(model.state_dict())
    assert all(np.array_equal(loaded[k], v.numpy()) for k, v in source.state_dict().items())


def test_dyngraph_loads_tensors_of_its_own_and_keeps_the_parameters():
    a, b = dg.nn.Linear(3, 2), dg.nn.Linear(3, 2)
    weight = b.weight
    b.load_state_dict(a.state_dict())
    assert b.weight is weight and b.weight.is_leaf and b.weight.requires_grad  # copied into, not replaced
    assert np.array_equal(b.weight.detach().numpy(), a.weight.detach().numpy())


def test_train_eval_of_a_static_module_switches_dropout():
    with sg.Graph() as g:
        model = sg.nn.Sequential(sg.nn.Linear(4, 32), sg.nn.Dropout(0.5))
        x = sg.placeholder((2, 4))
        model.eval()
        off = model(x)
        model.train()
        on = model(x)
        plain = model[0](x)
    sess = sg.Session(g, optimize=False)
    feed = {x: np.ones((2, 4), "float32")}
    got_off, got_on, ref = sess.run([off, on, plain], feed)
    assert np.array_equal(got_off, ref)  # dropout off in eval
    kept = got_on != 0
    assert 0 < kept.sum() < kept.size and np.allclose(got_on[kept], 2 * ref[kept])
