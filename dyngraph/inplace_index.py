"""The index parts of ``x[key] = value`` and ``masked_fill_`` (``inplace.py``): which basic
index selects everything, boolean masks as integer arrays, and writes into an expanded tensor.

PyTorch deprecates ``index_put_`` (``x[indices] = v``) and ``masked_fill_`` on a tensor whose
elements share memory (an expanded one) with a warning, and still writes. dyngraph does the
same: the warning's text, then every element written lands on its memory location, the last
one written winning where several land on one (``views.write``'s ``order``). The elements are
written in the row-major order of ``x[indices]``; PyTorch's loops pick their own order, so a
location written with different values may end with another of them there (a write of one
value, ``x[i] = 2.0`` or ``masked_fill_``, agrees whatever the order).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

_DEPRECATED = (
    "Use of {op} on expanded tensors is deprecated. Please clone() the tensor before performing this "
    "operation. This also applies to advanced indexing e.g. {example}"
)


def warn_expanded(op: str) -> None:
    """PyTorch's deprecation warning for ``op`` (``index_put_`` or ``masked_fill_``) on an expanded tensor."""
    example = "tensor[indices] = tensor" if op == "index_put_" else "tensor[mask] = scalar"
    warnings.warn(_DEPRECATED.format(op=op, example=example), UserWarning, stacklevel=4)


def written_by_index(t, spec, arrays):
    """The elements of ``t`` that ``t[spec, arrays] = v`` writes, as flat row-major indices, in
    the order they are written (the row-major order of ``t[spec, arrays]``)."""
    from shared_ops.ops import _index

    be = t._be
    order = be.xp.reshape(be.xp.arange(math.prod(t.shape), dtype=be.xp.int64), tuple(t.shape))
    where = _index.gather(be.xp, order, spec, [a._data for a in arrays], "index_put")
    return np.asarray(be.to_numpy(where)).reshape(-1)


def written_by_mask(t, mask):
    """The elements of ``t`` that ``t.masked_fill_(mask, v)`` writes, as flat row-major indices."""
    m = np.broadcast_to(np.asarray(mask._be.to_numpy(mask._data)), tuple(t.shape))
    return np.flatnonzero(m)


def selects_all(spec, shape) -> bool:
    """Whether a basic index is only ``...`` and full slices (``x[...]``, ``x[:, 0:3]``)."""
    if any(e[0] not in ("e", "s") for e in spec):
        return False
    cut = next((i for i, e in enumerate(spec) if e[0] == "e"), len(spec))
    lead, trail = spec[:cut], [e for e in spec[cut:] if e[0] == "s"]
    dims = list(zip(lead, shape)) + list(zip(trail, shape[len(shape) - len(trail):]))
    return all(e[1] in (None, 0) and e[3] in (None, 1) and (e[2] is None or e[2] >= n) for e, n in dims)


def masks_as_indices(t, key):
    """Boolean masks in an index as the integer arrays of their True positions (PyTorch's
    ``x[mask] = v``); the shape depends on the data, which dyngraph knows."""
    from .tensors import Tensor

    parts = key if isinstance(key, tuple) else (key,)
    out = []
    for k in parts:
        arr = k._be.to_numpy(k._data) if isinstance(k, Tensor) else (k if isinstance(k, np.ndarray) else None)
        if arr is not None and arr.dtype == np.bool_ and arr.ndim > 0:
            out.extend(t._as_operand(i.astype(np.int64)) for i in np.nonzero(arr))
        else:
            out.append(k)
    return tuple(out)


def has_mask(key) -> bool:
    """Whether an index holds a boolean mask (PyTorch's ``x[mask] = scalar`` is a ``masked_fill_``)."""
    parts = key if isinstance(key, tuple) else (key,)
    return any(getattr(k, "dtype", None) is not None and "bool" in str(k.dtype) and getattr(k, "ndim", 0) > 0
               for k in parts)
