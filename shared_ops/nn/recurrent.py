"""Recurrent cells and attention with PyTorch's parameter names, gate order and initialisation."""

from __future__ import annotations

import math

import numpy as np

from . import functional as F
from . import init
from .layers import Linear, _dtype
from .module import Module, Parameter


class _Cell(Module):
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        dt, k, g = _dtype(dtype), 1 / math.sqrt(hidden_size), self.gates * hidden_size
        # every weight and bias U(-1/sqrt(hidden), 1/sqrt(hidden)), in PyTorch's order
        self.weight_ih = Parameter(init.uniform((g, input_size), k, dt))
        self.weight_hh = Parameter(init.uniform((g, hidden_size), k, dt))
        if bias:
            self.bias_ih = Parameter(init.uniform((g,), k, dt))
            self.bias_hh = Parameter(init.uniform((g,), k, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _zeros(self, x):
        """Zeros of shape (batch, hidden) in x's front end (the batch may be a free dimension)."""
        first = x[..., :1]
        return first._op("zeros_like", first) + np.zeros(self.hidden_size, x._dtype_name)

    def _pre(self, x, h):
        return F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias_ih is not None else ", bias=False")


class RNNCell(_Cell):
    """``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (``nonlinearity="relu"``: relu).

    ``cell(x, h=None)``: ``x`` (batch, input_size), ``h`` (batch, hidden_size), zeros when not
    given; returns ``h'``.

    Parameters:
        input_size: the size of each input.
        hidden_size: the size of the hidden state.
        bias: learn ``b_ih`` and ``b_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        dtype: the parameters' dtype; default float32.

    Raises:
        ValueError: another nonlinearity.

    Examples:
        >>> cell = dg.nn.RNNCell(10, 20)
        >>> cell(dg.randn(3, 10)).shape
        (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x, hx=None):
        h = self._zeros(x) if hx is None else hx
        pre = self._pre(x, h)
        return pre.tanh() if self.nonlinearity == "tanh" else pre.relu()

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}")


class LSTMCell(_Cell):
    """Gates ``i, f, g, o`` stacked in that order (PyTorch's): ``c' = f c + i g``, ``h' = o tanh(c')``.

    ``cell(x, (h, c)=None)`` returns ``(h', c')``; the state is zeros when not given.

    Parameters:
        input_size: the size of each input.
        hidden_size: the size of ``h`` and ``c``.
        bias: learn ``b_ih`` and ``b_hh``.
        dtype: the parameters' dtype; default float32.

    Examples:
        >>> h, c = dg.nn.LSTMCell(10, 20)(dg.randn(3, 10))
        >>> h.shape, c.shape
        ((3, 20), (3, 20))
    """

    gates = 4

    def forward(self, x, hx=None):
        if hx is None:
            z = self._zeros(x)
            hx = (z, z)
        h, c = hx
        i, f, g, o = self._pre(x, h).chunk(4, dim=-1)
        c2 = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return o.sigmoid() * c2.tanh(), c2


class NonDynamicallyQuantizableLinear(Linear):
    """PyTorch's class of ``MultiheadAttention.out_proj``: a ``Linear`` (the name shows in ``repr``).

    Parameters:
        in_features, out_features, bias, dtype: as ``Linear``'s.

    Returns:
        A ``Linear`` module.

    Examples:
        >>> dg.nn.MultiheadAttention(4, 2).out_proj
        NonDynamicallyQuantizableLinear(in_features=4, out_features=4, bias=True)
    """


class MultiheadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention``: one packed ``in_proj_weight`` (3E, E) (Xavier
    uniform), ``in_proj_bias`` zeros, ``out_proj`` a Linear whose bias starts at zero.
    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(output, weights)``; bool masks are
    True where attention is *not* allowed, float masks are added.

    Parameters:
        embed_dim: the model's width E.
        num_heads: heads; each has ``embed_dim // num_heads`` dimensions.
        dropout: dropout on the attention weights while training.
        bias: learn the projections' biases.
        batch_first: inputs (N, L, E) instead of (L, N, E).
        dtype: the parameters' dtype; default float32.

    Raises:
        ValueError: ``embed_dim`` not divisible by ``num_heads``.

    Examples:
        >>> mha = dg.nn.MultiheadAttention(8, 2, batch_first=True)
        >>> x = dg.randn(2, 5, 8)
        >>> out, weights = mha(x, x, x)
        >>> out.shape, weights.shape
        ((2, 5, 8), (2, 5, 5))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False, dtype=None):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        dt = _dtype(dtype)
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = Parameter(init.xavier_uniform((3 * embed_dim, embed_dim), dt))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, dtype=dt)
        if bias:  # PyTorch's _reset_parameters zeroes the output projection's bias
            self.out_proj.load_state_dict({"bias": np.zeros(embed_dim, dt)}, strict=False)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if not self.batch_first:  # (L, N, E) -> (N, L, E)
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        n, lq, e = query.shape
        lk = key.shape[1]
        h, d = self.num_heads, self.head_dim
        w, b = self.in_proj_weight, self.in_proj_bias
        wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])

        def heads(t, length):
            return t.reshape(n, length, h, d).transpose(1, 2)  # (N, H, L, D)

        q = heads(F.linear(query, wq, bq), lq) * math.sqrt(1.0 / d)
        k = heads(F.linear(key, wk, bk), lk)
        v = heads(F.linear(value, wv, bv), lk)
        scores = q @ k.transpose(-2, -1)  # (N, H, Lq, Lk)
        if is_causal and attn_mask is None:
            attn_mask = np.triu(np.ones((lq, lk), dtype=bool), 1)
        if attn_mask is not None:
            mask = scores._as_operand(attn_mask)
            scores = scores.masked_fill(mask, -math.inf) if mask._dtype_name == "bool" else scores + mask
        if key_padding_mask is not None:
            pad = scores._as_operand(key_padding_mask).reshape(n, 1, 1, lk)
            scores = scores.masked_fill(pad, -math.inf)
        weights = scores.softmax(dim=-1)
        if self.dropout:
            weights = F.dropout(weights, self.dropout, self.training)
        out = (weights @ v).transpose(1, 2).reshape(n, lq, e)
        out = self.out_proj(out)
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        return out, (weights.mean(dim=1) if average_attn_weights else weights)

    def extra_repr(self) -> str:
        return ""
