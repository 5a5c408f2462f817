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
    """One array library on one device. ``get_backend`` gives them; a user rarely builds one.

    Args:
        name: ``"numpy"``, ``"cupy"`` or ``"array_api_strict"``.
        xp: the array namespace kernels receive (``numpy``, ``cupy``...).
        device: ``"cpu"`` or ``"cuda:N"``.
        extras: what the array API standard lacks, for this library (``Extras``).
        array_types: the classes of this library's arrays.
        _to_numpy: array -> NumPy array (None: ``numpy.asarray``).
        _from_numpy: NumPy array -> array here (None: ``xp.asarray``).

    Examples:
        >>> from shared_ops import get_backend
        >>> cpu = get_backend("numpy")
        >>> cpu, cpu.xp.__name__
        (Backend('numpy', device='cpu'), 'numpy')
    """

    name: str
    xp: Any
    device: str
    extras: Extras
    array_types: tuple = field(default=())
    _to_numpy: Callable[[Any], np.ndarray] | None = None
    _from_numpy: Callable[[np.ndarray], Any] | None = None

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        """``data`` (nested lists, scalars, NumPy arrays, this backend's arrays) as an array here.

        Args:
            data: what to convert; an array of this backend is returned as it is (cast to
                ``dtype`` if given).
            dtype: a dtype name or NumPy dtype; None keeps or infers it.

        Returns:
            An array of this backend.

        Examples:
            >>> from shared_ops import get_backend
            >>> get_backend("numpy").asarray([1, 2], dtype="float32")
            array([1., 2.], dtype=float32)
        """
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
        """A NumPy copy (or view, for NumPy arrays) of an array of this backend.

        Args:
            array: an array of this backend.

        Returns:
            A NumPy array (on the host, for a GPU array).

        Examples:
            >>> import numpy as np
            >>> from shared_ops import get_backend
            >>> get_backend("numpy").to_numpy(np.arange(3))
            array([0, 1, 2])
        """
        if self._to_numpy is None:
            return np.asarray(array)
        return self._to_numpy(array)

    def is_array(self, x: Any) -> bool:
        """Whether ``x`` is an array of this backend.

        Args:
            x: anything.

        Returns:
            True for this library's arrays (and NumPy scalars, for NumPy).

        Examples:
            >>> import numpy as np
            >>> from shared_ops import get_backend
            >>> get_backend("numpy").is_array(np.zeros(2)), get_backend("numpy").is_array([0.0])
            (True, False)
        """
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

# --------------------------------------------------------------------------- selection

_BACKENDS: dict[str, Backend] = {"numpy": _NUMPY}
_state = threading.local()


def parse_device(device: str) -> tuple[str, int]:
    """A device string as ``(kind, index)``: ``"cpu"`` -> ``("cpu", 0)``, ``"cuda"`` ->
    ``("cuda", 0)``, ``"cuda:1"`` -> ``("cuda", 1)`` (case and spaces ignored).

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (anything else is converted with ``str``).

    Returns:
        ``(kind, index)``.

    Raises:
        DeviceError: any other string.

    Examples:
        >>> from shared_ops import parse_device
        >>> parse_device("CUDA:1")
        ('cuda', 1)
        >>> parse_device("gpu")
        Traceback (most recent call last):
        ...
        shared_ops.errors.DeviceError: unknown device 'gpu': use 'cpu', 'cuda' or 'cuda:N'
        ...
    """
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

    CuPy and array-api-strict are imported the first time they are asked for.

    Args:
        name: a backend name, a device string (``"cpu"`` gives the default CPU backend,
            ``"cuda"``/``"cuda:N"`` CuPy on that device), a ``Backend`` (returned as it is), or
            None for the default backend (NumPy unless changed with ``set_default_backend``).

    Returns:
        The ``Backend``, one object per library and device.

    Raises:
        BackendError: an unknown name, or a library or device that cannot be used here (no
            CuPy, no GPU, no such device).

    Examples:
        >>> from shared_ops import get_backend
        >>> get_backend("cpu")
        Backend('numpy', device='cpu')
        >>> get_backend("jax")
        Traceback (most recent call last):
        ...
        shared_ops.errors.BackendError: unknown backend 'jax': use 'numpy', 'cupy', 'array_api_strict', ...
        ...
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
        from ._backend_libs import make_strict

        _BACKENDS["array_api_strict"] = _BACKENDS["strict"] = make_strict()
        return _BACKENDS[key]
    if key == "cupy" or key.startswith("cuda"):
        from ._backend_libs import make_cupy

        kind, index = ("cuda", 0) if key == "cupy" else parse_device(key)
        b = make_cupy(index)
        _BACKENDS[f"cuda:{index}"] = b
        if index == 0:
            _BACKENDS["cupy"] = _BACKENDS["cuda"] = b
        return b
    raise BackendError(
        f"unknown backend {name!r}: use 'numpy', 'cupy', 'array_api_strict', or a device "
        "string 'cpu', 'cuda', 'cuda:N'"
    )


def default_backend() -> Backend:
    """The backend creation functions use: ``use_backend``'s inside its block (this thread),
    else ``set_default_backend``'s, else NumPy.

    Returns:
        The current default ``Backend``.

    Examples:
        >>> from shared_ops import default_backend
        >>> default_backend()
        Backend('numpy', device='cpu')
    """
    return getattr(_state, "default", None) or _GLOBAL_DEFAULT[0]


_GLOBAL_DEFAULT = [_NUMPY]


def set_default_backend(name: str) -> Backend:
    """Make ``name`` the process-wide default backend (used by creation functions).

    Args:
        name: what ``get_backend`` takes (a backend name or device string).

    Returns:
        The new default ``Backend``.

    Examples:
        >>> from shared_ops import set_default_backend
        >>> set_default_backend("numpy")
        Backend('numpy', device='cpu')
    """
    _GLOBAL_DEFAULT[0] = get_backend(name)
    return _GLOBAL_DEFAULT[0]


@contextlib.contextmanager
def use_backend(name: str):
    """Within the block (this thread), creation functions make arrays on ``name``.

    Args:
        name: what ``get_backend`` takes (a backend name or device string).

    Yields:
        The ``Backend`` in use inside the block.

    Examples:
        >>> from shared_ops import default_backend, use_backend
        >>> with use_backend("array_api_strict") as b:
        ...     print(b.name, default_backend() is b)
        array_api_strict True
        >>> default_backend().name
        'numpy'
    """
    prev = getattr(_state, "default", None)
    _state.default = get_backend(name)
    try:
        yield _state.default
    finally:
        _state.default = prev


def backend_of(array: Any) -> Backend:
    """The backend an array belongs to.

    Args:
        array: a NumPy, CuPy or array-api-strict array (or NumPy scalar).

    Returns:
        Its ``Backend`` (for CuPy, the one of the array's device).

    Raises:
        DTypeError: ``array`` is not an array of any backend (a list, a string).

    Examples:
        >>> import numpy as np
        >>> from shared_ops import backend_of
        >>> backend_of(np.float32(1.0))
        Backend('numpy', device='cpu')
        >>> backend_of([1.0])
        Traceback (most recent call last):
        ...
        shared_ops.errors.DTypeError: expected a numeric array, got list: ...
        ...
    """
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
    """The one backend all ``arrays`` live on.

    Args:
        arrays: the arrays an op is given.
        op_name: the op's name, for the error message.

    Returns:
        Their ``Backend`` (the default one when ``arrays`` is empty).

    Raises:
        DeviceError: the arrays live on different backends or devices (both are named).

    Examples:
        >>> import numpy as np
        >>> from shared_ops import common_backend
        >>> common_backend([np.zeros(2), np.ones(2)], "add")
        Backend('numpy', device='cpu')
    """
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
