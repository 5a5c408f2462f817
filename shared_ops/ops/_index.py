"""Index specs (see ``shared_ops._surface_args._parse_index``): static shapes, gather and scatter in pure ``xp``.

A spec is a tuple of entries: ``("s", start, stop, step)`` slice, ``("i", k)`` integer,
``("n",)`` newaxis, ``("e",)`` Ellipsis, ``("a",)`` the next integer-array input. Semantics
are NumPy's, including its placement rule for advanced indices: when any array index is
present, integers count as advanced too, and the broadcast index dimensions replace the
advanced dimensions in place if those are adjacent in the spec, or go first otherwise.

The array API standard allows integer-array indices only alone, so advanced indexing is done
here with ``permute_dims`` + ``reshape`` + ``take`` on a flattened block of the advanced axes.
"""

from __future__ import annotations

import functools

import math

from ..errors import OpAttributeError, ShapeError
from ..registry import broadcast_shapes, fmt_shape

_FULL = ("s", None, None, None)
_KINDS = {"s": 4, "i": 2, "n": 1, "e": 1, "a": 1}


def validate(op: str, spec) -> tuple:
    if not isinstance(spec, tuple) or not all(isinstance(e, tuple) and e and e[0] in _KINDS and len(e) == _KINDS[e[0]] for e in spec):
        raise OpAttributeError(f"{op}: index={spec!r} is not an index spec (a tuple of tagged entries like ('i', 0)); "
                              f"index with x[...] on a dyngraph Tensor or staticgraph Node, which builds it")
    if sum(e[0] == "e" for e in spec) > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    return spec


def n_arrays(spec) -> int:
    return sum(e[0] == "a" for e in spec)


def expand(op: str, spec, ndim: int) -> list:
    """The spec with the Ellipsis (or the implicit trailing one) replaced by full slices."""
    consumed = sum(e[0] in "sia" for e in spec)
    if consumed > ndim:
        raise IndexError(f"{op}: too many indices: the input has {ndim} dimension(s) but {consumed} were indexed")
    fill = [_FULL] * (ndim - consumed)
    entries = list(spec)
    at = next((k for k, e in enumerate(entries) if e[0] == "e"), len(entries))
    return entries[:at] + fill + entries[at + 1:]


def _adjacent(spec, advanced: str) -> bool:
    pos = [k for k, e in enumerate(spec) if e[0] in advanced]
    return pos == list(range(pos[0], pos[0] + len(pos)))


def index_shape(op: str, shape: tuple, spec, array_shapes: list) -> tuple:
    """Static shape of ``x[spec]`` (``None`` = free dimension)."""
    validate(op, spec)
    if n_arrays(spec) != len(array_shapes):
        raise ShapeError(f"{op}: the index uses {n_arrays(spec)} array(s) but {len(array_shapes)} were given")
    entries = expand(op, spec, len(shape))
    adv = bool(array_shapes)
    out, dim, first, adv_shapes = [], 0, None, list(array_shapes)
    for e in entries:
        kind = e[0]
        if kind == "n":
            out.append(1)
            continue
        n = shape[dim]
        dim += 1
        if kind == "s":
            out.append(None if n is None else len(range(*slice(*e[1:]).indices(n))))
        elif kind == "i" and n is not None and not -n <= e[1] < n:
            raise IndexError(f"{op}: index {e[1]} is out of bounds for dimension {dim - 1} with size {n}")
        if kind == "a" or (kind == "i" and adv):
            first = len(out) if first is None else first
            if kind == "a" and n == 0:
                raise IndexError(f"{op}: cannot take indices from dimension {dim - 1} of size 0")
    if not adv:
        return tuple(out)
    b = broadcast_shapes(op, *adv_shapes)
    at = first if _adjacent(spec, "ai") else 0
    return tuple(out[:at]) + tuple(b) + tuple(out[at:])


def _basic_key(entries, advanced_as_full: bool):
    key = []
    for e in entries:
        if e[0] == "s":
            key.append(slice(*e[1:]))
        elif e[0] == "n":
            key.append(None)
        elif e[0] == "i":
            key.append(slice(None) if advanced_as_full else e[1])
        else:
            key.append(slice(None))
    return tuple(key)


@functools.lru_cache(maxsize=4096)  # pure in (spec, ndim); basic indexing runs it on every call
def _basic_key_of(op: str, spec, ndim: int):
    return _basic_key(expand(op, spec, ndim), False)


def gather(xp, x, spec, arrays, op: str = "getitem"):
    """``x[spec]`` with NumPy semantics, written against ``xp`` only."""
    if not arrays:
        return x[_basic_key_of(op, spec, x.ndim)]
    entries = expand(op, spec, x.ndim)
    y = x[_basic_key(entries, True)]  # one dimension of y per entry
    it = iter(arrays)
    pos, idx = [], []
    for k, e in enumerate(entries):
        if e[0] in "ai":
            n = y.shape[k]
            if e[0] == "i":
                i = e[1] % n if -n <= e[1] < n else _out_of_bounds(op, e[1], k, n)
            else:
                i = xp.astype(next(it), xp.int64)
                if bool(xp.any((i < -n) | (i >= n))):
                    _out_of_bounds(op, "an index array entry", k, n)
                i = xp.where(i < 0, i + n, i)
            pos.append(k)
            idx.append(i)
    sizes = [y.shape[k] for k in pos]
    lin = idx[0]
    for i, n in zip(idx[1:], sizes[1:]):
        lin = lin * n + i  # row-major position in the block of advanced axes
    rest = [k for k in range(y.ndim) if k not in pos]
    if pos != list(range(len(pos))):
        y = xp.permute_dims(y, tuple(pos + rest))  # advanced axes first; usually already so
    rest_shape = tuple(y.shape[len(pos):])
    flat = xp.reshape(y, (math.prod(sizes),) + rest_shape)
    b = tuple(lin.shape)
    out = xp.reshape(xp.take(flat, xp.reshape(lin, (-1,)), axis=0), b + rest_shape)
    if not _adjacent(spec, "ai") or pos[0] == 0:
        return out
    at = sum(1 for k in rest if k < pos[0])  # put the index dimensions back in place
    nb = len(b)
    perm = tuple(range(nb, nb + at)) + tuple(range(nb)) + tuple(range(nb + at, out.ndim))
    return xp.permute_dims(out, perm)


def _out_of_bounds(op, what, dim, n):
    raise IndexError(f"{op}: {what} is out of bounds for dimension {dim} with size {n}")


def scatter(xp, backend, g, spec, arrays, shape, op: str = "index_scatter"):
    """The adjoint of ``gather``: zeros of ``shape`` with ``g`` added at the indexed places.

    Basic indices: a slice assignment. Integer arrays: the flat positions of the gathered
    elements (``gather`` applied to ``arange``), then the backend's deterministic
    ``scatter_add``, so repeated indices are summed, in the same order every run.
    """
    size = math.prod(shape)
    if not arrays:
        entries = expand(op, spec, len(shape))
        out = xp.zeros(shape, dtype=g.dtype)
        drop, k = [], 0
        for e in entries:  # newaxis entries made size-1 output dims: drop them from g
            if e[0] == "n":
                drop.append(k)
            if e[0] != "i":
                k += 1
        if drop:
            g = xp.squeeze(g, axis=tuple(drop))
        out[_basic_key([e for e in entries if e[0] != "n"], False)] = g
        return out
    where = gather(xp, xp.reshape(xp.arange(size, dtype=xp.int64), shape), spec, arrays, op)
    flat = backend.extras.scatter_add(xp.reshape(where, (-1,)), xp.reshape(g, (-1,)), size)
    return xp.reshape(flat, shape)


def check_grad_shape(op: str, g_shape, expected) -> None:
    if len(g_shape) != len(expected) or any(a is not None and b is not None and a != b for a, b in zip(g_shape, expected)):
        raise ShapeError(f"{op}: the gradient has shape {fmt_shape(g_shape)} but indexing gives {fmt_shape(expected)}")
