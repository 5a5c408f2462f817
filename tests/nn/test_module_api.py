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


class Scaled(dg.nn.Module):
    """A linear layer times a frozen per-output scale (a Parameter with requires_grad=False)."""

    def __init__(self, nn):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.scale = nn.Parameter(np.array([2.0, -1.0], dtype="float32"), requires_grad=False)

    def forward(self, x):
        return self.lin(x) * self.scale


@pytest.mark.torch
def test_frozen_parameters_are_kept_and_not_trained_as_in_pytorch():
    class TScaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)
            self.scale = torch.nn.Parameter(torch.tensor([2.0, -1.0]), requires_grad=False)

        def forward(self, x):
            return self.lin(x) * self.scale

    ours, theirs = Scaled(dg.nn).double(), TScaled().double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["scale", "lin.weight", "lin.bias"]
    ours.lin.weight.requires_grad_(False)  # frozen after construction, the fine-tuning pattern
    theirs.lin.weight.requires_grad_(False)
    assert [n for n, p in ours.named_parameters() if p.requires_grad] == ["lin.bias"]
    opt, topt = dg.optim.SGD(ours.parameters(), lr=0.1, momentum=0.5), torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.5)
    x = np.random.default_rng(0).standard_normal((4, 3))
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        (ours(dg.tensor(x)) ** 2).sum().backward()
        (theirs(torch.tensor(x)) ** 2).sum().backward()
        opt.step()
        topt.step()
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-12, err_msg=k)
    assert np.array_equal(ours.scale.numpy(), [2.0, -1.0])
    ours.float().load_state_dict(ours.state_dict())  # still parameters: converted, saved and loaded
    assert ours.scale.dtype == dg.float32 and not ours.scale.requires_grad


def test_frozen_parameters_in_staticgraph_are_left_out_of_minimize():
    with sg.Graph() as g:
        model = Scaled(sg.nn)
        x = sg.placeholder((4, 3))
        train = sg.train.GradientDescentOptimizer(0.1).minimize((model(x) ** 2).sum())
    assert list(model.state_dict()) == ["scale", "lin.weight", "lin.bias"]
    sess = sg.Session(g, optimize=False)
    start = sess.run(model.state_dict())
    sess.run(train, {x: np.ones((4, 3), "float32")})
    end = sess.run(model.state_dict())
    assert np.array_equal(start["scale"], end["scale"]) and not np.array_equal(start["lin.weight"], end["lin.weight"])
    model.double()
    assert model.scale.dtype == "float64"
    with g:
        again = sg.train.GradientDescentOptimizer(0.1).minimize((model(sg.placeholder((4, 3), "float64")) ** 2).sum())
    assigned = {a.inputs[0].id for a in again}
    assert model.lin.weight.id in assigned and model.scale.id not in assigned  # converted, still frozen
