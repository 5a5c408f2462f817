"""PyTorch parity: the same scripts on dyngraph and on PyTorch (float32 and float64) give the
same values, gradients, ``grad_fn`` names and flags, and the same errors."""

import numpy as np
import pytest

import dyngraph as dg

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = [
    pytest.mark.torch,
    # PyTorch warns that backward(create_graph=True) links a parameter and its grad in a cycle
    pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True"),
]

# PyTorch's grad_fn names (checked against torch itself below). Where dyngraph's name differs
# it is listed in KNOWN_NAME_DIFFERENCES with the reason; the test holds both tables.
CASES = {
    "add": ("AddBackward0", lambda m, a, b: a + b),
    "sub": ("SubBackward0", lambda m, a, b: a - b),
    "mul": ("MulBackward0", lambda m, a, b: a * b),
    "div": ("DivBackward0", lambda m, a, b: a / b),
    "neg": ("NegBackward0", lambda m, a, b: -a),
    "pow_scalar": ("PowBackward0", lambda m, a, b: a ** 3),
    "pow": ("PowBackward1", lambda m, a, b: a ** b),
    "exp": ("ExpBackward0", lambda m, a, b: a.exp()),
    "log": ("LogBackward0", lambda m, a, b: a.log()),
    "tanh": ("TanhBackward0", lambda m, a, b: a.tanh()),
    "sigmoid": ("SigmoidBackward0", lambda m, a, b: a.sigmoid()),
    "relu": ("ReluBackward0", lambda m, a, b: (a - 0.5).relu()),
    "sqrt": ("SqrtBackward0", lambda m, a, b: a.sqrt()),
    "abs": ("AbsBackward0", lambda m, a, b: (a - 0.5).abs()),
    "clamp": ("ClampBackward1", lambda m, a, b: a.clamp(0.2, 0.5)),
    "sum": ("SumBackward0", lambda m, a, b: a.sum()),
    "sum_dim": ("SumBackward1", lambda m, a, b: a.sum(dim=1)),
    "sum_keepdim": ("SumBackward1", lambda m, a, b: a.sum(dim=0, keepdim=True)),
    "mean": ("MeanBackward0", lambda m, a, b: a.mean()),
    "mean_dim": ("MeanBackward1", lambda m, a, b: a.mean(dim=0)),
    "amax": ("AmaxBackward0", lambda m, a, b: m.amax(a, dim=1) if m is torch else a.max(axis=1)),
    "T": ("PermuteBackward0", lambda m, a, b: a.T),
    "permute_two": ("PermuteBackward0", lambda m, a, b: a.permute(1, 0)),
    "transpose_two": ("TransposeBackward0", lambda m, a, b: a.transpose(0, 1)),
    "squeeze_all": ("SqueezeBackward0", lambda m, a, b: a[:, None, :1].squeeze()),
    "squeeze_dim": ("SqueezeBackward1", lambda m, a, b: a[:, None].squeeze(1)),
    "dot": ("DotBackward0", lambda m, a, b: a[0] @ b[1]),
    "mv": ("MvBackward0", lambda m, a, b: a @ b[0, :a.shape[1]]),
    "sub_tensors": ("SubBackward0", lambda m, a, b: a - b),
    "max_dim": ("MaxBackward0", lambda m, a, b: a.max(dim=1).values),
    "min_dim": ("MinBackward0", lambda m, a, b: a.min(1, keepdim=True)[0]),
    "max": ("MaxBackward1", lambda m, a, b: a.max()),
    "logsumexp": ("LogsumexpBackward0", lambda m, a, b: a.logsumexp(dim=1)),
    "softmax": ("SoftmaxBackward0", lambda m, a, b: a.softmax(dim=1)),
    "log_softmax": ("LogSoftmaxBackward0", lambda m, a, b: a.log_softmax(dim=1)),
    "reshape": ("ViewBackward0", lambda m, a, b: a.reshape(12, 1)),
    "view": ("ViewBackward0", lambda m, a, b: a.view(2, 6)),
    "transpose": ("TransposeBackward0", lambda m, a, b: a.transpose(0, 1)),
    "t": ("TBackward0", lambda m, a, b: a.t()),
    "permute": ("PermuteBackward0", lambda m, a, b: a.reshape(3, 2, 2).permute(2, 0, 1)),
    "unsqueeze": ("UnsqueezeBackward0", lambda m, a, b: a.unsqueeze(0)),
    "squeeze": ("SqueezeBackward1", lambda m, a, b: a.reshape(3, 1, 4).squeeze(1)),
    "select": ("SelectBackward0", lambda m, a, b: a[1]),
    "slice": ("SliceBackward0", lambda m, a, b: a[1:]),
    "index": ("IndexBackward0", lambda m, a, b: a[m.tensor([0, 2, 2])]),
    "mm": ("MmBackward0", lambda m, a, b: a @ b.t()),
    "where": ("WhereBackward0", lambda m, a, b: m.where(a > 0.5, a, b)),
    "maximum": ("MaximumBackward0", lambda m, a, b: m.maximum(a, b)),
    "minimum": ("MinimumBackward0", lambda m, a, b: m.minimum(a, b)),
    "cat": ("CatBackward0", lambda m, a, b: m.cat([a, b], dim=1)),
    "stack": ("StackBackward0", lambda m, a, b: m.stack([a, b])),
    "expand": ("ExpandBackward0", lambda m, a, b: a[0:1].expand(5, 4)),
    "rsub": ("RsubBackward1", lambda m, a, b: 10 - a),
    "broadcast_add": ("AddBackward0", lambda m, a, b: a[:, 0:1] + b[0]),
    "cross_entropy": (
        "NllLossBackward0",
        lambda m, a, b: F.cross_entropy(a, torch.tensor([0, 1, 3]))
        if m is torch else dg.softmax_cross_entropy(a, dg.tensor([0, 1, 3])),
    ),
}

# name (dyngraph's, why) where dyngraph's grad_fn name is not PyTorch's
KNOWN_NAME_DIFFERENCES: dict = {}

_rng = np.random.default_rng(0)
A = _rng.random((3, 4)) + 0.1
B = _rng.random((3, 4)) + 0.5


def _run(m, fn, dtype):
    a = m.tensor(A.astype(dtype), requires_grad=True)
    b = m.tensor(B.astype(dtype), requires_grad=True)
    out = fn(m, a, b)
    name = out.grad_fn.name()
    seed = np.linspace(0.5, 1.5, int(np.prod(out.shape))).reshape(tuple(out.shape)).astype(dtype)
    out.backward(m.tensor(seed))
    grads = [None if t.grad is None else t.grad.numpy() for t in (a, b)]
    return out.detach().numpy(), grads, name, (out.is_leaf, out.requires_grad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_values_gradients_names(case, dtype):
    golden, fn = CASES[case]
    tv, tg, tname, tflags = _run(torch, fn, dtype)
    dv, dgr, dname, dflags = _run(dg, fn, dtype)
    assert tname == golden, "the golden table is out of date with PyTorch"
    assert dname == KNOWN_NAME_DIFFERENCES.get(case, (golden,))[0]
    assert dv.dtype == tv.dtype and dv.shape == tv.shape
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dv, tv, **tol)
    for x, y in zip(dgr, tg):
        assert (x is None) == (y is None)
        if x is not None:
            assert x.dtype == y.dtype
            np.testing.assert_allclose(x, y, **tol)
    assert dflags == tflags == (False, True)


# -------------------------------------------------------------------- the seed tutorials


def _both(script):
    return script(torch), script(dg)


def test_tutorial_product():
    def script(m):
        var_1 = m.tensor(3.0, requires_grad=True)
        var_2 = m.tensor(4.0, requires_grad=True)
        out = var_1 * var_2
        out.backward()
        return out.item(), var_1.grad.item(), var_2.grad.item(), str(out.dtype).split(".")[-1]

    t, d = _both(script)
    assert t == d == (12.0, 4.0, 3.0, "float32")


def test_tutorial_diff_external_grad():
    def script(m):
        a = m.tensor([2.0, 3.0], requires_grad=True)
        b = m.tensor([6.0, 4.0], requires_grad=True)
        Q = 3 * a ** 3 - b ** 2
        Q.backward(gradient=m.tensor([1.0, 1.0]))
        return a.grad.numpy(), b.grad.numpy(), bool((9 * a ** 2 == a.grad).all() if m is torch else np.all((9 * a ** 2 == a.grad).numpy()))

    (ta, tb, tok), (da, db, dok) = _both(script)
    np.testing.assert_array_equal(ta, da)
    np.testing.assert_array_equal(tb, db)
    assert tok and dok
    np.testing.assert_array_equal(da, [36.0, 81.0])


def test_tutorial_rnn_cell():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s).astype("float32") for s in ((20, 20), (20, 10), (20, 1), (10, 1))]

    def script(m):
        W_h = m.tensor(arrays[0], requires_grad=True)
        W_x = m.tensor(arrays[1], requires_grad=True)
        h = m.tensor(arrays[2])
        x = m.tensor(arrays[3])
        next_h = (W_x @ x + W_h @ h).tanh()
        next_h.sum().backward()
        return next_h.detach().numpy(), W_h.grad.numpy(), W_x.grad.numpy(), next_h.grad_fn.name()

    t, d = _both(script)
    for x, y in zip(t[:3], d[:3]):
        np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-6)
    assert t[3] == d[3] == "TanhBackward0"


def test_tutorial_10_minus_d():
    def script(m):
        d = m.ones(5, 5, requires_grad=True)
        (10 - d).sum().backward()
        return d.grad.numpy()

    t, d = _both(script)
    np.testing.assert_array_equal(t, d)
    assert (d == -1).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_higher_order(dtype):
    def script(m):
        x = m.tensor(np.array([0.3, -1.2, 2.0], dtype=dtype), requires_grad=True)
        y = (x ** 3).sum()
        (g1,) = (torch.autograd.grad if m is torch else dg.grad)(y, x, create_graph=True)
        (g2,) = (torch.autograd.grad if m is torch else dg.grad)(g1.sum(), x, create_graph=True)
        (g3,) = (torch.autograd.grad if m is torch else dg.grad)(g2.sum(), x)
        z = (x.tanh() * x.exp()).sum()
        (h1,) = (torch.autograd.grad if m is torch else dg.grad)(z, x, create_graph=True)
        h1.sum().backward()
        return [v.detach().numpy() for v in (g1, g2, g3, h1, x.grad)]

    t, d = _both(script)
    for x, y in zip(t, d):
        assert x.dtype == y.dtype
        np.testing.assert_allclose(y, x, rtol=1e-5 if dtype == "float32" else 1e-12)
    np.testing.assert_allclose(d[1], 6 * np.array([0.3, -1.2, 2.0]), rtol=1e-5)
    np.testing.assert_allclose(d[2], [6, 6, 6])


def test_mixed_partials_and_backward_create_graph():
    def script(m):
        a = m.tensor(1.5, requires_grad=True, dtype=m.float64)
        b = m.tensor(-0.7, requires_grad=True, dtype=m.float64)
        y = a * a * b + (a * b).tanh()
        y.backward(create_graph=True)
        ga = a.grad
        a.grad = None
        b.grad = None
        ga.backward()
        return ga.item(), a.grad.item(), b.grad.item()

    t, d = _both(script)
    np.testing.assert_allclose(d, t, rtol=1e-12)


def test_accumulation_retain_grad_hooks_flags():
    def script(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        seen = []
        y.register_hook(lambda g: seen.append(g.numpy().copy()))
        z = (y * y).sum()
        z.backward(retain_graph=True)
        z.backward()
        h = x.register_hook(lambda g: g * 10)
        (x * 1).sum().backward()
        h.remove()
        (x * 1).sum().backward()
        with m.no_grad():
            w = x * 2
        det = x.detach()
        return dict(
            xg=x.grad.numpy(), yg=y.grad.numpy(), seen=np.array(seen),
            flags=[(t.is_leaf, t.requires_grad) for t in (x, y, z, w, det)],
            grad_fn_none=[t.grad_fn is None for t in (x, w, det)],
        )

    t, d = _both(script)
    for k in ("xg", "yg", "seen"):
        np.testing.assert_array_equal(d[k], t[k])
    assert d["flags"] == t["flags"]
    assert d["grad_fn_none"] == t["grad_fn_none"]


def test_next_functions_structure():
    def script(m):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        c = m.tensor([3.0, 4.0])
        y = a * c + a
        fns = y.grad_fn.next_functions
        return [None if f is None else f.name() for f, _ in fns], [
            None if f is None else f.name() for f, _ in fns[0][0].next_functions
        ]

    t, d = _both(script)
    assert t == d == (["MulBackward0", "torch::autograd::AccumulateGrad"], ["torch::autograd::AccumulateGrad", None])


def test_grad_allow_unused_and_no_grad_flags():
    def script(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        u = m.tensor([1.0], requires_grad=True)
        y = (x * x).sum()
        gx, gu = (torch.autograd.grad if m is torch else dg.grad)(y, [x, u], allow_unused=True)
        return gx.numpy(), gu, x.grad

    t, d = _both(script)
    np.testing.assert_array_equal(t[0], d[0])
    assert t[1] is None and d[1] is None and t[2] is None and d[2] is None


# -------------------------------------------------------------------- errors


def _error(script, m):
    with pytest.raises(RuntimeError) as info:
        script(m)
    return str(info.value)


ERRORS = {
    "backward twice": (
        lambda m: [(y := (m.tensor([1.0, 2.0], requires_grad=True).exp()).sum()), y.backward(), y.backward()],
        ["Trying to backward through the graph a second time", "retain_graph=True"],
    ),
    "non-scalar": (
        lambda m: (m.tensor([1.0, 2.0], requires_grad=True) * 2).backward(),
        ["grad can be implicitly created only for scalar outputs"],
    ),
    "integer requires grad": (
        lambda m: m.tensor([1, 2], requires_grad=True),
        ["Only Tensors of floating point", "can require gradients"],
    ),
    "no grad_fn": (
        lambda m: m.tensor([1.0, 2.0]).sum().backward(),
        ["element 0 of tensors does not require grad and does not have a grad_fn"],
    ),
    "leaf in-place": (
        lambda m: m.tensor([1.0], requires_grad=True).add_(1),
        ["a leaf Variable that requires grad is being used in an in-place operation."],
    ),
    "modified saved": (
        lambda m: [(x := m.tensor([1.0, 2.0], requires_grad=True)), (b := (x * 2).tanh()), b.add_(1), b.sum().backward()],
        ["one of the variables needed for gradient computation has been modified by an inplace operation", "is at version 1; expected version 0 instead"],
    ),
    "shape mismatch": (
        lambda m: m.ones(2, 3) + m.ones(4, 3),
        [],
    ),
    "unused input": (
        lambda m: (torch.autograd.grad if m is torch else dg.grad)(
            (m.tensor([1.0], requires_grad=True) * 2).sum(), [m.tensor([1.0], requires_grad=True)]),
        ["appears to not have been used in the graph", "allow_unused=True"],
    ),
    "numpy of requires_grad": (
        lambda m: m.tensor([1.0], requires_grad=True).numpy(),
        ["Can't call numpy() on Tensor that requires grad"],
    ),
    "out= with grad": (
        lambda m: m.add(m.tensor([1.0], requires_grad=True), m.tensor([1.0]), out=m.zeros(1)),
        ["functions with out=... arguments don't support automatic differentiation"],
    ),
    "requires_grad of non-leaf": (
        lambda m: setattr(m.tensor([1.0], requires_grad=True) * 2, "requires_grad", False),
        ["you can only change requires_grad flags of leaf variables"],
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_match_pytorch(case):
    script, words = ERRORS[case]
    t = _error(script, torch)
    d = _error(script, dg)
    for w in words:
        assert w in t, f"PyTorch's text changed: {t}"
        assert w in d, d


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as info:  # a ShapeError: ValueError and RuntimeError
        dg.ones(2, 3) + dg.ones(4, 3)
    assert isinstance(info.value, RuntimeError)
    assert "(2, 3)" in str(info.value) and "(4, 3)" in str(info.value)


_IDX = np.array([0, 2, 2])


@pytest.mark.parametrize("key", [
    (slice(0, 1), _IDX, slice(None), 0),       # NumPy: (3, 1, 4); PyTorch: (1, 3, 4)
    (0, slice(None), _IDX),                     # NumPy: the two 3-long dims swapped
    (slice(None), 0, slice(None), _IDX),        # NumPy: (3, 3, 4); PyTorch: (3, 4, 3)
    (None, 1, _IDX, slice(1, 3), 2),
    (_IDX, 1, _IDX),
    (Ellipsis, _IDX, 3),
    (0, _IDX),
])
def test_integer_beside_an_array_index_selects_first_as_in_pytorch(key):
    """Indexing is PyTorch's in both front ends: an integer next to an integer array selects
    first (NumPy would count it as an advanced index and move the indexed dims to the front)."""
    import staticgraph as sg

    x = np.arange(3 * 3 * 4 * 5, dtype=np.float64).reshape(3, 3, 4, 5)
    tk = tuple(torch.tensor(e) if isinstance(e, np.ndarray) else e for e in key)
    t = torch.tensor(x, requires_grad=True)
    yt = t[tk]
    (yt * torch.arange(yt.numel(), dtype=torch.float64).reshape(yt.shape)).sum().backward()
    d = dg.tensor(x, requires_grad=True)
    yd = d[key]
    (yd * dg.arange(float(yd.numel())).view(*yd.shape)).sum().backward()
    assert tuple(yd.shape) == tuple(yt.shape)
    assert np.array_equal(yd.detach().numpy(), yt.detach().numpy())
    assert np.array_equal(d.grad.numpy(), t.grad.numpy())
    with sg.Graph():
        p = sg.placeholder(x.shape, "float64")
        y = p[key]
        (g,) = sg.gradients((y * np.arange(yt.numel(), dtype=np.float64).reshape(tuple(yt.shape))).sum(), [p])
        f = sg.compile([y, g], inputs=[p], optimize=False)
    ys, gs = f(x)
    assert np.array_equal(ys, yt.detach().numpy()) and np.array_equal(gs, t.grad.numpy())
