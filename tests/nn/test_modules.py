"""The Module API against PyTorch: parameter names and order, state_dict keys and
load_state_dict errors, train/eval, dropout off in eval, repr; each layer's forward and
gradients against torch.nn given the same weights (float64); dg.nn and sg.nn are one set of
classes."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg

torch = pytest.importorskip("torch")
tnn = torch.nn


class Net(dg.nn.Module):
    def __init__(self, nn):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.blocks = nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 8, bias=False)])
        self.head = nn.Sequential(nn.LayerNorm(8), nn.GELU(), nn.Dropout(0.1), nn.Linear(8, 3))
        self.emb = nn.Embedding(10, 8)
        self.cell = nn.LSTMCell(8, 5)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)


def test_same_classes_in_both_front_ends():
    assert dg.nn.Linear is sg.nn.Linear and dg.nn.Module is sg.nn.Module
    assert dg.nn.functional is sg.nn.functional


def test_parameter_names_order_and_shapes_match_pytorch():
    ours = Net(dg.nn)
    class TNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv = tnn.Conv2d(2, 4, 3, padding=1)
            self.blocks = tnn.ModuleList([tnn.Linear(8, 8), tnn.Linear(8, 8, bias=False)])
            self.head = tnn.Sequential(tnn.LayerNorm(8), tnn.GELU(), tnn.Dropout(0.1), tnn.Linear(8, 3))
            self.emb = tnn.Embedding(10, 8)
            self.cell = tnn.LSTMCell(8, 5)
            self.attn = tnn.MultiheadAttention(8, 2, batch_first=True)

    theirs = TNet()
    mine = [(n, tuple(p.shape)) for n, p in ours.named_parameters()]
    want = [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert mine == want
    assert list(ours.state_dict()) == list(theirs.state_dict())
    # the PyTorch model loads our state dict, and ours loads PyTorch's
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def test_default_initialisation_bounds_follow_pytorch():
    dg.manual_seed(0)
    lin = dg.nn.Linear(400, 30)
    w = lin.weight.detach().numpy()
    assert lin.weight.dtype == dg.float32 and w.shape == (30, 400)
    assert np.abs(w).max() <= 1 / 20 and np.abs(w).max() > 0.9 / 20  # U(-1/sqrt(in), 1/sqrt(in))
    ln = dg.nn.LayerNorm(6)
    assert np.all(ln.weight.detach().numpy() == 1) and np.all(ln.bias.detach().numpy() == 0)
    mha = dg.nn.MultiheadAttention(8, 2)
    assert np.all(mha.out_proj.bias.detach().numpy() == 0) and np.all(mha.in_proj_bias.detach().numpy() == 0)
    dg.manual_seed(3)
    a = dg.nn.Linear(3, 2).weight.detach().numpy()
    dg.manual_seed(3)
    assert np.array_equal(a, dg.nn.Linear(3, 2).weight.detach().numpy())  # seeded


def test_load_state_dict_errors_read_like_pytorchs():
    model = dg.nn.Sequential(dg.nn.Linear(3, 2))
    good = {k: v.numpy() for k, v in model.state_dict().items()}
    tmodel = tnn.Sequential(tnn.Linear(3, 2))
    for bad in ({"0.weight": good["0.weight"]}, {**good, "0.extra": np.ones(1)}):
        with pytest.raises(RuntimeError) as ours:
            model.load_state_dict(bad)
        with pytest.raises(RuntimeError) as theirs:
            tmodel.load_state_dict({k: torch.tensor(v) for k, v in bad.items()})
        assert str(ours.value) == str(theirs.value)
    wrong = {"0.weight": np.full((2, 3), 7.0), "0.bias": np.ones(3)}  # one fits, one does not
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError) as ours:
        model.load_state_dict(wrong)
    with pytest.raises(RuntimeError) as theirs:
        tmodel.load_state_dict({k: torch.tensor(v) for k, v in wrong.items()})
    assert str(ours.value) == str(theirs.value)
    for k, v in model.state_dict().items():  # nothing copied on failure, not even the key that fit
        assert np.array_equal(v.numpy(), before[k]), k
    res = model.load_state_dict({"0.weight": np.zeros((2, 3)), "x": np.ones(1)}, strict=False)
    assert res.missing_keys == ["0.bias"] and res.unexpected_keys == ["x"]
    assert np.all(model[0].weight.detach().numpy() == 0)


def test_repr_matches_pytorch():
    ours = dg.nn.Sequential(dg.nn.Linear(3, 4), dg.nn.ReLU(), dg.nn.Dropout(0.2), dg.nn.Conv2d(1, 2, 3, stride=2),
                            dg.nn.LayerNorm(4), dg.nn.GELU(), dg.nn.Embedding(5, 2), dg.nn.LSTMCell(3, 2))
    theirs = tnn.Sequential(tnn.Linear(3, 4), tnn.ReLU(), tnn.Dropout(0.2), tnn.Conv2d(1, 2, 3, stride=2),
                            tnn.LayerNorm(4), tnn.GELU(), tnn.Embedding(5, 2), tnn.LSTMCell(3, 2))
    assert repr(ours) == repr(theirs)


def test_train_eval_and_dropout():
    model = dg.nn.Sequential(dg.nn.Linear(4, 4), dg.nn.Dropout(0.5))
    assert model.training and model[1].training
    x = dg.ones(3, 4)
    model.eval()
    assert not model[1].training
    assert np.array_equal(model(x).detach().numpy(), model[0](x).detach().numpy())  # dropout off in eval
    model.train()
    y = model(x).detach().numpy()
    ref = model[0](x).detach().numpy()
    kept = y != 0
    assert 0 < kept.sum() < y.size
    np.testing.assert_allclose(y[kept], 2 * ref[kept], rtol=1e-6)  # kept elements scaled by 1 / (1 - p)


def test_dropout_mask_is_the_same_in_both_front_ends_for_a_seed():
    x = np.arange(1.0, 61.0).reshape(6, 10)
    a = dg.nn.functional.dropout(dg.tensor(x), 0.3, seed=11).numpy()
    with sg.Graph():
        b = sg.compile(sg.nn.functional.dropout(sg.constant(x), 0.3, seed=11), inputs=[], optimize=False)()
    assert np.array_equal(a, b)
    assert not np.array_equal(a, dg.nn.functional.dropout(dg.tensor(x), 0.3, seed=12).numpy())


def test_zero_grad_to_double_and_float():
    model = dg.nn.Linear(3, 2)
    model(dg.ones(1, 3)).sum().backward()
    assert model.weight.grad is not None
    model.zero_grad()
    assert model.weight.grad is None
    model.double()
    assert model.weight.dtype == dg.float64 and model(dg.ones(1, 3, dtype="float64")).dtype == dg.float64
    model.to(dg.float32)
    assert model.bias.dtype == dg.float32


def test_staticgraph_parameters_are_variables_of_the_graph():
    with sg.Graph() as g:
        model = sg.nn.Sequential(sg.nn.Linear(3, 2), sg.nn.Tanh())
        x = sg.placeholder((None, 3))
        y = model(x)
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias"] and all(v.op == "variable" and v.graph is g for v in sd.values())
    w = np.arange(6.0).reshape(2, 3).astype("float32")
    model.load_state_dict({"0.weight": w, "0.bias": dg.zeros(2)})  # NumPy arrays or front-end tensors
    sess = sg.Session(g, optimize=False)
    np.testing.assert_array_equal(sess.run(sd["0.weight"]), w)
    np.testing.assert_allclose(sess.run(y, {x: np.ones((1, 3), "float32")}), np.tanh(w.sum(1))[None], rtol=1e-6)


def _twins(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def _check(ours_out, theirs_out, ours_params, theirs_params, inputs):
    ours_out = ours_out if isinstance(ours_out, tuple) else (ours_out,)
    theirs_out = theirs_out if isinstance(theirs_out, tuple) else (theirs_out,)
    for a, b in zip(ours_out, theirs_out):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    loss = sum((o * (k + 1.0)).sum() for k, o in enumerate(ours_out))
    tloss = sum((o * (k + 1.0)).sum() for k, o in enumerate(theirs_out))
    loss.backward()
    tloss.backward()
    for (n, p), (_, q) in zip(ours_params, theirs_params):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=n)
    for a, b in inputs:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-11)


LAYERS = {
    "linear": (lambda nn: nn.Linear(5, 3), (4, 5)),
    "conv": (lambda nn: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2), (2, 4, 7, 6)),
    "layer_norm": (lambda nn: nn.LayerNorm((3, 5)), (4, 3, 5)),
    "rnn_cell": (lambda nn: nn.RNNCell(5, 3), (4, 5)),
    "lstm_cell": (lambda nn: nn.LSTMCell(5, 3), (4, 5)),
    "attention": (lambda nn: nn.MultiheadAttention(6, 2, batch_first=True), (2, 4, 6)),
    "attention_seq_first": (lambda nn: nn.MultiheadAttention(6, 3), (4, 2, 6)),
    "gelu_tanh": (lambda nn: nn.Sequential(nn.Linear(5, 5), nn.GELU("tanh"), nn.SiLU()), (3, 5)),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_forward_and_gradients_match_pytorch(name):
    make, shape = LAYERS[name]
    ours, theirs = _twins(make(dg.nn).double(), make(tnn).double())
    xv = np.random.default_rng(0).standard_normal(shape)
    x, tx = dg.tensor(xv, requires_grad=True), torch.tensor(xv, requires_grad=True)
    if name.startswith("attention"):
        out = ours(x, x, x)
        tout = theirs(tx, tx, tx)
    elif name == "lstm_cell":
        h0 = np.random.default_rng(1).standard_normal((4, 3))
        out = ours(x, (dg.tensor(h0), dg.tensor(h0 * 0.5)))
        tout = theirs(tx, (torch.tensor(h0), torch.tensor(h0 * 0.5)))
    else:
        out, tout = ours(x), theirs(tx)
    _check(out, tout, list(ours.named_parameters()), list(theirs.named_parameters()), [(x, tx)])


@pytest.mark.torch
def test_embedding_and_masked_attention_match_pytorch():
    emb, temb = _twins(dg.nn.Embedding(7, 6).double(), tnn.Embedding(7, 6).double())
    mha, tmha = _twins(dg.nn.MultiheadAttention(6, 2, batch_first=True).double(),
                       tnn.MultiheadAttention(6, 2, batch_first=True).double())
    idx = np.array([[1, 3, 3, 6], [0, 2, 5, 1]])
    mask = np.triu(np.ones((4, 4), dtype=bool), 1)
    pad = np.array([[False, False, False, True], [False, False, False, False]])
    x, tx = emb(dg.tensor(idx)), temb(torch.tensor(idx))
    out = mha(x, x, x, attn_mask=mask, key_padding_mask=pad)
    tout = tmha(tx, tx, tx, attn_mask=torch.tensor(mask), key_padding_mask=torch.tensor(pad))
    _check(out, tout, list(emb.named_parameters()) + list(mha.named_parameters()),
           list(temb.named_parameters()) + list(tmha.named_parameters()), [])


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_pytorch(reduction):
    rng = np.random.default_rng(2)
    logits, target = rng.standard_normal((6, 4)), np.array([0, 3, 1, -100, 2, 3])
    x, tx = dg.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    F, TF = dg.nn.functional, torch.nn.functional
    pairs = [
        (F.cross_entropy(x, target, reduction=reduction), TF.cross_entropy(tx, torch.tensor(target), reduction=reduction)),
        (F.cross_entropy(x, np.abs(target) % 4, reduction=reduction, label_smoothing=0.1),
         TF.cross_entropy(tx, torch.tensor(np.abs(target) % 4), reduction=reduction, label_smoothing=0.1)),
        (F.mse_loss(x, logits[::-1].copy(), reduction=reduction), TF.mse_loss(tx, torch.tensor(logits[::-1].copy()), reduction=reduction)),
        (F.l1_loss(x, logits * 0.5, reduction=reduction), TF.l1_loss(tx, torch.tensor(logits * 0.5), reduction=reduction)),
        (F.binary_cross_entropy_with_logits(x, (logits > 0) * 1.0, reduction=reduction),
         TF.binary_cross_entropy_with_logits(tx, torch.tensor((logits > 0) * 1.0), reduction=reduction)),
    ]
    for ours, theirs in pairs:
        x.grad, tx.grad = None, None
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_static_dropout_draws_a_new_mask_every_training_run():
    sg.nn.manual_seed(0)
    with sg.Graph() as g:
        model = sg.nn.Sequential(sg.nn.Linear(4, 16), sg.nn.Dropout(0.5))
        x = sg.placeholder((2, 4))
        out = model(x)
        train = sg.train.GradientDescentOptimizer(0.0).minimize((out * out).sum())
    sess = sg.Session(g, optimize=False)
    feed = {x: np.ones((2, 4), "float32")}
    first = sess.run(out, feed) != 0
    assert np.array_equal(first, sess.run(out, feed) != 0)  # no training run in between: the same mask
    sess.run(train, feed)
    assert not np.array_equal(first, sess.run(out, feed) != 0)  # minimize advanced the graph's nn_step


def test_modules_and_optimisers_run_on_array_api_strict_with_numpys_values():
    """The modules use the array API only: the same training step on array-api-strict gives
    NumPy's numbers (the kernels are the same arithmetic)."""
    from shared_ops import use_backend

    def run():
        dg.manual_seed(0)
        m = dg.nn.Sequential(dg.nn.Linear(5, 8), dg.nn.GELU(), dg.nn.LayerNorm(8), dg.nn.Linear(8, 3))
        cell = dg.nn.LSTMCell(5, 4)
        opt = dg.optim.AdamW(list(m.parameters()) + list(cell.parameters()), lr=0.01)
        x = dg.tensor(np.linspace(-1, 1, 30, dtype="float32").reshape(6, 5))
        losses = []
        for _ in range(2):
            opt.zero_grad()
            loss = dg.nn.functional.cross_entropy(m(x), np.array([0, 1, 2, 0, 1, 2])) + cell(x)[0].sum()
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
        return losses

    with use_backend("array_api_strict"):
        strict = run()
    np.testing.assert_allclose(strict, run(), rtol=1e-6)
