"""shared_ops: the one op library both front ends run on.

An op is declared once (``forward`` / ``infer`` / ``vjp``) and interpreted three ways: on
arrays (``ArrayOps``), recording dyngraph nodes, and declaring staticgraph nodes. This package
knows no graph.
"""

from . import ops as _ops  # noqa: F401  (registers every op)
from .backend import (
    Backend,
    backend_of,
    common_backend,
    default_backend,
    get_backend,
    parse_device,
    set_default_backend,
    use_backend,
)
from .dispatch import Stats, bind, generation, instrument, perturb_rounding, wrap_kernels
from .dtypes import FLOATING, dtype_name, is_floating, result_dtype
from .errors import (
    AxisError,
    BackendError,
    DeviceError,
    DTypeError,
    GraphCompareError,
    OpAttributeError,
    RegistryError,
    ShapeError,
    UnknownOpError,
)
from .interp import ALL_TRUE, ArrayOps, OpsNamespace, ShapeOnly, array_ops
from .registry import REGISTRY, OpDef, Registry, Spec, all_ops, get_op, register
from .surface import TensorSurface

__all__ = [
    "Backend", "backend_of", "common_backend", "default_backend", "get_backend", "parse_device",
    "set_default_backend", "use_backend", "Stats", "generation", "instrument", "perturb_rounding", "bind", "wrap_kernels", "FLOATING",
    "dtype_name", "is_floating", "result_dtype", "AxisError", "BackendError", "DeviceError",
    "DTypeError", "GraphCompareError", "OpAttributeError", "RegistryError", "ShapeError",
    "UnknownOpError", "ALL_TRUE", "ArrayOps", "OpsNamespace", "ShapeOnly", "array_ops",
    "REGISTRY", "OpDef", "Registry", "Spec", "all_ops", "get_op", "register", "TensorSurface",
]
