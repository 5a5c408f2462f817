"""``nn.functional`` against ``torch.nn.functional`` (values and gradients, float64), and every
layer bitwise equal in dyngraph and staticgraph (``optimize=False``): one model code, the same
kernels, identical results."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg

torch = pytest.importorskip("torch")
F, TF = dg.nn.functional, torch.nn.functional
R = np.random.default_rng(7)


def arr(*shape):
    return R.standard_normal(shape)


IDX = np.array([[1, 3, 0], [4, 4, 2]])
T5 = np.array([0, 3, 1, 1, 4, 2])
MASK = np.tril(np.ones((3, 5), dtype=bool)) | np.eye(3, 5, 4, dtype=bool)  # every row keeps one key
# name -> (ours(F, *inputs), theirs(TF, *inputs), inputs: float arrays get gradients, int arrays do not)
CASES = {
    "linear": (lambda f, x, w, b: f.linear(x, w, b), None, [arr(4, 3), arr(2, 3), arr(2)]),
    "linear_no_bias": (lambda f, x, w: f.linear(x, w), None, [arr(4, 3), arr(2, 3)]),
    "embedding": (lambda f, i, w: f.embedding(i, w), None, [IDX, arr(5, 3)]),
    "conv2d": (lambda f, x, w, b: f.conv2d(x, w, b, stride=2, padding=1), None, [arr(2, 3, 7, 6), arr(4, 3, 3, 2), arr(4)]),
    "conv2d_groups": (lambda f, x, w: f.conv2d(x, w, None, 1, (1, 0), (2, 1), 2), None, [arr(1, 4, 6, 5), arr(6, 2, 2, 3)]),
    "max_pool2d": (lambda f, x: f.max_pool2d(x, 2), None, [arr(2, 3, 6, 5)]),
    "max_pool2d_padded": (lambda f, x: f.max_pool2d(x, 3, stride=2, padding=1), None, [arr(1, 2, 7, 6)]),
    "max_pool2d_indices": (lambda f, x: f.max_pool2d(x, (2, 3), return_indices=True), None, [arr(1, 2, 4, 6)]),
    "avg_pool2d": (lambda f, x: f.avg_pool2d(x, 2), None, [arr(2, 3, 6, 5)]),
    "avg_pool2d_padded": (lambda f, x: f.avg_pool2d(x, 3, 2, 1), None, [arr(1, 2, 7, 6)]),
    "layer_norm": (lambda f, x, w, b: f.layer_norm(x, (4,), w, b, eps=1e-6), None, [arr(3, 2, 4), arr(4), arr(4)]),
    "layer_norm_2d": (lambda f, x: f.layer_norm(x, (2, 4)), None, [arr(3, 2, 4)]),
    "sdpa": (lambda f, q, k, v: f.scaled_dot_product_attention(q, k, v), None, [arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 6)]),
    "sdpa_bool_mask": (lambda f, q, k, v, m: f.scaled_dot_product_attention(q, k, v, attn_mask=m), None,
                       [arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 6), MASK]),
    "sdpa_float_mask_scale": (lambda f, q, k, v, m: f.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3), None,
                              [arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 6), arr(3, 5)]),
    "sdpa_causal": (lambda f, q, k, v: f.scaled_dot_product_attention(q, k, v, is_causal=True), None,
                    [arr(2, 4, 4), arr(2, 4, 4), arr(2, 4, 3)]),
    "nll_loss": (lambda f, x, t: f.nll_loss(f.log_softmax(x, 1), t, ignore_index=1), None, [arr(6, 5), T5]),
    "nll_loss_sum": (lambda f, x, t: f.nll_loss(f.log_softmax(x, 1), t, reduction="sum"), None, [arr(6, 5), T5]),
    "nll_loss_none": (lambda f, x, t: f.nll_loss(f.log_softmax(x, 1), t, reduction="none"), None, [arr(6, 5), T5]),
    "cross_entropy_spatial": (lambda f, x, t: f.cross_entropy(x, t), None, [arr(3, 4, 5), T5[:5][None].repeat(3, 0) % 4]),
    "cross_entropy_1d": (lambda f, x, t: f.cross_entropy(x, t), None, [arr(5), np.array(2)]),
    "pad": (lambda f, x: f.pad(x, (1, 2, 0, 1), value=0.5), None, [arr(2, 3, 4)]),
    "gelu": (lambda f, x: f.gelu(x), None, [arr(3, 4)]),
    "gelu_tanh": (lambda f, x: f.gelu(x, approximate="tanh"), None, [arr(3, 4)]),
    "silu": (lambda f, x: f.silu(x), None, [arr(3, 4)]),
    "softplus": (lambda f, x: f.softplus(x * 3, beta=2.0, threshold=1.0), None, [arr(3, 4)]),
    "relu_tanh_sigmoid": (lambda f, x: f.relu(x) + f.tanh(x) * f.sigmoid(x), None, [arr(3, 4)]),
    "softmax_log_softmax": (lambda f, x: f.softmax(x, 0) + f.log_softmax(x, dim=1), None, [arr(3, 4)]),
    "dropout_eval": (lambda f, x: f.dropout(x, 0.5, training=False), None, [arr(3, 4)]),
    "mse_l1_bce": (lambda f, x, y: f.mse_loss(x, y) + f.l1_loss(x, y, reduction="sum")
                   + f.binary_cross_entropy_with_logits(x, y.sigmoid()), None, [arr(3, 4), arr(3, 4)]),
}


def _as_list(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.torch
@pytest.mark.parametrize("name", list(CASES))
def test_functional_matches_pytorch(name):
    fn, _, arrays = CASES[name]
    ours = [dg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    outs, touts = _as_list(fn(F, *ours)), _as_list(fn(TF, *theirs))
    for o, t in zip(outs, touts):
        assert o.shape == tuple(t.shape) and o.dtype.name == str(t.dtype).split(".")[-1], name
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    weights = [R.standard_normal(tuple(t.shape)) for t in touts if t.dtype.is_floating_point]
    sum(((o * w).sum() for o, w in zip(outs, weights)), dg.tensor(0.0, dtype="float64")).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(touts, weights)).backward()
    for k, (a, b) in enumerate(zip(ours, theirs)):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"{name} input {k}")


def test_one_hot_is_int64_as_pytorchs():
    got = F.one_hot(dg.tensor(T5), 5)
    want = TF.one_hot(torch.tensor(T5), 5)
    assert got.dtype == dg.int64 and np.array_equal(got.numpy(), want.numpy())
    assert np.array_equal(F.one_hot(dg.tensor(T5)).numpy(), TF.one_hot(torch.tensor(T5)).numpy())  # classes from the max


# --------------------------------------------------------------------------- both front ends, bitwise

LAYERS = {
    "linear": (lambda nn: nn.Linear(5, 3), (4, 5)),
    "conv_groups_dilation": (lambda nn: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
                             (2, 4, 7, 6)),
    "cnn": (lambda nn: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(), nn.AvgPool2d(2, stride=1),
                                     nn.Flatten(), nn.Linear(18, 2)), (2, 2, 6, 8)),
    "layer_norm_gelu": (lambda nn: nn.Sequential(nn.LayerNorm(5), nn.GELU(), nn.Linear(5, 5), nn.GELU("tanh"), nn.SiLU()),
                        (3, 5)),
    "rnn_cell_relu": (lambda nn: nn.RNNCell(5, 3, nonlinearity="relu"), (4, 5)),
    "lstm_cell": (lambda nn: nn.LSTMCell(5, 3), (4, 5)),
    "attention": (lambda nn: nn.MultiheadAttention(6, 2, batch_first=True), (2, 4, 6)),
    "attention_seq_first": (lambda nn: nn.MultiheadAttention(6, 3), (4, 2, 6)),
    "embedding": (lambda nn: nn.Embedding(7, 4), None),
}


def _forward(model, name, x):
    if name.startswith("attention"):
        out, weights = model(x, x, x)
        return (out * out).sum() + weights.sum() * 0.5
    if name == "lstm_cell":
        h, c = model(x)
        return (h * c).sum() + (h * h).sum()
    out = model(x)
    return (out * out).sum()


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_is_bitwise_equal_in_both_front_ends(name):
    make, shape = LAYERS[name]
    xv = np.array([[1, 3, 6], [0, 2, 2]]) if shape is None else np.random.default_rng(3).standard_normal(shape)
    dg.manual_seed(0)
    model = make(dg.nn).double()
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    x = dg.tensor(xv, requires_grad=shape is not None)
    loss = _forward(model, name, x)
    loss.backward()
    with sg.Graph() as g:
        smodel = make(sg.nn).double()
        smodel.load_state_dict(state)
        xs = sg.placeholder(xv.shape, xv.dtype.name)
        sloss = _forward(smodel, name, xs)
        params = list(smodel.state_dict().values())
        grads = sg.gradients(sloss, params + ([xs] if shape is not None else []))
    got = sg.Session(g, optimize=False).run([sloss, *grads], {xs: xv})
    want = [loss.detach().numpy()] + [p.grad.numpy() for p in model.parameters()] + ([x.grad.numpy()] if shape else [])
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"{name}: output {k} differs"
