"""``sg.Session``: TensorFlow 1.x's way of running a graph.

``sess.run(fetches, feed_dict)`` compiles the fetches (a node, or a list/tuple/dict of them)
once per (fetch set, fed placeholders) and caches the executable. The session holds the
variables (initialised from the values they were declared with). Within one run every fetched
value is computed from the variables as they were at its start; assignments land at its end;
a run refused for a bad feed (or failing in a kernel) changes nothing.
"""

from __future__ import annotations

from typing import Any

from .compile import CompiledFunction, FeedError, _flatten_outputs
from .graph import Graph, GraphError, Node, get_default_graph


class Session:
    """Runs fetches of one graph and holds its variables' values (TF1's ``tf.Session``).

    Each distinct (fetches, fed placeholders) pair is compiled once and cached; ``with
    sg.Session(g) as sess:`` closes it at the end of the block.

    Parameters:
        graph: the graph to run; default the default graph.
        optimize: passed to ``sg.compile`` (``False``: run the graph exactly as declared).
        backend: the array backend (``"numpy"``, ``"cupy"``...); default the default backend.

    Examples:
        >>> with sg.Graph() as g:
        ...     x = sg.placeholder((2,), name="x")
        ...     w = sg.variable(np.float32(3.0), name="w")
        ...     y = (w * x).sum()
        >>> with sg.Session(g) as sess:
        ...     float(sess.run(y, {x: np.array([1.0, 2.0], np.float32)}))
        9.0
    """

    def __init__(self, graph: Graph | None = None, optimize: Any = True, backend=None):
        """``optimize`` is passed to ``sg.compile`` (``False``: run the graph exactly as declared)."""
        self.graph = graph if graph is not None else get_default_graph()
        self.optimize = optimize
        self.backend = backend
        self.state: dict[int, Any] = {}
        self._cache: dict[tuple, CompiledFunction] = {}
        self._closed = False

    def run(self, fetches, feed_dict: dict | None = None):
        """Values of ``fetches`` (same structure) for ``feed_dict`` ``{placeholder or name: array}``.

        Every fetched value is computed from the variables as they were when the run began;
        assignments among the fetches take effect at its end. A run refused for a bad feed
        changes nothing.

        Parameters:
            fetches: a node (a variable reads it), or a list, tuple or dict of nodes.
            feed_dict: ``{placeholder or its name: array}`` for every placeholder needed.

        Returns:
            The values, NumPy arrays, in the structure of ``fetches`` (an assign op gives the
            value it assigned).

        Raises:
            GraphError: the session is closed, or a needed placeholder is not fed.
            FeedError: a fed array of the wrong shape or dtype.

        Examples:
            >>> with sg.Graph() as g:
            ...     n = sg.variable(0.0, name="n")
            ...     step = sg.assign_add(n, sg.constant(np.float32(1.0)))
            >>> sess = sg.Session(g)
            >>> [float(v) for v in sess.run([n, step])]
            [0.0, 1.0]
        """
        if self._closed:
            raise GraphError("this Session is closed; open a new sg.Session(graph)")
        feed_dict = dict(feed_dict or {})
        nodes, rebuild = _flatten_outputs(fetches)
        for n in nodes:
            if not isinstance(n, Node):
                raise GraphError(f"Session.run: fetches must be graph nodes, got {type(n).__name__} {n!r}")
            if n.graph is not self.graph:
                raise GraphError(f"Session.run: {n!r} belongs to another graph than this session's")
        feeds = {}
        for k, v in feed_dict.items():
            node = k if isinstance(k, Node) else self._lookup(k)
            if node.op != "placeholder":
                raise FeedError(f"Session.run: can only feed placeholders, {node.label} is a {node.op}")
            feeds[node] = v
        fed = tuple(sorted(feeds, key=lambda n: n.id))
        key = (tuple(n.id for n in nodes), tuple(n.id for n in fed))
        fn = self._cache.get(key)
        if fn is None:
            try:
                fn = CompiledFunction(list(nodes), list(fed), self.optimize, state=self.state, backend=self.backend)
            except GraphError as exc:
                if "must be fed" in str(exc):
                    raise FeedError(str(exc).split("\n")[0]) from None
                raise
            self._cache[key] = fn
        values = fn(*(feeds[n] for n in fed))
        return rebuild(values)

    def _lookup(self, name):
        try:
            return self.graph.get(name)
        except GraphError:
            raise FeedError(f"Session.run: no placeholder named {name!r} in this graph") from None

    @property
    def compiled(self) -> int:
        """How many executables this session has built (one per fetch set and feed set)."""
        return len(self._cache)

    def close(self) -> None:
        """Drop the compiled executables; a later ``run`` raises ``GraphError``.

        Examples:
            >>> sess = sg.Session(sg.Graph())
            >>> sess.close(); sess.run([])
            Traceback (most recent call last):
            staticgraph.graph.GraphError: this Session is closed; open a new sg.Session(graph)
            ...
        """
        self._cache.clear()
        self._closed = True

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Session"]
