"""Array backends: NumPy (CPU, default), CuPy (GPU, lazy) and array-api-strict (tests only).

Every kernel is written against the array API namespace ``xp`` it is handed. What the array
API standard lacks lives in a small named set of per-backend *extras* (see ``Extras``):

- ``scatter_add(flat_index, values, size)``: the deterministic scatter behind index gradients.
  NumPy uses ``np.add.at`` (a sequential loop in index order); CuPy sorts by index (stable)
  and segment-sums, never atomics; array-api-strict uses a one-hot matmul. Each is
  deterministic, so gradients are bitwise reproducible run to run.

Fused elementwise kernels are generated outside the backends, from one ``KernelSpec``:
``shared_ops.fusion_cpu`` (numba) and ``shared_ops.fusion_gpu`` (``cupy.ElementwiseKernel``).

Devices are strings: ``"cpu"``, ``"cuda"`` (= ``"cuda:0"``) or ``"cuda:N"``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .errors import BackendError, DeviceError, DTypeError

__all__ = [
    "Backend",
    "get_backend",
    "backend_of",
    "default_backend",
    "set_default_backend",
    "use_backend",
    "parse_device",
    "common_backend",
]


@dataclass
class Extras:
    """What the array API standard lacks, one implementation per backend."""

    scatter_add: Callable[[Any, Any, int], Any]


@dataclass
class Backend:
    """One array library on one device.

    ``xp`` is the namespace kernels receive. ``device`` is ``"cpu"`` or ``"cuda:N"``.
    """

    name: str
    xp: Any
    device: str
    extras: Extras
    array_types: tuple = field(default=())
    _to_numpy: Callable[[Any], np.ndarray] | None = None
    _from_numpy: Callable[[np.ndarray], Any] | None = None

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        """``data`` (nested lists, scalars, NumPy arrays, this backend's arrays) as an array here."""
        if dtype is not None:
            dtype = getattr(self.xp, np.dtype(dtype).name)
        if isinstance(data, self.array_types):
            return data if dtype is None or data.dtype == dtype else self.xp.astype(data, dtype)
        if self._from_numpy is not None and not isinstance(data, (int, float, bool)):
            arr = np.asarray(data)
            if dtype is not None:
                arr = arr.astype(np.dtype(str(dtype).split(".")[-1]) if not isinstance(dtype, np.dtype) else dtype)
            return self._from_numpy(arr)
        return self.xp.asarray(data, dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        """A NumPy copy (or view, for NumPy arrays) of an array of this backend."""
        if self._to_numpy is None:
            return np.asarray(array)
        return self._to_numpy(array)

    def is_array(self, x: Any) -> bool:
        return isinstance(x, self.array_types)

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"


# --------------------------------------------------------------------------- NumPy


def _np_scatter_add(flat_index, values, size):
    out = np.zeros(size, dtype=values.dtype)
    np.add.at(out, flat_index, values)  # sequential in index order: deterministic
    return out


_NUMPY = Backend(
    name="numpy",
    xp=np,
    device="cpu",
    extras=Extras(scatter_add=_np_scatter_add),
    array_types=(np.ndarray, np.generic),
)

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


def _make_strict() -> Backend:
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


def _make_cupy(index: int) -> Backend:
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


# --------------------------------------------------------------------------- selection

_BACKENDS: dict[str, Backend] = {"numpy": _NUMPY}
_state = threading.local()


def parse_device(device: str) -> tuple[str, int]:
    """``"cpu"`` -> ``("cpu", 0)``; ``"cuda"`` -> ``("cuda", 0)``; ``"cuda:1"`` -> ``("cuda", 1)``."""
    if not isinstance(device, str):
        device = str(device)
    dev = device.strip().lower()
    if dev == "cpu":
        return "cpu", 0
    if dev == "cuda":
        return "cuda", 0
    if dev.startswith("cuda:") and dev[5:].isdigit():
        return "cuda", int(dev[5:])
    raise DeviceError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")


def get_backend(name: str | None = None) -> Backend:
    """A backend by name (``"numpy"``, ``"cupy"``, ``"array_api_strict"``) or device string.

    ``None`` gives the default backend (NumPy unless changed with ``set_default_backend``).
    ``"cpu"`` gives the default CPU backend; ``"cuda"``/``"cuda:N"`` gives CuPy on that device.
    """
    if name is None:
        return default_backend()
    if isinstance(name, Backend):
        return name
    key = str(name).lower().replace("-", "_")
    if key in _BACKENDS:
        return _BACKENDS[key]
    if key == "cpu":
        d = default_backend()
        return d if d.device == "cpu" else _NUMPY
    if key in ("array_api_strict", "strict"):
        _BACKENDS["array_api_strict"] = _BACKENDS["strict"] = _make_strict()
        return _BACKENDS[key]
    if key == "cupy" or key.startswith("cuda"):
        kind, index = ("cuda", 0) if key == "cupy" else parse_device(key)
        b = _make_cupy(index)
        _BACKENDS[f"cuda:{index}"] = b
        if index == 0:
            _BACKENDS["cupy"] = _BACKENDS["cuda"] = b
        return b
    raise BackendError(
        f"unknown backend {name!r}: use 'numpy', 'cupy', 'array_api_strict', or a device "
        "string 'cpu', 'cuda', 'cuda:N'"
    )


def default_backend() -> Backend:
    return getattr(_state, "default", None) or _GLOBAL_DEFAULT[0]


_GLOBAL_DEFAULT = [_NUMPY]


def set_default_backend(name: str) -> Backend:
    """Make ``name`` the process-wide default backend (used by creation functions)."""
    _GLOBAL_DEFAULT[0] = get_backend(name)
    return _GLOBAL_DEFAULT[0]


@contextlib.contextmanager
def use_backend(name: str):
    """Within the block (this thread), creation functions make arrays on ``name``."""
    prev = getattr(_state, "default", None)
    _state.default = get_backend(name)
    try:
        yield _state.default
    finally:
        _state.default = prev


def backend_of(array: Any) -> Backend:
    """The backend an array belongs to; a clear ``DTypeError`` for anything else."""
    t = type(array)
    if t is np.ndarray or isinstance(array, np.generic):
        return _NUMPY
    for b in list(_BACKENDS.values()):
        if isinstance(array, b.array_types):
            if b.name == "cupy":
                return _BACKENDS.get(f"cuda:{array.device.id}") or get_backend(f"cuda:{array.device.id}")
            return b
    mod = t.__module__.split(".")[0]
    if mod == "cupy" and "cupy" in sys.modules:
        return get_backend(f"cuda:{array.device.id}")
    if mod == "array_api_strict":
        return get_backend("array_api_strict")
    raise DTypeError(
        f"expected a numeric array, got {t.__name__}: pass a NumPy/CuPy array or a Python "
        "number (wrap lists with numpy.asarray first)"
    )


def common_backend(arrays, op_name: str = "op") -> Backend:
    """The one backend all ``arrays`` live on; ``DeviceError`` naming both devices if mixed."""
    first = None
    for a in arrays:
        b = backend_of(a)
        if first is None:
            first = b
        elif b is not first:
            raise DeviceError(
                f"{op_name}: inputs are on different devices/backends ({first.name} on "
                f"{first.device} and {b.name} on {b.device}); move them to one device first "
                "(for example with .to('cpu'))"
            )
    return first or default_backend()
