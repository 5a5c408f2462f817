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
]
