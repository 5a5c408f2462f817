"""softmax_cross_entropy refuses labels that are not one integer class index per row, on both
front ends and with the same words: dyngraph runs an op's shape rule only once its kernel
fails, so the kernel must fail where NumPy would compute something (float labels, an (N, 1)
column broadcasting against the classes)."""

import numpy as np
import pytest

import dyngraph as dg
import shared_ops
import staticgraph as sg

X = np.random.default_rng(0).standard_normal((6, 4)).astype("float32")
LABELS = np.array([0, 3, 1, 2, 2, 0])

BAD = [
    (LABELS.reshape(6, 1), "ShapeError", r"labels must have 1 dimension .*got shape \(6, 1\); flatten a column with labels.reshape\(-1\)"),
    (LABELS.reshape(2, 3), "ShapeError", r"labels must have 1 dimension .*got shape \(2, 3\)"),
    (LABELS.astype("float32"), "DTypeError", r"labels must be integers \(class indices\), got float32; convert them with .astype\('int64'\)"),
    (LABELS.astype("float64").reshape(6, 1), "ShapeError", r"got shape \(6, 1\)"),
    (LABELS.astype(bool), "DTypeError", r"got bool"),
]


def _dyn(labels, requires_grad):
    return dg.softmax_cross_entropy(dg.tensor(X, requires_grad=requires_grad), dg.tensor(labels))


def _static(labels):
    with sg.Graph():
        return sg.softmax_cross_entropy(sg.placeholder(X.shape), sg.placeholder(labels.shape, str(labels.dtype)))


@pytest.mark.parametrize("labels,kind,words", BAD, ids=["column", "matrix", "float", "float-column", "bool"])
@pytest.mark.parametrize("requires_grad", [True, False])
def test_both_front_ends_refuse_the_labels_with_the_same_words(labels, kind, words, requires_grad):
    with pytest.raises(getattr(dg, kind), match=words) as dyn:  # also a RuntimeError, as PyTorch's
        _dyn(labels, requires_grad)
    with pytest.raises(getattr(shared_ops, kind), match=words) as static:
        _static(labels)
    assert str(dyn.value).split("\n")[0] == str(static.value).split("\n")[0]
    assert "softmax_cross_entropy" in str(dyn.value)


@pytest.mark.parametrize("dt", ["int64", "int32", "uint8", "int8"])
def test_integer_labels_of_one_per_row_are_taken_and_give_the_same_bits(dt):
    labels = LABELS.astype(dt)
    x = dg.tensor(X, requires_grad=True)
    loss = dg.softmax_cross_entropy(x, dg.tensor(labels))
    loss.backward()
    with sg.Graph():
        xs, ys = sg.placeholder(X.shape), sg.placeholder(labels.shape, dt)
        out = sg.softmax_cross_entropy(xs, ys)
        want = sg.compile([out, *sg.gradients(out, [xs])], optimize=False)(X, labels)
    for got, w in ((loss, want[0]), (x.grad, want[1])):
        assert np.asarray(got.detach().numpy()).tobytes() == np.asarray(w).tobytes()
