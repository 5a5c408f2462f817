"""dyngraph: define-by-run autograd with PyTorch's names and semantics.

``import dyngraph as dg`` reads like ``import torch``::

    x = dg.tensor(2.0, requires_grad=True)
    y = x * x * x
    y.backward()
    x.grad            # tensor(12.)

The graph is recorded while the forward pass runs (``Tensor._apply_op``), consumed by
``backward()`` (``engine``) and freed by reference counting. Every op comes from
``shared_ops``: the kernels, the shape rules and the gradient rules.

Counters for experiments: ``dg.stats()`` gives ``nodes_created``, ``nodes_freed``,
``nodes_alive``, ``saved_bytes`` (bytes of arrays held now by saved values of live,
unreleased nodes) and ``peak_saved_bytes``; ``dg.reset_stats()`` restarts them.
"""

from shared_ops.functions import FUNCTIONS as _FUNCTIONS

from . import apply as _apply, autograd
from .creation import (
    arange, empty, from_numpy, full, ones, ones_like, rand, rand_like, randn, randn_like, tensor,
    zeros, zeros_like,
)
from .dtypes import BY_NAME as _DT
from .autograd import backward, grad
from .errors import AutogradError, DTypeError, FreedGraphError, InplaceError, ShapeError
from .export import to_dot, to_networkx
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad, set_grad_enabled
from .inplace import add, div, mul, sub
from .node import AccumulateGrad, Node, SavedValue, reset_stats, stats
from .rng import manual_seed
from .tensors import Tensor
from . import nn, optim  # noqa: E402  (models: the shared modules and torch.optim's optimisers)

globals().update(_FUNCTIONS)  # where, maximum, minimum, concatenate, cat, stack, conv2d, ...
globals().update(_apply.functions())  # dg.tanh and its kin, compiled where dyngraph._crecord is in use

float16 = half = _DT["float16"]
float32 = float = _DT["float32"]  # noqa: A001  (torch's names)
float64 = double = _DT["float64"]
int8, int16, int32, int64, uint8 = (_DT[n] for n in ("int8", "int16", "int32", "int64", "uint8"))
long = int64
int = int32  # noqa: A001
bool = _DT["bool"]  # noqa: A001

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "empty", "full", "rand", "randn", "arange", "from_numpy",
    "zeros_like", "ones_like", "rand_like", "randn_like", "manual_seed", "backward", "grad",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode", "is_inference_mode_enabled", "add", "sub", "mul", "div",
    "to_networkx", "to_dot", "stats", "reset_stats", "autograd", "Node", "AccumulateGrad",
    "SavedValue", "AutogradError", "FreedGraphError", "InplaceError", "ShapeError", "DTypeError",
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool", "nn", "optim",
    *sorted(_FUNCTIONS),
]
