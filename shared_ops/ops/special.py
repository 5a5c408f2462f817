"""Elementwise functions of models: sin cos erf log1p expm1 rsqrt gelu silu softplus.

Each gradient is PyTorch's formula (``derivatives.yaml``), written with ``ops``:
``gelu`` (exact: ``g * (cdf + x * pdf)``; ``approximate="tanh"``: the derivative of the tanh
form), ``silu`` (``g * s * (1 + x * (1 - s))``, ``s = sigmoid(x)``), ``softplus`` (``g`` above
the threshold, ``g * sigmoid(beta * x)`` below it), ``rsqrt`` (``-0.5 * g * y**3``), ``expm1``
(``g * (y + 1)``). ``erf`` has no kernel in the array API, so it is Cephes' rational
approximation (relative error below 4e-16 in float64) written with ``xp`` only.
"""

from __future__ import annotations

import math

from ..registry import register
from ._infer import elementwise

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT1_2 = math.sqrt(0.5)
_GELU_PDF = _TWO_OVER_SQRT_PI * _SQRT1_2 * 0.5  # 1 / sqrt(2 pi): the normal density's constant
_GELU_BETA = math.sqrt(2.0) * _TWO_OVER_SQRT_PI * 0.5  # sqrt(2 / pi)
_GELU_KAPPA = 0.044715


def _unary(name, forward, vjp, torch_name, *, expr=None, out_only=False, forward_into=None, doc=""):
    register(
        name,
        forward=forward,
        forward_into=forward_into,
        infer=elementwise(name, floating=True),
        vjp=vjp,
        elementwise=True,
        save_inputs=not out_only, save_output=out_only,
        torch_name=torch_name,
        scalar_expr=expr,
        doc=doc,
    )


_unary("sin", lambda xp, x: xp.sin(x), lambda ops, g, inputs, out: (ops.mul(g, ops.cos(inputs[0])),),
       "SinBackward0", doc="The sine, elementwise (as ``torch.sin``).", expr=lambda x: f"np.sin({x})", forward_into=lambda xp, a, out: xp.sin(a, out=out))
_unary("cos", lambda xp, x: xp.cos(x), lambda ops, g, inputs, out: (ops.mul(g, ops.neg(ops.sin(inputs[0]))),),
       "CosBackward0", doc="The cosine, elementwise (as ``torch.cos``).", expr=lambda x: f"np.cos({x})", forward_into=lambda xp, a, out: xp.cos(a, out=out))
_unary("log1p", lambda xp, x: xp.log1p(x), lambda ops, g, inputs, out: (ops.div(g, ops.add(inputs[0], 1.0)),),
       "Log1PBackward0", doc="``log(1 + x)``, accurate for small ``x``, elementwise (as ``torch.log1p``).",
       expr=lambda x: f"np.log1p({x})")
_unary("expm1", lambda xp, x: xp.expm1(x), lambda ops, g, inputs, out: (ops.mul(g, ops.add(out, 1.0)),),
       "Expm1Backward0", doc="``exp(x) - 1``, accurate for small ``x``, elementwise (as ``torch.expm1``).",
       expr=lambda x: f"np.expm1({x})", out_only=True)
_unary("rsqrt", lambda xp, x: 1.0 / xp.sqrt(x),
       lambda ops, g, inputs, out: (ops.mul(ops.mul(g, -0.5), ops.pow_scalar(out, exponent=3.0)),),
       "RsqrtBackward0", doc="``1 / sqrt(x)``, elementwise (as ``torch.rsqrt``).", expr=lambda x: f"(1.0 / math.sqrt({x}))", out_only=True)


# --------------------------------------------------------------------------- erf (Cephes ndtr.c)

_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)
def _poly(x, coefs, monic=False):
    """Horner's rule; ``monic``: a leading coefficient 1 not stored (Cephes' p1evl)."""
    acc = x + coefs[0] if monic else x * coefs[0] + coefs[1]
    for c in coefs[1 if monic else 2:]:
        acc = acc * x + c
    return acc


def _erf_forward(xp, x):
    if getattr(xp, "float16", None) is not None and x.dtype == xp.float16:  # the coefficients' powers overflow float16: compute in float32
        return xp.astype(_erf_forward(xp, xp.astype(x, xp.float32)), xp.float16)
    # |x| <= 1: x * T(x^2) / U(x^2); beyond: 1 - erfc(|x|), erfc = exp(-x^2) P(|x|) / Q(|x|).
    # |x| is capped at 6 (erfc(6) = 2e-17: 1 - erfc is 1.0 exactly), so inf gives 1, not nan.
    small_x = xp.clip(x, -1.0, 1.0)
    z = small_x * small_x
    small = small_x * _poly(z, _ERF_T) / _poly(z, _ERF_U, monic=True)
    a = xp.minimum(xp.abs(x), 6.0)
    erfc = xp.exp(-(a * a)) * _poly(a, _ERFC_P) / _poly(a, _ERFC_Q, monic=True)
    large = xp.where(x < 0, erfc - 1.0, 1.0 - erfc)
    return xp.where(xp.abs(x) <= 1.0, small, large)


_unary("erf", _erf_forward,
       lambda ops, g, inputs, out: (ops.mul(ops.mul(g, _TWO_OVER_SQRT_PI), ops.exp(ops.neg(ops.mul(inputs[0], inputs[0])))),),
       "ErfBackward0", doc="The error function, ``2 / sqrt(pi)`` times the integral of ``exp(-t**2)`` "
       "from 0 to ``x``, elementwise (as ``torch.erf``).")


# --------------------------------------------------------------------------- activations


def _gelu_forward(xp, x, *, approximate="none"):
    if approximate == "tanh":
        inner = _GELU_BETA * (x + _GELU_KAPPA * (x * x * x))
        return 0.5 * x * (1.0 + xp.tanh(inner))
    return x * 0.5 * (1.0 + _erf_forward(xp, x * _SQRT1_2))


def _gelu_vjp(ops, g, inputs, output, *, approximate="none"):
    x = inputs[0]
    if approximate == "tanh":
        xx = ops.mul(x, x)
        t = ops.tanh(ops.mul(ops.add(x, ops.mul(ops.mul(xx, x), _GELU_KAPPA)), _GELU_BETA))
        left_d = ops.mul(ops.add(t, 1.0), 0.5)
        right_d = ops.mul(ops.sub(1.0, ops.mul(t, t)), ops.mul(ops.add(ops.mul(xx, 3.0 * _GELU_KAPPA), 1.0), _GELU_BETA))
        return (ops.mul(g, ops.add(left_d, ops.mul(ops.mul(x, 0.5), right_d))),)
    cdf = ops.mul(ops.add(ops.erf(ops.mul(x, _SQRT1_2)), 1.0), 0.5)
    pdf = ops.mul(ops.exp(ops.mul(ops.mul(x, x), -0.5)), _GELU_PDF)
    return (ops.mul(g, ops.add(cdf, ops.mul(x, pdf))),)


def _gelu_infer(x, *, approximate="none"):
    if approximate not in ("none", "tanh"):
        from ..errors import OpAttributeError

        raise OpAttributeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return elementwise("gelu", floating=True)(x)


register(
    "gelu",
    doc="``x * Phi(x)``, ``Phi`` the normal distribution's CDF, or its tanh approximation with ``approximate='tanh'`` (as ``F.gelu``).",
    forward=_gelu_forward,
    infer=_gelu_infer,
    vjp=_gelu_vjp,
    attrs={"approximate": "none"}, elementwise=True,
    torch_name="GeluBackward0",
)


def _silu_forward(xp, x):
    e = xp.exp(-xp.abs(x))  # the stable sigmoid (see unary.py), then x * s
    return x * xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _silu_vjp(ops, g, inputs, output):
    x = inputs[0]
    s = ops.sigmoid(x)
    return (ops.mul(ops.mul(g, s), ops.add(ops.mul(x, ops.sub(1.0, s)), 1.0)),)


_unary("silu", _silu_forward, _silu_vjp, "SiluBackward0", doc="``x * sigmoid(x)``, elementwise (as ``F.silu``).")


def _softplus_forward(xp, x, *, beta=1.0, threshold=20.0):
    xb = x * beta
    # exp of at most the threshold: the other branch is taken where it would overflow
    soft = xp.log1p(xp.exp(xp.minimum(xb, threshold))) / beta
    return xp.where(xb > threshold, x, soft)


def _softplus_vjp(ops, g, inputs, output, *, beta=1.0, threshold=20.0):
    xb = ops.mul(inputs[0], beta)
    return (ops.where(ops.gt(xb, threshold), g, ops.mul(g, ops.sigmoid(xb))),)


register(
    "softplus",
    doc="``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold`` (as ``F.softplus``).",
    forward=_softplus_forward,
    infer=lambda x, *, beta=1.0, threshold=20.0: elementwise("softplus", floating=True)(x),
    vjp=_softplus_vjp,
    attrs={"beta": 1.0, "threshold": 20.0}, elementwise=True,
    torch_name="SoftplusBackward0",
)
