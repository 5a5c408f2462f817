"""Creation, dtypes, attributes, conversion, export: the parts of the contract that are not autograd."""

import numpy as np
import pytest

import dyngraph as dg


def test_creation_dtypes_follow_pytorch():
    assert dg.tensor(1.5).dtype == dg.float32 == "float32"
    assert dg.tensor([1, 2]).dtype == dg.int64
    assert dg.tensor(True).dtype == dg.bool
    assert dg.tensor(np.ones(2)).dtype == dg.float64  # NumPy arrays keep their dtype
    assert dg.tensor([1.0], dtype=dg.float64).dtype == np.float64
    assert dg.zeros(2, 3).dtype == dg.float32 and dg.zeros(2, 3).shape == (2, 3)
    assert dg.ones((2, 3), dtype=dg.float64).dtype == dg.float64
    assert dg.Tensor(2, 3).shape == (2, 3) and dg.Tensor(2, 3).dtype == dg.float32
    assert dg.Tensor([2, 3]).tolist() == [2.0, 3.0] and dg.Tensor([2, 3]).dtype == dg.float32
    assert repr(dg.float32) == "dyngraph.float32" and dg.float32 != dg.float64
    assert dg.full((2,), 3.0).numpy().tolist() == [3.0, 3.0]
    assert dg.arange(3).dtype == dg.int64 and dg.arange(0.0, 1.0, 0.5).dtype == dg.float32


def test_tensor_copies_its_data():
    a = np.ones(3)
    t = dg.tensor(a)
    a[0] = 5
    assert t.numpy()[0] == 1.0
    f = dg.from_numpy(a)
    assert f.numpy()[0] == 5.0


def test_attributes(backend):
    t = dg.randn(2, 3, requires_grad=True)
    assert t.size() == (2, 3) and t.size(1) == 3 and t.ndim == 2 and t.dim() == 2 and t.numel() == 6
    assert t.device == "cpu" and t.is_leaf and t.requires_grad and t.grad is None and t.grad_fn is None
    assert t.backend.is_array(t.data) and t.backend.name == backend
    assert dg.tensor([[2.5]]).item() == 2.5 and isinstance(dg.tensor([3]).item(), int)
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        t.item()
    assert t.detach().numpy().shape == (2, 3)
    assert t.cpu() is t and t.to("cpu") is t
    assert t.to(dg.float64).dtype == dg.float64 and t.to(dg.float64).grad_fn.name() == "ToCopyBackward0"
    assert "requires_grad=True" in repr(t) and "grad_fn=<MulBackward0>" in repr(t * 2)
    assert float(dg.tensor(2.0)) == 2.0 and int(dg.tensor(3)) == 3 and bool(dg.tensor(1.0))


def test_grad_setter():
    t = dg.ones(2, requires_grad=True)
    t.grad = dg.zeros(2)
    assert t.grad.shape == (2,)
    t.grad = None
    assert t.grad is None
    with pytest.raises(RuntimeError, match="different size"):
        t.grad = dg.zeros(3)


def test_requires_grad_rules():
    t = dg.tensor([1, 2])
    with pytest.raises(RuntimeError, match="Only Tensors of floating point"):
        t.requires_grad_()
    f = dg.tensor([1.0])
    assert f.requires_grad_() is f and f.requires_grad
    f.requires_grad = False
    assert not f.requires_grad
    with pytest.raises(RuntimeError, match="cannot register a hook"):
        f.register_hook(lambda g: g)


def test_seeded_random_is_reproducible():
    dg.manual_seed(7)
    a, b = dg.rand(3), dg.randn(2, 2)
    dg.manual_seed(7)
    np.testing.assert_array_equal(dg.rand(3).numpy(), a.numpy())
    np.testing.assert_array_equal(dg.randn((2, 2)).numpy(), b.numpy())
    assert dg.randn(2, dtype=dg.float64).dtype == dg.float64


def test_surface_functions_are_re_exported():
    x = dg.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    for name in ("where", "maximum", "minimum", "concatenate", "cat", "stack", "softmax_cross_entropy", "conv2d", "tanh"):
        assert callable(getattr(dg, name))
    y = dg.where(x > 0, x, dg.zeros(2, 2)) + dg.maximum(x, 0.0) + dg.stack([x, x]).sum(0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[4.0, 2.0], [4.0, 4.0]])


def test_conv2d_gradient_runs():
    dg.manual_seed(0)
    x = dg.randn(2, 3, 6, 5, requires_grad=True)
    w = dg.randn(4, 3, 3, 3, requires_grad=True)
    y = dg.conv2d(x, w, padding=1)
    assert y.shape == (2, 4, 6, 5) and y.grad_fn.name() == "ConvolutionBackward0"
    y.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape


def test_mixed_dtypes_promote():
    a = dg.ones(2, dtype=dg.float32)
    b = dg.ones(2, dtype=dg.float64)
    assert (a + b).dtype == dg.float64
    assert (a * 2).dtype == dg.float32  # Python scalars are weak


def test_to_networkx_and_dot():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    w = dg.tensor([3.0, 4.0], requires_grad=True)
    y = ((x * w).exp() + x).sum()
    g = dg.to_networkx(y)
    names = sorted(d["name"] for _, d in g.nodes(data=True))
    assert names == ["AccumulateGrad", "AccumulateGrad", "AddBackward0", "ExpBackward0", "MulBackward0", "SumBackward0"]
    assert g.number_of_edges() == 6
    exp = next(d for _, d in g.nodes(data=True) if d["name"] == "ExpBackward0")
    assert exp["saved"] == [(2,)] and exp["shape"] == (2,) and exp["op"] == "exp"
    dot = dg.to_dot(y)
    assert dot.startswith("digraph") and "ExpBackward0" in dot and "->" in dot
    import networkx as nx

    assert nx.is_directed_acyclic_graph(g)


def test_bad_operand_is_a_clear_error():
    with pytest.raises(TypeError):
        dg.ones(2) + "a"


def test_random_values_are_identical_across_backends():
    from shared_ops import use_backend

    values = {}
    for name in ("numpy", "array_api_strict"):
        with use_backend(name):
            dg.manual_seed(11)
            t = dg.randn(3, 2)
            assert t.backend.name == name
            values[name] = (t.numpy(), dg.rand(4).numpy())
    for a, b in zip(values["numpy"], values["array_api_strict"]):
        np.testing.assert_array_equal(a, b)
