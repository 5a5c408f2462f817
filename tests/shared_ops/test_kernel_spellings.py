"""NumPy fast paths of softmax, log_softmax, softmax_cross_entropy and sum_to (W3's loss and
bias gradients) give the bits of the generic spelling they replace, over dtypes, shapes,
layouts, label dtypes and special values. Both front ends run these kernels, so a difference
here would break dyngraph/staticgraph bitwise equality and every figure measured against it."""

import warnings

import numpy as np
import pytest

from shared_ops import DTypeError, ShapeError, get_op


# the generic spellings, as the kernels still run them for array types other than NumPy's
def _softmax_old(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_old(x, axis):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def _sce_old(logits, labels):
    n, c = logits.shape
    if bool(np.any((labels < 0) | (labels >= c))):
        raise IndexError(f"softmax_cross_entropy: labels must be in [0, {c}) for {c} classes")
    lsm = _log_softmax_old(logits, 1)
    hit = np.reshape(labels, (n, 1)) == np.arange(c, dtype=labels.dtype)
    return -np.mean(np.sum(np.where(hit, lsm, np.zeros_like(lsm)), axis=1))


def _sum_to_old(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1)
    if not axes:
        return x
    out = np.sum(x, axis=axes, keepdims=True)
    return np.reshape(out, tuple(out.shape[lead:])) if lead else out


def _same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    return (got.dtype == want.dtype and got.shape == want.shape
            and np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes())


def _special(rng, shape, dt):
    x = (rng.standard_normal(shape) * 4).astype(dt)
    flat = x.reshape(-1)
    if flat.size >= 12:
        flat[:12] = [np.inf, -np.inf, np.nan, -0.0, 0.0, np.finfo(dt).max, -np.finfo(dt).max,
                     np.finfo(dt).tiny, -np.nan, 1e-30, 88.0, -100.0]
        x = flat.reshape(shape)
        payload = x.view(f"u{x.itemsize}").reshape(-1)
        payload[2] |= 5  # a NaN with a payload
        rng.shuffle(x.reshape(-1))
    return x


def _layouts(x):
    yield "C", x
    yield "F", np.asfortranarray(x)
    if x.ndim >= 2:
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
        wide[..., ::2] = x
        yield "strided", wide[..., ::2]


DTYPES = ["float16", "float32", "float64"]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("special", [False, True])
def test_softmax_and_log_softmax_keep_the_generic_bits_and_layout(dt, special):
    rng = np.random.default_rng(1)
    for shape, axes in (((128, 10), (1, 0, -1)), ((7, 1), (1,)), ((3, 5, 6), (0, 2, -2)), ((9,), (0,)), ((0, 4), (1,))):
        base = _special(rng, shape, dt) if special else rng.standard_normal(shape).astype(dt)
        for name, x in _layouts(base):
            for axis in axes:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf in both spellings
                    got_sm, want_sm = get_op("softmax").forward(np, x, axis=axis), _softmax_old(x, axis)
                    got_ls, want_ls = get_op("log_softmax").forward(np, x, axis=axis), _log_softmax_old(x, axis)
                assert _same(got_sm, want_sm) and got_sm.strides == want_sm.strides, (shape, name, axis)
                assert _same(got_ls, want_ls) and got_ls.strides == want_ls.strides, (shape, name, axis)
                assert not np.shares_memory(got_sm, x) and not np.shares_memory(got_ls, x)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("special", [False, True])
def test_softmax_cross_entropy_keeps_the_masked_sum_bits(dt, special):
    rng = np.random.default_rng(2)
    op = get_op("softmax_cross_entropy")
    for n, c in ((128, 10), (7, 1), (33, 17), (1, 3), (0, 4)):
        base = _special(rng, (n, c), dt) if special else rng.standard_normal((n, c)).astype(dt)
        for ldt in ("int64", "int32", "uint8", "int8"):
            labels = rng.integers(0, c, n).astype(ldt)
            for name, x in _layouts(base):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf, the mean of no rows
                    got, want = op.forward(np, x, labels), _sce_old(x, labels)
                assert _same(got, want), (n, c, ldt, name, got, want)


def test_softmax_cross_entropy_kernel_refuses_the_labels_infer_refuses():
    # dyngraph checks an op's inputs (infer) only once its kernel fails: the kernel itself
    # must fail on labels NumPy would compute with (floats, bools, an (N, 1) column)
    x = np.zeros((6, 4), np.float32)
    labels = np.array([0, 3, 1, 2, 2, 0])
    for odd, kind, words in ((labels.reshape(6, 1), ShapeError, r"got shape \(6, 1\); flatten a column"),
                             (labels.astype("float32"), DTypeError, r"got float32; convert them with .astype"),
                             (labels.astype("float64").reshape(6, 1), ShapeError, "labels must have 1 dimension"),
                             (labels.astype(bool), DTypeError, "got bool")):
        with pytest.raises(kind, match=words):
            get_op("softmax_cross_entropy").forward(np, x, odd)


def test_softmax_cross_entropy_keeps_the_bits_when_a_row_holds_minus_zero():
    # -0.0 beside a +0.0 maximum: the one place log_softmax's input is -0.0
    x = np.array([[-0.0, 0.0, -1e30], [0.0, -0.0, 0.0], [-0.0, -0.0, -0.0]], np.float32)
    for labels in ([0, 1, 2], [1, 0, 0], [2, 2, 1]):
        labels = np.array(labels)
        assert _same(get_op("softmax_cross_entropy").forward(np, x, labels), _sce_old(x, labels))


@pytest.mark.parametrize("bad", [[0, 3], [-1, 0], [5, -2]])
def test_softmax_cross_entropy_refuses_labels_out_of_range_as_before(bad):
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(IndexError) as e:
        get_op("softmax_cross_entropy").forward(np, x, np.array(bad))
    assert str(e.value) == "softmax_cross_entropy: labels must be in [0, 3) for 3 classes"


@pytest.mark.parametrize("dt", ["float16", "float32", "float64", "int32", "bool"])
def test_sum_to_keeps_the_generic_bits_and_owns_a_leading_axis_sum(dt):
    rng = np.random.default_rng(3)
    op = get_op("sum_to")
    cases = [((128, 512), (512,)), ((128, 10), (10,)), ((4, 5, 6), (6,)), ((4, 5, 6), (5, 6)),
             ((4, 5, 6), (5, 1)), ((4, 5, 6), (1, 6)), ((4, 5, 6), ()), ((7,), ()), ((3, 4), (3, 4)),
             ((1000, 3), (3,))]
    for xshape, shape in cases:
        base = (rng.standard_normal(xshape) * 3).astype(dt)
        for name, x in _layouts(base):
            got, want = op.forward(np, x, shape=shape), _sum_to_old(x, shape)
            assert _same(got, want) and isinstance(got, np.ndarray), (xshape, shape, name)
            if len(xshape) > len(shape) and shape and 1 not in shape:
                assert got.base is None, (xshape, shape, name)  # owned: the engine moves it
            # a `like` input (staticgraph's free dimensions) takes the general branch: same bits
            like = np.empty(tuple(1 if s == 1 else s for s in shape), np.int8)
            assert _same(op.forward(np, x, like, shape=tuple(None for _ in shape)), want), (xshape, shape, name)


@pytest.mark.parametrize("dt", ["float16", "float32", "float64", "int64", "bool"])
def test_one_hot_keeps_the_generic_result_for_every_label(dt):
    # labels outside [0, c) give a row of zeros, as the generic spelling does
    op = get_op("one_hot")
    for labels in (np.array([0, 3, 1, 9, -1, 2]), np.array([[1, 0], [2, 5]], np.int8), np.array([], np.int32),
                   np.array(2, np.uint8), np.arange(12)[::3]):
        for c in (1, 4):
            got = op.forward(np, labels, num_classes=c, dtype=dt)
            want = (np.reshape(labels, labels.shape + (1,)) == np.arange(c, dtype=labels.dtype)).astype(dt)
            assert _same(got, want) and isinstance(got, np.ndarray), (labels, c)
