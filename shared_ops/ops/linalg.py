"""``matmul`` with NumPy semantics: 1-D operands are promoted and the added axis removed,
batch dimensions broadcast (and are summed back with ``sum_to`` in the rule)."""

from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError
from ..registry import Spec, broadcast_shapes, fmt_shape, register
from ._infer import same_dtype


def _matmul_infer(a: Spec, b: Spec, op: str = "matmul") -> Spec:
    dtype = same_dtype(op, a, b)
    if dtype == "bool":
        raise DTypeError(f"{op}: bool operands are not supported; convert with .astype('float32')")
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"{op}: operands must have at least 1 dimension, got {fmt_shape(a.shape)} and {fmt_shape(b.shape)}; use * for scalars")
    ka, kb = a.shape[-1], b.shape[-2 if b.ndim > 1 else 0]
    if ka is not None and kb is not None and ka != kb:
        raise ShapeError(
            f"{op}: shapes {fmt_shape(a.shape)} and {fmt_shape(b.shape)} do not match in the "
            f"contracted dimension ({ka} != {kb}); transpose one operand"
        )
    batch = broadcast_shapes(op, a.shape[:-2], b.shape[:-2])
    return Spec(batch + a.shape[-2:-1] + (b.shape[-1:] if b.ndim > 1 else ()), dtype)


_MT_AXES = {n: tuple(range(n - 2)) + (n - 1, n - 2) for n in range(2, 9)}


def _mT(ops, x):
    n = x.ndim
    axes = _MT_AXES.get(n)
    if axes is None:
        axes = tuple(range(n - 2)) + (n - 1, n - 2)
    return ops.transpose(x, axes=axes)


def _matmul_vjp(ops, g, inputs, output):
    a, b = inputs
    want_a, want_b = ops.needs_input_grad[0], ops.needs_input_grad[1]
    if a.ndim == 2 and b.ndim == 2:  # no batch dimensions: nothing to sum back
        return (
            ops.matmul_nt(g, b) if want_a else None,  # g @ b^T
            ops.matmul_tn(a, g) if want_b else None,  # a^T @ g
        )
    ga = gb = None
    if a.ndim == 1 and b.ndim == 1:  # dot product: g is a scalar
        return (ops.mul(g, b) if want_a else None, ops.mul(g, a) if want_b else None)
    # matrix @ vector and vector @ matrix: the other operand's gradient is one product with g
    # (a^T g as g @ a), not a transpose, two reshapes and a squeeze around a matrix product
    if a.ndim == 2 and b.ndim == 1:  # (n, k) @ (k,) -> (n,)
        return (
            ops.matmul(ops.expand_dims(g, axis=-1), ops.expand_dims(b, axis=0)) if want_a else None,
            ops.matmul(g, a) if want_b else None,
        )
    if a.ndim == 1 and b.ndim == 2:  # (k,) @ (k, m) -> (m,)
        return (
            ops.matmul(b, g) if want_a else None,
            ops.matmul(ops.expand_dims(a, axis=-1), ops.expand_dims(g, axis=-2)) if want_b else None,
        )
    if a.ndim == 1:  # (k,) @ (..., k, m) -> (..., m)
        if want_a:
            ga = ops.squeeze(ops.matmul(ops.expand_dims(g, axis=-2), _mT(ops, b)), axis=(g.ndim - 1,))
        if want_b:
            gb = ops.matmul(ops.expand_dims(a, axis=-1), ops.expand_dims(g, axis=-2))
    elif b.ndim == 1:  # (..., n, k) @ (k,) -> (..., n)
        if want_a:
            ga = ops.matmul(ops.expand_dims(g, axis=-1), ops.expand_dims(b, axis=0))
        if want_b:
            gb = ops.squeeze(ops.matmul(_mT(ops, a), ops.expand_dims(g, axis=-1)), axis=(g.ndim,))
    else:
        ga = ops.matmul_nt(g, b) if want_a else None
        gb = ops.matmul_tn(a, g) if want_b else None
    return (
        None if ga is None else ops.sum_to(ga, a.shape),
        None if gb is None else ops.sum_to(gb, b.shape),
    )


_ndarray = np.ndarray
_BLAS = frozenset((np.dtype("float32"), np.dtype("float64")))
_DOT_RANKS = frozenset(((2, 2), (2, 1), (1, 2)))


def _dot(a, b) -> bool:
    # NumPy float arrays, a matrix and a matrix or vector: ndarray.dot, the same BLAS product
    # (gemm or gemv, bit for bit on contiguous operands) without the matmul ufunc's dispatch,
    # which on small operands costs about as much as the product
    if a.__class__ is _ndarray and b.__class__ is _ndarray and a.dtype in _BLAS:
        na = a.ndim
        return na == 2 and 0 < b.ndim < 3 or na == 1 and b.ndim == 2  # _DOT_RANKS, tested without a key tuple
    return False


# From this many output elements on, a matrix product goes through the matmul ufunc rather
# than ndarray.dot: dot zeroes its output before the gemm (a memset the gemm, with beta = 0,
# overwrites), about 25 us of a 1.6 MB output on one core, while the ufunc's dispatch costs
# about 1 us more than dot's. Both report floating-point errors of the product alike (dot's
# warning names dot, the ufunc's matmul).
_UFUNC_MIN = 16384


def _same_gemm(a, b) -> bool:
    # a and b: 2-D float ndarrays. True where `a @ b` (the matmul ufunc) makes the very cblas
    # call `a.dot(b)` makes, so the bits are the same: every dimension above one (no gemv or
    # scalar special case), each operand C- or F-contiguous and aligned (dot copies any other
    # operand, the ufunc passes a strided one as is), one dtype (no cast). Both then call gemm
    # row-major, transposing an F-contiguous operand, into a fresh C-contiguous output, or both
    # call syrk for a matrix times its own transpose.
    m, k = a.shape
    fa, fb = a.flags, b.flags
    return (
        m > 1 and k > 1 and b.shape[1] > 1 and b.shape[0] == k and b.dtype == a.dtype
        and fa.forc and fb.forc and fa.aligned and fb.aligned
    )


def _gemm(a, b):
    # the product of two 2-D float ndarrays as _matmul_forward makes it (written out there, where
    # one call fewer per product counts): the matmul ufunc for a large output, else ndarray.dot
    if a.shape[0] * b.shape[1] >= _UFUNC_MIN and _same_gemm(a, b):
        return np.matmul(a, b)
    return a.dot(b)


def _matmul_forward(xp, a, b):
    # the kernel of both front ends, so they stay bitwise equal; _dot's test written out: one
    # Python call fewer per product (W2 of bench_peers runs 159 per step), and the ranks
    # compared one by one (a (rank, rank) tuple looked up in a set costs a hash and a compare)
    if a.__class__ is _ndarray and b.__class__ is _ndarray and a.dtype in _BLAS:
        na = a.ndim
        if na == 2 and 0 < b.ndim < 3 or na == 1 and b.ndim == 2:  # _DOT_RANKS
            if na == 2 == b.ndim and a.shape[0] * b.shape[1] >= _UFUNC_MIN and _same_gemm(a, b):
                return np.matmul(a, b)
            return a.dot(b)
    return xp.matmul(a, b)


def _matmul_into(xp, a, b, out):
    # _matmul_forward's product written into out, bit for bit (ndarray.dot writes only a
    # C-contiguous out; the matmul ufunc's product of a strided operand can differ from dot's)
    if not _dot(a, b):
        return xp.matmul(a, b, out=out)
    if out.flags.c_contiguous:
        if (
            a.ndim == 2 == b.ndim and out.size >= _UFUNC_MIN and _same_gemm(a, b) and out.dtype == a.dtype
            and out.flags.aligned and not np.may_share_memory(out, a) and not np.may_share_memory(out, b)
        ):  # the gemm dot would make (ldc from the C-contiguous out), without dot's memset
            return np.matmul(a, b, out=out)
        return a.dot(b, out=out)
    out[...] = a.dot(b)
    return out


register(
    "matmul",
    forward_into=_matmul_into,
    forward=_matmul_forward,
    infer=_matmul_infer,
    vjp=_matmul_vjp, grad_reads={0: (1,), 1: (0,)},
    torch_name="MmBackward0",  # 2-D @ 2-D; PyTorch names other ranks Dot/Mv/UnsafeView
    doc="The matrix product ``a @ b``, batch dimensions broadcast (as ``torch.matmul``).",
)


# --------------------------------------------------------------------------- matmul_nt / matmul_tn
# The products matmul's rule needs, with one operand transposed in its last two axes
# (BLAS's "N"/"T"): a @ b^T and a^T @ b. One op each instead of a transpose op and a matmul
# op: the same product on a transposed view (bitwise what transpose + matmul gave), one
# kernel call fewer per gradient. Both operands need at least 2 dimensions; batch dimensions
# broadcast as matmul's. Their own rules close over matmul, matmul_nt and matmul_tn.


def _swap(x: Spec) -> Spec:
    return Spec(x.shape[:-2] + (x.shape[-1], x.shape[-2]), x.dtype)


def _transposed_infer(op: str, ta: bool, tb: bool):
    def infer(a: Spec, b: Spec) -> Spec:
        if a.ndim < 2 or b.ndim < 2:
            raise ShapeError(
                f"{op}: operands must have at least 2 dimensions, got {fmt_shape(a.shape)} and "
                f"{fmt_shape(b.shape)}; use matmul for vectors"
            )
        return _matmul_infer(_swap(a) if ta else a, _swap(b) if tb else b, op)

    return infer


def _mt_view(xp, x):
    if x.ndim == 2:
        return x.T
    return xp.permute_dims(x, _MT_AXES.get(x.ndim) or tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _matmul_nt_vjp(ops, g, inputs, output):
    a, b = inputs  # out = a @ b^T
    return (
        ops.sum_to(ops.matmul(g, b), a.shape) if ops.needs_input_grad[0] else None,  # g @ b
        ops.sum_to(ops.matmul_tn(g, a), b.shape) if ops.needs_input_grad[1] else None,  # g^T @ a
    )


def _matmul_tn_vjp(ops, g, inputs, output):
    a, b = inputs  # out = a^T @ b
    return (
        ops.sum_to(ops.matmul_nt(b, g), a.shape) if ops.needs_input_grad[0] else None,  # b @ g^T
        ops.sum_to(ops.matmul(a, g), b.shape) if ops.needs_input_grad[1] else None,  # a @ g
    )


def _matmul_nt_forward(xp, a, b):
    if a.__class__ is _ndarray and b.__class__ is _ndarray and a.ndim == 2 and b.ndim == 2 and a.dtype in _BLAS:
        return _gemm(a, b.T)  # as _matmul_forward on the view
    return _matmul_forward(xp, a, _mt_view(xp, b))


def _matmul_tn_forward(xp, a, b):
    if a.__class__ is _ndarray and b.__class__ is _ndarray and a.ndim == 2 and b.ndim == 2 and a.dtype in _BLAS:
        return _gemm(a.T, b)
    return _matmul_forward(xp, _mt_view(xp, a), b)


register(
    "matmul_nt",
    forward=_matmul_nt_forward,
    infer=_transposed_infer("matmul_nt", False, True),
    vjp=_matmul_nt_vjp, grad_reads={0: (1,), 1: (0,)},
    torch_name="MmBackward0",  # PyTorch: a @ b.T is an mm on a transposed view
    doc="a @ b^T (b transposed in its last two axes): matmul's gradient with respect to a.",
)


register(
    "matmul_tn",
    forward=_matmul_tn_forward,
    infer=_transposed_infer("matmul_tn", True, False),
    vjp=_matmul_tn_vjp, grad_reads={0: (1,), 1: (0,)},
    torch_name="MmBackward0",
    doc="a^T @ b (a transposed in its last two axes): matmul's gradient with respect to b.",
)
