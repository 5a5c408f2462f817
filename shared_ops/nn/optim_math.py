"""The optimisers' arithmetic, written once on the shared surface (``dg.optim`` runs it on
tensors under ``no_grad``, ``sg.train`` declares it in the graph), in ``torch.optim``'s order
(its single-tensor code path), so both front ends run the same kernels on the same values.

Step-dependent scalars (Adam's bias corrections) are computed from the step count held as a
0-d float64 value of the front end, with the same kernels in both front ends, then cast to the
parameter's dtype.
"""

from __future__ import annotations


def _where(cond, a, b):
    from ..functions import where

    return where(cond, a, b)


def sgd(p, g, buf, *, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, first=True):
    """One ``torch.optim.SGD`` step: ``(new_p, new_buf)``. ``first`` is True/False, or a bool
    value of the front end (a static graph's first run), choosing ``buf = g`` on the first step."""
    if weight_decay:
        g = g + p * weight_decay
    if momentum:
        if first is True or buf is None:
            buf = g
        else:
            later = buf * momentum + (g if dampening == 0 else g * (1.0 - dampening))
            buf = later if first is False else _where(first, g, later)
        g = g + buf * momentum if nesterov else buf
    return p - g * lr, buf


def adam(p, g, m, v, t, *, lr, beta1, beta2, eps, weight_decay=0.0, decoupled=False):
    """One ``torch.optim.Adam`` (``decoupled``: ``AdamW``) step at step count ``t`` (already
    incremented, a 0-d float64 value): ``(new_p, new_m, new_v)``."""
    dt = p._dtype_name
    if weight_decay:
        if decoupled:
            p = p * (1.0 - lr * weight_decay)
        else:
            g = g + p * weight_decay
    m = m + (g - m) * (1.0 - beta1)  # exp_avg.lerp_(grad, 1 - beta1)
    v = v * beta2 + g * g * (1.0 - beta2)
    bc1 = 1.0 - beta1 ** t
    bc2 = 1.0 - beta2 ** t
    step_size = (lr / bc1).astype(dt)
    denom = v.sqrt() / bc2.sqrt().astype(dt) + eps
    return p - (m / denom) * step_size, m, v
