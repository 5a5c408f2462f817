"""Argument parsing for the shared surface: shapes, reshape's -1, conv pairs, index specs."""

from __future__ import annotations

import numpy as np

from .dtypes import FLOATING
from .errors import DTypeError, OpAttributeError, ShapeError


def _pair(v) -> tuple:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise OpAttributeError(f"conv2d: stride/padding must be an int or a pair, got {v!r}")
    return v


def _shape_args(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    out = []
    for d in shape:
        if isinstance(d, (np.integer,)):
            d = int(d)
        if not (d is None or (isinstance(d, int) and not isinstance(d, bool))):
            raise ShapeError(f"a shape must be ints, got {shape!r}")
        out.append(d)
    return tuple(out)


def _parse_index(x, key) -> tuple:
    """A Python index as a hashable spec plus the integer-array inputs it uses.

    Spec entries: ``("s", start, stop, step)`` slice, ``("i", k)`` integer, ``("n",)`` newaxis,
    ``("e",)`` Ellipsis, ``("a",)`` the next integer-array input.
    """
    if key.__class__ is int:  # x[t], the commonest index (W2's xs[t]): what the loop below gives
        return (("i", key),), []
    if not isinstance(key, tuple):
        key = (key,)
    spec, arrays = [], []
    for k in key:
        if k is None:
            spec.append(("n",))
        elif k is Ellipsis:
            spec.append(("e",))
        elif isinstance(k, slice):
            parts = []
            for v in (k.start, k.stop, k.step):
                if v is not None and not isinstance(v, (int, np.integer)):
                    raise DTypeError(f"indexing: slice bounds must be ints, got {k!r}")
                parts.append(None if v is None else int(v))
            if parts[2] is not None and parts[2] <= 0:
                raise ValueError("step must be greater than zero (reverse with x.flip(dim))")
            spec.append(("s", *parts))
        elif isinstance(k, (bool, np.bool_)):
            raise DTypeError("indexing with a bool is not supported; use where() for masks")
        elif isinstance(k, (int, np.integer)):
            spec.append(("i", int(k)))
        else:
            arr = x._as_operand(k)  # a tensor comes back as it is
            if arr._dtype_name == "bool":
                raise DTypeError(
                    "indexing with a boolean mask gives a data-dependent shape, which a static graph "
                    "cannot declare; use where(mask, x, 0) or integer indices instead"
                )
            if arr._dtype_name in FLOATING:
                raise DTypeError(f"indexing arrays must be integers, got {arr._dtype_name}")
            spec.append(("a",))
            arrays.append(arr)
    return tuple(spec), arrays


def _split_ints(spec: tuple, ndim: int) -> tuple:
    """PyTorch's rule for an index mixing integers and integer arrays, as two NumPy getitems:
    the integers select first (``first``, everything else full slices), then the slices and
    arrays index what is left (``second``). NumPy would count the integers as advanced indices
    too, which moves the array dimensions to the front when an integer and an array are
    separated by a slice: ``x[0:1, idx, :, 0]`` is (2, 1, 1) in NumPy, (1, 2, 1) in PyTorch."""
    from .ops._index import expand

    full = ("s", None, None, None)
    entries = expand("getitem", spec, ndim)
    first = tuple(e if e[0] in "in" else full for e in entries)
    second = tuple(full if e[0] == "n" else e for e in entries if e[0] != "i")
    return first, second
