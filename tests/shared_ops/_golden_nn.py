"""``grad_fn`` names of the ops added for models (rows as in ``test_torch_names.GOLDEN``)."""

from __future__ import annotations

GOLDEN_NN = [
    ("sin", {}, "SinBackward0", lambda t, x, y: x.sin()),
    ("cos", {}, "CosBackward0", lambda t, x, y: x.cos()),
    ("erf", {}, "ErfBackward0", lambda t, x, y: x.erf()),
    ("log1p", {}, "Log1PBackward0", lambda t, x, y: x.log1p()),
    ("expm1", {}, "Expm1Backward0", lambda t, x, y: x.expm1()),
    ("rsqrt", {}, "RsqrtBackward0", lambda t, x, y: x.rsqrt()),
    ("gelu", {}, "GeluBackward0", lambda t, x, y: t.nn.functional.gelu(x)),
    ("silu", {}, "SiluBackward0", lambda t, x, y: t.nn.functional.silu(x)),
    ("softplus", {}, "SoftplusBackward0", lambda t, x, y: t.nn.functional.softplus(x)),
    ("floor_divide", {}, "DivBackward2", lambda t, x, y: t.div(x, y, rounding_mode="floor")),
    ("remainder", {}, "RemainderBackward1", lambda t, x, y: t.remainder(x, y)),
    ("tril", {}, "TrilBackward0", lambda t, x, y: x.tril()),
    ("triu", {"k": 1}, "TriuBackward0", lambda t, x, y: x.triu(1)),
    ("clone", {}, "CloneBackward0", lambda t, x, y: x.clone()),
    ("gather", {"axis": 1}, "GatherBackward0", lambda t, x, y: x.gather(1, t.tensor([[0], [1], [2]]))),
    ("sorted_values", {"axis": 1}, "SortBackward0", lambda t, x, y: x.sort(1).values),
    ("sorted_values", {"axis": 1, "kind": "topk"}, "TopkBackward0", lambda t, x, y: x.topk(2, 1).values),
    ("scatter_add", {"axis": 1}, "ScatterAddBackward0", lambda t, x, y: x.scatter_add(1, t.tensor([[0], [1], [2]]), y)),
    ("cumsum", {"axis": 0}, "CumsumBackward0", lambda t, x, y: x.cumsum(0)),
    ("prod", {"axis": None}, "ProdBackward0", lambda t, x, y: x.prod()),
    ("prod", {"axis": 1}, "ProdBackward1", lambda t, x, y: x.prod(1)),
    ("prod_others", {"axis": 0}, "ProdBackwardBackward0", None),  # PyTorch's double backward is a composition
    ("einsum", {"equation": "ij,kj->ik"}, "ViewBackward0", lambda t, x, y: t.einsum("ij,kj->ik", x, y)),
    ("pad", {"pad": ((1, 0), (0, 2))}, "ConstantPadNdBackward0", lambda t, x, y: t.nn.functional.pad(x, (0, 2, 1, 0))),
    ("layer_norm", {}, "NativeLayerNormBackward0", lambda t, x, y: t.nn.functional.layer_norm(x, (4,))),
    ("layer_norm_grad", {}, "NativeLayerNormBackwardBackward0", None),  # PyTorch's double backward is a composition
    ("avg_pool2d", {"kernel": (2, 2), "stride": (2, 2)}, "AvgPool2DBackward0",
     lambda t, x, y: t.nn.functional.avg_pool2d(x.reshape(1, 1, 3, 4), 2)),
    ("avg_pool2d_grad", {"kernel": (2, 2), "stride": (2, 2), "shape": (1, 1, 3, 4)}, "AvgPool2DBackwardBackward0", None),
    ("dropout", {"p": 0.5}, "NativeDropoutBackward0", lambda t, x, y: t.native_dropout(x, 0.5, True)[0]),
]
GOLDEN_NN.append(("vector_norm", {}, "LinalgVectorNormBackward0", lambda t, x, y: t.linalg.vector_norm(x)))
