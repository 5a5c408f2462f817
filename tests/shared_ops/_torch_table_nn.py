"""PyTorch counterparts of the ops added for models (merged into the oracle's table)."""

from __future__ import annotations

import torch

F = torch.nn.functional

TORCH_NN = {
    "sin": torch.sin, "cos": torch.cos, "erf": torch.erf, "log1p": torch.log1p, "expm1": torch.expm1,
    "rsqrt": torch.rsqrt, "silu": F.silu,
    "gelu": lambda x, approximate="none": F.gelu(x, approximate=approximate),
    "softplus": lambda x, beta=1.0, threshold=20.0: F.softplus(x, beta=beta, threshold=threshold),
}
