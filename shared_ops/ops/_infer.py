"""Shape and dtype rules shared by many ops (each raises a clear error naming the op)."""

from __future__ import annotations

from ..dtypes import FLOATING, result_dtype
from ..errors import DTypeError, ShapeError
from ..registry import Spec, broadcast_shapes, fmt_shape, normalize_axis


def require_float(op: str, *specs: Spec) -> None:
    for s in specs:
        if s.dtype not in FLOATING:
            raise DTypeError(f"{op}: needs floating-point input, got {s.dtype}; convert with .astype('float32')")


def same_dtype(op: str, *specs: Spec) -> str:
    dtypes = {s.dtype for s in specs}
    if len(dtypes) > 1:
        raise DTypeError(
            f"{op}: inputs have different dtypes ({', '.join(s.dtype for s in specs)}); "
            f"cast them to one dtype first (the tensor surface does this for you)"
        )
    return specs[0].dtype


def elementwise(op: str, *, floating: bool = False, out_dtype: str | None = None):
    """``infer`` for a broadcasting elementwise op with inputs of one dtype."""

    def infer(*specs: Spec, **attrs) -> Spec:
        dtype = same_dtype(op, *specs)
        if floating:
            require_float(op, *specs)
        return Spec(broadcast_shapes(op, *(s.shape for s in specs)), out_dtype or dtype)

    return infer


def reduction(op: str, *, floating: bool = False):
    """``infer`` for ``op(x, axis=..., keepdims=...)``."""

    def infer(x: Spec, *, axis=None, keepdims=False) -> Spec:
        if floating:
            require_float(op, x)
        axes = normalize_axis(op, axis, x.ndim)
        axes = tuple(range(x.ndim)) if axes is None else axes
        if keepdims:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return Spec(shape, x.dtype)

    return infer


def check_rank(op: str, spec: Spec, ranks: tuple, what: str = "input") -> None:
    if spec.ndim not in ranks:
        raise ShapeError(f"{op}: {what} must have {' or '.join(map(str, ranks))} dimensions, got shape {fmt_shape(spec.shape)}")


__all__ = ["require_float", "same_dtype", "elementwise", "reduction", "check_rank", "result_dtype"]
