"""``sg.function``: trace a Python function into a graph once per input signature.

The function is written against the shared tensor surface, so the same code runs eagerly in
dyngraph. Calling the wrapper with arrays traces it (placeholders of the arguments' shapes and
dtypes), compiles the graph, caches it by the shapes and dtypes, and runs it; a call with new
shapes or dtypes traces again (``tf.function``). Python scalars are static: each new value is
a new trace. ``input_signature=[(shape, dtype), ...]`` (``None`` for a free dimension) gives
one trace for every matching call. ``trace_count`` and ``compile_count`` count the work done.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from shared_ops import GraphCompareError, dtype_name

from .compile import CompiledFunction, FeedError
from .graph import Graph, Node
from .sources import placeholder

_SCALARS = (bool, int, float)
_SEEN = 256  # ndarray signatures remembered for the fast path (more: forget them and start over)


class Function:
    """The wrapper ``sg.function(py_fn)`` returns: call it with arrays.

    Each new combination of input shapes and dtypes (and Python-number arguments) traces
    ``py_fn`` into a graph and compiles it once; ``trace_count`` and ``compile_count`` count
    those, ``last_graph`` is the latest traced graph.

    Parameters:
        py_fn: a Python function of arrays, written with the shared tensor surface.
        optimize: as for ``sg.compile``.
        input_signature: ``[(shape, dtype), ...]``, ``None`` in a shape for a free size: then
            one trace serves every input that fits.
        backend: where it runs.

    Examples:
        >>> f = sg.Function(lambda x: (x * 2.0).sum())
        >>> float(f(np.ones(3, np.float32))), float(f(np.ones(4, np.float32))), f.trace_count
        (6.0, 8.0, 2)
    """

    def __init__(self, py_fn: Callable, optimize: Any = True, input_signature=None, backend=None):
        self.py_fn = py_fn
        self.optimize = optimize
        self.backend = backend
        self.input_signature = None if input_signature is None else [
            (tuple(None if d is None else int(d) for d in shape), dtype_name(dt)) for shape, dt in input_signature
        ]
        self.trace_count = 0
        self.compile_count = 0
        self._cache: dict[tuple, tuple[CompiledFunction, list]] = {}
        self._seen: dict[tuple, CompiledFunction] = {}  # ((shape, dtype), ...) of ndarray calls -> function
        self.last_graph: Graph | None = None
        functools.update_wrapper(self, py_fn)

    def _key(self, args) -> tuple:
        key = []
        for k, a in enumerate(args):
            if isinstance(a, _SCALARS):
                key.append(("static", type(a).__name__, a))
            elif hasattr(a, "shape") and hasattr(a, "dtype"):
                key.append(("array", tuple(a.shape), dtype_name(a.dtype)))
            elif isinstance(a, (list, tuple)):
                key.append(("array", np.shape(a), dtype_name(np.asarray(a).dtype)))
            else:
                raise FeedError(f"{self.__name__}: argument {k} is a {type(a).__name__}; pass arrays or Python numbers")
        return tuple(key)

    def _trace(self, key: tuple, args) -> tuple[CompiledFunction, list]:
        self.trace_count += 1
        graph = Graph(f"trace of {getattr(self.py_fn, '__name__', 'function')}")
        with graph:
            call_args, fed = [], []
            for k, (kind, a, b) in enumerate(key):
                if kind == "static":
                    call_args.append(args[k])
                    continue
                shape, dtype = (a, b) if self.input_signature is None else self.input_signature[len(fed)]
                p = placeholder(shape, dtype, name=f"arg{k}")
                call_args.append(p)
                fed.append(k)
            out = self.py_fn(*call_args)
            structure = _as_nodes(graph, out)
        self.last_graph = graph
        fn = CompiledFunction(structure, [graph.get(f"arg{k}") for k in fed], self.optimize, backend=self.backend)
        self.compile_count += 1
        return fn, fed

    def __call__(self, *args):
        # every argument an ndarray of shapes and dtypes seen before: that trace's function at
        # once (``_key``'s per-argument checks cost more than a small compiled step)
        key = []
        for a in args:
            if a.__class__ is not np.ndarray:
                break
            key.append((a.shape, a.dtype))
        else:
            fn = self._seen.get(tuple(key))
            if fn is not None:
                return fn(*args)
        return self._call(args)

    def _call(self, args: tuple):
        key = self._key(args)
        if self.input_signature is not None:
            arrays = [k for k, e in enumerate(key) if e[0] == "array"]
            if len(arrays) != len(self.input_signature):
                raise FeedError(f"{self.__name__}: input_signature has {len(self.input_signature)} entries, "
                                f"the call passed {len(arrays)} arrays")
            key = tuple(("array", None, None) if e[0] == "array" else e for e in key)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = self._trace(key, args)
        fn, fed = entry
        if all(a.__class__ is np.ndarray for a in args):
            if len(self._seen) >= _SEEN:
                self._seen.clear()
            self._seen[tuple((a.shape, a.dtype) for a in args)] = fn
        return fn(*(_array(args[k]) for k in fed))

    def get_concrete(self, *args) -> CompiledFunction:
        """The compiled function for these arguments (tracing if needed): ``.report()``, ``.text()``.

        Parameters:
            *args: arguments as the function would be called with (only their shapes,
                dtypes and Python-number values matter).

        Returns:
            The ``CompiledFunction`` those arguments run.

        Raises:
            FeedError: an argument that is neither an array nor a Python number.

        Examples:
            >>> f = sg.function(lambda x: (x * 2.0).sum())
            >>> compiled = f.get_concrete(np.ones(3, np.float32))
            >>> type(compiled).__name__, f.trace_count
            ('CompiledFunction', 1)
        """
        key = self._key(args)
        if self.input_signature is not None:
            key = tuple(("array", None, None) if e[0] == "array" else e for e in key)
        if key not in self._cache:
            self._cache[key] = self._trace(key, args)
        return self._cache[key][0]

    @property
    def cache_size(self) -> int:
        return len(self._cache)

    def __repr__(self) -> str:
        return f"<sg.function {self.__name__}: {self.trace_count} traces, {self.compile_count} compiles>"


def _array(a):
    return np.asarray(a) if isinstance(a, (list, tuple)) else a


def _as_nodes(graph: Graph, out):
    if isinstance(out, Node):
        return out
    if isinstance(out, (list, tuple)):
        return type(out)(_as_nodes(graph, o) for o in out)
    if isinstance(out, dict):
        return {k: _as_nodes(graph, v) for k, v in out.items()}
    if isinstance(out, _SCALARS) or hasattr(out, "__array__"):
        return graph.add_constant(np.asarray(out))
    raise GraphCompareError(f"a traced function must return graph values (or tuples/lists/dicts of them), got {type(out).__name__}")


def function(py_fn: Callable | None = None, *, optimize: Any = True, input_signature=None, backend=None):
    """Trace ``py_fn`` into a compiled graph, cached by input shapes and dtypes.

    Use as ``sg.function(f)``, ``@sg.function`` or ``@sg.function(optimize=False)``.

    Parameters:
        py_fn: a Python function of arrays, written with the shared tensor surface.
        optimize: as for ``sg.compile``.
        input_signature: fixed input specs, so the function is traced once for them.
        backend: where it runs.

    Returns:
        A ``Function``: call it with arrays; ``trace_count`` says how often it traced.

    Raises:
        TracingError: ``py_fn`` needs a Python value of a graph node (``float(x)``, ``if x``).

    Examples:
        >>> double_sum = sg.function(lambda x: (x * 2.0).sum())
        >>> float(double_sum(np.ones(3, np.float32))), double_sum.trace_count
        (6.0, 1)
    """
    if py_fn is None:
        return lambda f: Function(f, optimize, input_signature, backend)
    return Function(py_fn, optimize, input_signature, backend)


__all__ = ["function", "Function"]
