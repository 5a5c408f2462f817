"""The backends built on first use: array-api-strict (tests) and CuPy (GPU).

``shared_ops.backend.get_backend`` makes each the first time it is asked for, so importing the
package never imports CuPy or array-api-strict.
"""

from __future__ import annotations

import numpy as np

from .backend import Backend, Extras
from .errors import BackendError

# --------------------------------------------------------------------------- array-api-strict


def _strict_scatter_add(flat_index, values, size):
    xp = _strict_module()
    # one-hot matmul: out[j] = sum_i [idx_i == j] * v_i. Pure array API, deterministic.
    if flat_index.shape[0] == 0:
        return xp.zeros(size, dtype=values.dtype)
    onehot = xp.astype(xp.arange(size)[None, :] == flat_index[:, None], values.dtype)
    return xp.matmul(values[None, :], onehot)[0, :]


def _strict_module():
    try:
        import array_api_strict
    except ImportError as exc:  # pragma: no cover - a test dependency
        raise BackendError(
            "the array_api_strict backend needs the 'array-api-strict' package: "
            "pip install 'graphcompare[test]'"
        ) from exc
    return array_api_strict


def make_strict() -> Backend:
    xp = _strict_module()
    Array = type(xp.asarray(0.0))

    def from_numpy(arr):
        return xp.asarray(arr)

    def to_numpy(arr):
        return np.asarray(arr)  # strict arrays implement __array__ / buffer protocol

    return Backend(
        name="array_api_strict",
        xp=xp,
        device="cpu",
        extras=Extras(scatter_add=_strict_scatter_add),
        array_types=(Array,),
        _to_numpy=to_numpy,
        _from_numpy=from_numpy,
    )


# --------------------------------------------------------------------------- CuPy


def _cupy_module():
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(
            "the CuPy backend was asked for but CuPy is not installed. Install it with "
            "pip install 'graphcompare[gpu]' (CuPy for CUDA 12), or use device='cpu'"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when the driver is missing
        raise BackendError(
            f"CuPy is installed but no CUDA device can be used ({exc}). Run on a machine with "
            "an NVIDIA GPU and driver, or use device='cpu'"
        ) from exc
    if count == 0:
        raise BackendError("CuPy is installed but no CUDA device exists; use device='cpu'")
    return cupy


def _cupy_scatter_add(flat_index, values, size):
    cp = _cupy_module()
    # Deterministic: stable sort by index, then a segmented sum over runs of equal index
    # (no atomics, whose float sums depend on thread timing).
    order = cp.argsort(flat_index, kind="stable")
    idx = flat_index[order]
    vals = values[order]
    out = cp.zeros(size, dtype=values.dtype)
    if idx.size == 0:
        return out
    starts = cp.concatenate([cp.zeros(1, dtype=bool), idx[1:] != idx[:-1]])
    seg_starts = cp.flatnonzero(cp.concatenate([cp.ones(1, dtype=bool), starts[1:]]))
    sums = cp.add.reduceat(vals, seg_starts)
    out[idx[seg_starts]] = sums
    return out


def make_cupy(index: int) -> Backend:
    cp = _cupy_module()
    count = cp.cuda.runtime.getDeviceCount()
    if index >= count:
        raise BackendError(f"device 'cuda:{index}' does not exist: this machine has {count} CUDA device(s)")
    return Backend(
        name="cupy",
        xp=cp,
        device=f"cuda:{index}",
        extras=Extras(scatter_add=_cupy_scatter_add),
        array_types=(cp.ndarray,),
        _to_numpy=cp.asnumpy,
        _from_numpy=cp.asarray,
    )
