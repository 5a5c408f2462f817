"""``dg.Tensor``: an array plus autograd state, on the shared tensor surface.

Every operator and method comes from ``shared_ops.TensorSurface``; this class supplies how an
op is applied (``_apply_op``: run the kernel, record a ``Node`` when needed, see
``record.py``), constants (``_const``), and PyTorch's autograd attributes. The in-place ops
come from ``InplaceMixin`` (``inplace.py``).
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from shared_ops import TensorSurface, backend_of, get_backend
from shared_ops.backend import default_backend
from shared_ops.dtypes import FLOATING_SET

from . import dtypes as _dt
from .errors import as_runtime
from .grad_mode import MODE
from .apply import apply_op, bind
from .binary_fast import BinaryFastPath
from .convert import ConvertMixin
from .hooks import HooksMixin
from .inplace import InplaceMixin
from .node import dtype_name_of
from .record import NUMPY, InferenceVersion, Version, const_array, new
from .views import ViewMixin, detached

_ndarray = np.ndarray
_FLOAT_NAMES = FLOATING_SET
_CONST_TENSORS: dict = {}
_DNAMES = {np.dtype(n): n for n in _dt.NAMES}


class Tensor(InplaceMixin, ConvertMixin, HooksMixin, ViewMixin, BinaryFastPath, TensorSurface):
    """An n-dimensional array that can record the ops applied to it (``requires_grad``).

    ``dg.Tensor(2, 3)`` makes an uninitialised float32 tensor and ``dg.Tensor([1, 2])`` a
    float32 tensor of that data, as ``torch.Tensor`` does (``dg.tensor`` keeps integer dtypes).

    Parameters:
        *shape: the sizes (``dg.Tensor(7, 5)``), or one list, tuple or array of data.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; default the default backend's.

    Raises:
        TypeError: a size that is not an integer (``dg.Tensor(6.7)``: use ``dg.tensor(6.7)``).

    Examples:
        >>> dg.Tensor(7, 5).uniform_(-1, 1).shape
        (7, 5)
        >>> dg.Tensor([1, 2])
        tensor([1., 2.])
    """

    __slots__ = ("_data", "_be", "_ver", "_rg", "_grad_fn", "_meta", "_view", "__weakref__")

    def __init__(self, *shape, device=None):
        be = get_backend(device) if device is not None else default_backend()
        if len(shape) == 1 and isinstance(shape[0], (list, tuple, np.ndarray)):  # data, as torch.Tensor([1, 2])
            data = be.asarray(np.asarray(shape[0], dtype=np.float32))
        else:
            for s in shape:
                if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
                    raise TypeError(
                        f"new(): data must be a sequence (got {type(s).__name__}): dg.Tensor(*sizes) takes integer "
                        f"sizes, got {s!r}; for a tensor holding that number use dg.tensor({s!r})"
                    )
            data = be.xp.empty(tuple(int(s) for s in shape) or (0,), dtype=be.xp.float32)  # Tensor(): shape (0,)
        init_leaf(self, data, be)

    # ------------------------------------------------------------------ surface plumbing
    _apply_op = classmethod(apply_op)  # apply.py: the kernel, the node, the layout

    def _const(self, value, dtype):
        be = self._be
        if be is NUMPY and value.__class__ is float and value == value and value != 0:
            key = (value, dtype)
            t = _CONST_TENSORS.get(key)  # a read-only constant, shared: it never changes
            if t is None:
                if len(_CONST_TENSORS) > 1024:
                    _CONST_TENSORS.clear()
                t = _CONST_TENSORS[key] = init(new(Tensor), const_array(be, value, dtype), be)
            return t
        return init(new(Tensor), const_array(be, value, dtype), be)

    def _promoted(self, dtype):
        """``self`` cast for an op on mixed dtypes. PyTorch's op saves its input before the cast
        (its kernel casts), so the copy answers to ``self``'s version counter: an in-place change
        of ``self`` before backward is refused where PyTorch refuses it."""
        from .node import cast_from

        cast = self.astype(dtype)
        v = self._ver
        if v is None:
            v = self._ver = Version()
        cast._ver = v
        cast_from(cast._data, self._dtype_name)
        return cast

    def _owned(self, x):
        from .result_layout import make_contiguous

        return x if x._view is None else make_contiguous(x.clone())

    def _fail(self, exc):
        raise as_runtime(exc) from None  # PyTorch raises RuntimeError

    def _alias(self, x, torch_name):
        return self._named(x._op("getitem", x, index=(("e",),)), torch_name)  # x[...]: same layout

    def _named(self, result, torch_name):
        fn = result._grad_fn
        if fn is not None and result is not self:
            fn.label = torch_name
        return result

    # ------------------------------------------------------------------ array attributes
    @property
    def data(self):
        """The backend array (NumPy, CuPy or array-api-strict), outside autograd's view."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else self._be.asarray(value)

    # read through C (no Python frame): ``__matmul__`` alone reads ``ndim`` twice per product
    shape = property(attrgetter("_data.shape"), doc="The shape (a tuple of ints), as ``torch.Tensor.shape``.")
    ndim = property(attrgetter("_data.ndim"), doc="The number of dimensions, as ``torch.Tensor.ndim``.")

    def size(self, dim=None):
        """The shape, or the size of one dimension.

        Parameters:
            dim: a dimension (negative counts from the end); ``None`` for the whole shape.

        Returns:
            A tuple of ints, or one int when ``dim`` is given.

        Examples:
            >>> dg.zeros(5, 10, 15).size(), dg.zeros(5, 10, 15).size(-1)
            ((5, 10, 15), 15)
        """
        s = self._data.shape
        return tuple(s) if dim is None else s[dim]

    def dim(self) -> int:
        """The number of dimensions, ``len(self.shape)``.

        Returns:
            An int (0 for a 0-d tensor).

        Examples:
            >>> dg.zeros(5, 10, 15).dim(), dg.tensor(3.0).dim()
            (3, 0)
        """
        return len(self._data.shape)

    def numel(self) -> int:
        """The number of elements.

        Returns:
            The product of the sizes (1 for a 0-d tensor).

        Examples:
            >>> dg.zeros(5, 10, 15).numel()
            750
        """
        n = 1
        for d in self._data.shape:
            n *= d
        return n

    @property
    def dtype(self) -> _dt.DType:
        return _dt.of_array_dtype(self._data.dtype)

    @property
    def _dtype_name(self) -> str:
        if self._be is NUMPY:
            try:
                return _DNAMES[self._data.dtype]
            except KeyError:
                pass
        return dtype_name_of(self._data.dtype)

    def is_floating_point(self) -> bool:
        """Whether the dtype is a float one (only those can require grad).

        Returns:
            ``True`` for float16, float32 and float64.

        Examples:
            >>> dg.tensor([1.0]).is_floating_point(), dg.tensor([1]).is_floating_point()
            (True, False)
        """
        return self._dtype_name in _FLOAT_NAMES

    @property
    def device(self) -> str:
        return self._be.device

    @property
    def backend(self):
        """The ``shared_ops.Backend`` the data lives on."""
        return self._be

    # ------------------------------------------------------------------ autograd attributes
    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def grad_fn(self):
        return self._grad_fn

    def detach(self):
        """A new leaf sharing this tensor's data and version counter, outside the graph.

        Returns:
            A ``Tensor`` that does not require grad; writing into it changes ``self`` too.

        Examples:
            >>> d = (dg.tensor([1.0, 2.0], requires_grad=True) * 3).detach()
            >>> d, d.requires_grad, d.is_leaf
            (tensor([3., 6.]), False, True)
        """
        t = init(new(Tensor), self._data, self._be)
        detached(t, self)
        return t

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Sum d(self)/d(leaf) into every leaf's ``.grad`` (see ``dyngraph.engine``).

        Parameters:
            gradient: the vector of the vector-Jacobian product, shaped like ``self``;
                ``None`` for a one-element tensor.
            retain_graph: keep the saved values so the graph can be walked again.
            create_graph: record the backward pass, for higher-order gradients.
            inputs: only accumulate into these tensors.

        Raises:
            AutogradError: ``self`` has more than one element and no ``gradient``.
            FreedGraphError: the graph was walked already without ``retain_graph=True``.
            InplaceError: a value saved for the backward pass was changed in place.

        Examples:
            >>> a = dg.tensor(3.0, requires_grad=True)
            >>> (a * a).backward()
            >>> a.grad
            tensor(6.)
        """
        global _tensor_backward
        if _tensor_backward is None:  # autograd imports this module: bound on the first call
            from .autograd import tensor_backward as _tensor_backward
        _tensor_backward(self, gradient, retain_graph, create_graph, inputs)


_tensor_backward = None  # autograd.tensor_backward (an import per call costs about 2 us)


def init(t: Tensor, data, be) -> Tensor:
    """Fill a fresh ``new(Tensor)`` as a leaf that does not require grad."""
    if be is NUMPY and data.__class__ is not _ndarray:
        data = np.asarray(data)
    t._data = data
    t._be = be
    t._ver = None
    t._meta = None
    t._view = None
    t._grad_fn = None
    t._rg = False
    return t


def init_leaf(t: Tensor, data, be) -> Tensor:
    """``init`` for a leaf the user makes (``dg.Tensor(...)``, a factory): inside
    ``inference_mode`` it is an inference tensor, as PyTorch's are."""
    init(t, data, be)
    if MODE.inference:
        t._ver = InferenceVersion()
    return t


def wrap(data, be=None) -> Tensor:
    """A leaf tensor (no grad) around a backend array."""
    return init(new(Tensor), data, be if be is not None else backend_of(data))


bind(Tensor, wrap, _CONST_TENSORS)
