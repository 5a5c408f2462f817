"""Views and in-place writes through them, against PyTorch (float64): values, gradients,
versions and errors of the same script on both (``m`` is ``torch`` or ``dyngraph``)."""

import numpy as np
import pytest

import dyngraph as dg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _np(t):
    return None if t is None else np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def _both(script):
    """Run ``script(m)`` on torch and dyngraph; it returns a dict of tensors / numbers."""
    theirs, mine = script(torch), script(dg)
    assert theirs.keys() == mine.keys()
    for k in theirs:
        t, d = theirs[k], mine[k]
        if isinstance(t, (int, float, bool, str, tuple)) or t is None:
            assert t == d, (k, t, d)
            continue
        a, b = _np(t), _np(d)
        assert (a is None) == (b is None), k
        assert a.shape == b.shape and str(a.dtype) == str(b.dtype), (k, a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=k)
    return mine


def _leaf(m, values, rg=True):
    return m.tensor(np.asarray(values, dtype=np.float64), requires_grad=rg)


def _errors(script, *words):
    """Both raise, the same class family, and dyngraph's message has PyTorch's key words."""
    with pytest.raises(Exception) as t:
        script(torch)
    with pytest.raises(Exception) as d:
        script(dg)
    assert isinstance(d.value, type(t.value)) or type(t.value).__name__ in {c.__name__ for c in type(d.value).__mro__}, (t.value, d.value)
    for w in words:
        assert w in str(t.value) and w in str(d.value), (w, str(t.value), str(d.value))


def test_the_issue_example():
    def s(m):
        x = _leaf(m, [1.0, 2.0, 3.0])
        y = x * 2
        y[1:].mul_(x[1:])
        y.sum().backward()
        return {"y": y, "grad": x.grad, "name": y.grad_fn.name(), "version": y._version}

    out = _both(s)
    np.testing.assert_array_equal(out["grad"].numpy(), [2.0, 8.0, 12.0])


@pytest.mark.parametrize("case", [
    "slice_add", "select_mul", "transpose_write", "diagonal_write", "view_of_view", "two_views", "narrow_copy",
    "reshape_view", "squeeze_unsqueeze", "setitem_basic", "setitem_array", "setitem_mask", "setitem_int_and_array",
    "fill_zero", "masked_fill", "index_add", "write_base_then_use_view", "detach_write", "no_record_write",
])
def test_writes_through_views_match_pytorch(case):
    def s(m):
        x = _leaf(m, np.arange(1.0, 13.0).reshape(3, 4) / 7)
        w = _leaf(m, np.linspace(0.5, 2.0, 4))
        y = x * 2
        out = {}
        if case == "slice_add":
            y[1:].add_(w)
        elif case == "select_mul":
            y[1].mul_(w)
        elif case == "transpose_write":
            y.t()[1:3].mul_(x.t()[0:2])
        elif case == "diagonal_write":
            y.diagonal().mul_(w[:3])
            y.diagonal(1).add_(x[0, :3])
        elif case == "view_of_view":
            v = y[1:]
            v[:, 1:].mul_(w[1:])
            out["v"] = v
        elif case == "two_views":
            a, b = y[0], y[:, 1]
            a.mul_(w)
            out["b"] = b * 3  # b saw the write, and its history is the new base's
        elif case == "narrow_copy":
            y.narrow(1, 1, 2).copy_(w[:2])
        elif case == "reshape_view":
            v = y.view(12)
            v[2:5].mul_(w[:3])
            out["v"] = v
        elif case == "squeeze_unsqueeze":
            y.unsqueeze(0).squeeze(0)[2].sub_(w)
        elif case == "setitem_basic":
            y[0, 1:3] = w[:2] * x[2, :2]
        elif case == "setitem_array":
            y[m.tensor([2, 0])] = w * 3
        elif case == "setitem_mask":
            y[x > 0.8] = 0.5
        elif case == "setitem_int_and_array":
            y[1, m.tensor([3, 0])] = w[:2]
        elif case == "fill_zero":
            y[1].zero_()
            y[:, 0].fill_(2.5)
        elif case == "masked_fill":
            y.masked_fill_(x < 0.5, -1.0)
        elif case == "index_add":
            y.index_add_(1, m.tensor([0, 2, 0]), x[:, :3] * 2)
        elif case == "write_base_then_use_view":
            v = y[:, 2]
            y.mul_(x)
            out["v"] = v * w[:3]
        elif case == "detach_write":
            d = y.detach()
            d[0].add_(1.0)
            out["d"] = d
        elif case == "no_record_write":
            with m.no_grad():
                y[1:].mul_(2.0)
        (y.sum() + sum(v.sum() for v in out.values())).backward()
        out.update(y=y, xg=x.grad, wg=w.grad, yv=y._version, xv=x._version)
        return out

    _both(s)


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_views_share_storage_and_version_on_every_backend(backend):
    with __import__("shared_ops").use_backend(backend):
        x = dg.tensor(np.arange(12.0).reshape(3, 4))
        v, t, d = x[1:], x.t(), x.diagonal()
        v.mul_(10)
        assert x._version == v._version == t._version == d._version == 1
        np.testing.assert_array_equal(t.numpy()[:, 1], x.numpy()[1])
        np.testing.assert_array_equal(d.numpy(), [0.0, 50.0, 100.0])
        x.add_(1)
        np.testing.assert_array_equal(d.numpy(), [1.0, 51.0, 101.0])
        assert v._base is x and t._base is x and x._base is None and v._version == 2


def test_refusals_with_pytorchs_words():
    def view_of_leaf(m):
        x = _leaf(m, [1.0, 2.0, 3.0])
        x[0:2].add_(1)

    def leaf(m):
        _leaf(m, [1.0, 2.0]).mul_(2)

    def no_grad_view(m):
        x = _leaf(m, [1.0, 2.0, 3.0])
        y = x * 1
        with m.no_grad():
            v = y[1:]
        v.mul_(x[1:])

    def overlap(m):
        y = _leaf(m, [1.0, 2.0]) * 1
        y[0:1].expand(3).add_(1)

    def reverse(m):
        return _leaf(m, [1.0, 2.0])[::-1]

    def not_viewable(m):
        return (_leaf(m, np.ones((3, 4))) * 1).t().view(12)

    def saved_then_written(m):
        x = _leaf(m, [1.0, 2.0, 3.0])
        y = x * 1
        z = (y * y).sum()
        y[1:].add_(1)
        z.backward()

    def detach_view(m):
        (_leaf(m, [1.0, 2.0]) * 1)[1:].detach_()

    _errors(view_of_leaf, "a view of a leaf Variable that requires grad is being used in an in-place operation")
    _errors(leaf, "a leaf Variable that requires grad is being used in an in-place operation")
    _errors(no_grad_view, "A view was created in no_grad mode and is being modified inplace with grad mode enabled")
    _errors(overlap, "more than one element of the written-to tensor refers to a single memory location")
    _errors(reverse, "step must be greater than zero")
    _errors(not_viewable, "view size is not compatible with input tensor's size and stride")
    _errors(saved_then_written, "modified by an inplace operation")
    _errors(detach_view, "Can't detach views in-place")


def test_reshape_is_a_view_when_it_can_and_a_copy_when_not():
    def s(m):
        x = m.tensor(np.arange(12.0).reshape(3, 4))
        a = x.reshape(4, 3)          # a view
        b = x.t().reshape(12)        # a copy
        c = x[1:].reshape(2, 2, 2)   # a view (rows are contiguous)
        x.add_(1)
        return {"a": a, "b": b, "c": c, "av": a._version, "bv": b._version, "cv": c._version,
                "ac": a.is_contiguous(), "tc": x.t().is_contiguous(), "cc": x.t().contiguous().is_contiguous()}

    _both(s)


def test_copies_and_new_view_ops():
    def s(m):
        x = _leaf(m, np.arange(24.0).reshape(2, 3, 4) / 5)
        outs = {
            "clone": x.clone() * 2, "flip": x.flip(0, 2), "narrow": x.narrow(2, 1, 2), "select": x.select(1, 2),
            "diag": x.diagonal(1, 1, 2), "expand": x[:, :1].expand(2, 5, 4), "contig": x.transpose(0, 2).contiguous(),
        }
        sum((v * (i + 1)).sum() for i, v in enumerate(outs.values())).backward()
        outs["g"] = x.grad
        outs["names"] = tuple(v.grad_fn.name() for k, v in outs.items() if k != "g")
        return outs

    _both(s)


def test_max_min_with_dim_argmax_and_ties():
    def s(m):
        x = _leaf(m, [[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 2.0]])
        v, i = x.max(dim=1)
        r = x.min(0, keepdim=True)
        (v.sum() + r.values.sum() * 2 + x.max() * 5).backward()
        return {"v": v, "i": i, "rv": r.values, "ri": r.indices, "am": x.argmax(), "am1": x.argmax(dim=1),
                "amin": x.argmin(1, keepdim=True), "g": x.grad, "name": v.grad_fn.name()}

    _both(s)


@pytest.mark.parametrize("case", ["bool_sum", "int8_sum", "int_div", "int_float_scalar", "int_float32",
                                  "int_div_int_scalar", "uint8_int8", "bool_int_scalar", "zero_dim_float64",
                                  "zero_dim_higher_category"])
def test_dtype_rules_match_pytorch(case):
    def s(m):
        i8 = m.tensor(np.array([100, 100, 100], dtype=np.int8))
        i = m.tensor(np.array([1, 2, 3], dtype=np.int64))
        f = m.tensor(np.array([0.5, 1.5, 2.5], dtype=np.float32))
        b = m.tensor(np.array([True, True, False]))
        r = {"bool_sum": lambda: b.sum(), "int8_sum": lambda: i8.sum(), "int_div": lambda: i / i,
             "int_float_scalar": lambda: i * 1.5, "int_float32": lambda: i + f, "int_div_int_scalar": lambda: i / 2,
             "uint8_int8": lambda: m.tensor(np.array([1], dtype=np.uint8)) + m.tensor(np.array([1], dtype=np.int8)),
             "bool_int_scalar": lambda: b + 1,
             "zero_dim_float64": lambda: m.tensor(2.0, dtype=m.float64) * f,  # a 0-d tensor does not decide
             "zero_dim_higher_category": lambda: i * m.tensor(2.0, dtype=m.float64)}[case]()
        return {"r": r}

    _both(s)


def test_mean_of_integers_raises_pytorchs_error():
    _errors(lambda m: m.tensor([1, 2]).mean(), "mean(): could not infer output dtype", "Got: Long")


def test_hooks_checked_and_post_accumulate_hook():
    def bad_size(m):
        x = _leaf(m, [1.0, 2.0])
        y = x * 2

        def myhook(g):
            return g[:1]

        y.register_hook(myhook)
        y.sum().backward()

    def bad_dtype(m):
        x = _leaf(m, [1.0, 2.0])
        x.register_hook(lambda g: g.float())
        (x * 2).sum().backward()

    _errors(bad_size, "hook 'myhook' has changed the size of value")
    _errors(bad_dtype, "has changed the type of value")

    def post(m):
        x = _leaf(m, [1.0, 2.0])
        seen = []
        x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.clone()))
        (x * 3).sum().backward()
        return {"seen": seen[0], "n": len(seen)}

    _both(post)


def test_non_leaf_grad_warns_and_constructor_edges():
    y = dg.tensor([1.0], requires_grad=True) * 2
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed.*retain_grad"):
        assert y.grad is None
    _errors(lambda m: m.Tensor(6.7), "data must be a sequence")
    assert tuple(dg.Tensor().shape) == tuple(torch.Tensor().shape) == (0,)


def test_inference_mode():
    def s(m):
        x = _leaf(m, [1.0, 2.0])
        with m.inference_mode():
            z = x * 2
            z.add_(1)
        return {"z": z, "rg": z.requires_grad, "inf": z.is_inference(), "mode": m.is_inference_mode_enabled()}

    _both(s)
    def saved(m):
        x = _leaf(m, [1.0, 2.0])
        with m.inference_mode():
            z = x.detach() * 2
        return (z * x).sum()

    _errors(saved, "Inference tensors cannot be saved for backward")
    with dg.inference_mode():
        z = dg.ones(2) * 1
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor outside InferenceMode"):
        z.add_(1)



@pytest.mark.parametrize("make", ["ones(2)", "zeros(2)", "tensor([1.0, 2.0])", "arange(2.0)", "full((2,), 3.0)"])
def test_a_factory_in_inference_mode_makes_an_inference_tensor(make):
    def run(m):
        with m.inference_mode():
            a = eval(f"m.{make}")
        w = m.ones(2, requires_grad=True)
        try:
            (w * a).sum().backward()
            said = None
        except RuntimeError as exc:
            said = "Inference tensors cannot be saved for backward" in str(exc)
        return a.is_inference(), eval(f"m.{make}").is_inference(), said

    assert run(dg) == run(torch) == (True, False, True)
