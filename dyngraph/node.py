"""The recorded graph: ``Node`` (a tensor's ``grad_fn``), ``AccumulateGrad`` (a leaf's sink) and
``SavedValue`` (what a node keeps for its gradient rule).

Ownership points one way, from the newest value back to the leaves: a tensor holds its
``grad_fn``; a node holds its next edges and its saved values; a saved input holds the input
tensor. A node never holds its own output strongly (only a weak reference, and only once
``retain_grad``/``register_hook`` asks for one), a leaf holds its ``AccumulateGrad`` weakly.
So there are no reference cycles and a graph is freed by reference counting alone.

Freeing a chain 100,000 nodes deep would recurse through CPython's deallocators (node ->
edges -> node ...). ``Node.__del__`` prevents that: while one teardown runs on this thread,
every dying node moves its references onto a list instead of dropping them, and the
outermost ``__del__`` drops them one by one in a loop.
"""

from __future__ import annotations

import itertools
import threading

from shared_ops import ShapeOnly

from .errors import FreedGraphError, InplaceError

SEQ = itertools.count()  # creation sequence of nodes: the engine runs the latest first


class Counters:
    """What the recorded graphs cost; read with ``dyngraph.stats()``."""

    __slots__ = ("created", "freed", "saved_bytes", "peak_saved_bytes")

    def __init__(self):
        self.created = self.freed = self.saved_bytes = self.peak_saved_bytes = 0


STATS = Counters()


class _Teardown(threading.local):
    def __init__(self):
        self.active = False
        self.pending = []


_TD = _Teardown()

FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


class SavedValue:
    """A value saved for backward: the tensor (an input) or its data (the node's own output),
    with the version of its storage when it was saved."""

    __slots__ = ("tensor", "data", "version", "counter")

    def __init__(self, tensor, data, version, counter):
        self.tensor = tensor  # the input tensor; None for a saved output (no cycle)
        self.data = data
        self.version = version
        self.counter = counter  # the storage's _Version (None: never changed in place)

    @property
    def shape(self):
        return tuple(self.data.shape)

    def check(self, node) -> None:
        c = self.counter if self.tensor is None else self.tensor._ver
        now = 0 if c is None else c.v
        if now != self.version:
            d = self.data
            raise InplaceError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [dyngraph.{_dname(d)} {list(d.shape)}], which is saved by "
                f"{node.name()}, is at version {now}; expected version {self.version} instead. "
                "Hint: do the in-place change on a copy (x = x.clone() or x = x * 1), or after "
                "backward()"
            )


def _dname(a) -> str:
    from shared_ops import dtype_name

    return dtype_name(a.dtype)


class Node:
    """One recorded op application; ``tensor.grad_fn``.

    ``next`` has one entry per input: the input's ``grad_fn``, its ``AccumulateGrad`` (a leaf
    that requires grad), or ``None``. ``saved`` has one entry per input: a ``SavedValue`` for
    what the op's ``save_inputs`` asks, a ``ShapeOnly`` stand-in for the rest; ``out`` likewise
    for the output (``save_output``).
    """

    __slots__ = ("op", "attrs", "seq", "next", "saved", "out", "nbytes", "released", "hooks", "retain", "__weakref__")

    # -- PyTorch's introspection ---------------------------------------------------------
    def name(self) -> str:
        return self.op.grad_fn_name(self.attrs)

    @property
    def next_functions(self) -> tuple:
        return tuple((n, 0) for n in self.next)

    @property
    def metadata(self) -> dict:
        return {"op": self.op.name, "attrs": dict(self.attrs), "seq": self.seq}

    def register_prehook(self, fn):
        """``fn(grad) -> grad or None`` runs on this node's incoming gradient."""
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(fn)
        return _Handle(self.hooks, fn)

    def saved_shapes(self) -> list:
        """Shapes of the values this node saved (empty once they were freed)."""
        if self.released:
            return []
        vals = list(self.saved) + [self.out]
        return [tuple(v.data.shape) for v in vals if type(v) is SavedValue]

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    # -- backward support ---------------------------------------------------------------
    def unpack_error(self):
        raise FreedGraphError(FREED_MSG)

    def release(self) -> None:
        """Drop the saved values (after backward without ``retain_graph``)."""
        if not self.released:
            self.released = True
            if self.nbytes:
                STATS.saved_bytes -= self.nbytes
                self.nbytes = 0
            self.saved = tuple(_shape_only(v) for v in self.saved)
            self.out = _shape_only(self.out)

    def __del__(self):
        try:
            STATS.freed += 1
            if self.nbytes:
                STATS.saved_bytes -= self.nbytes
            td = _TD
            pending = td.pending
            pending.append(self.next)
            pending.append(self.saved)
            pending.append(self.out)
            self.next = self.saved = self.out = None
            if td.active:
                return  # the outer __del__ drops them, in a loop
            td.active = True
            try:
                while pending:
                    pending.pop()
            finally:
                td.active = False
        except Exception:  # interpreter shutdown: module globals may be gone
            pass


def _shape_only(v):
    if type(v) is SavedValue:
        from shared_ops import dtype_name

        return ShapeOnly(tuple(v.data.shape), dtype_name(v.data.dtype))
    return v


class AccumulateGrad:
    """The sink of a leaf that requires grad: sums its gradients into ``leaf.grad``."""

    __slots__ = ("variable", "__weakref__")
    next = ()
    seq = -1
    hooks = None

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


class _Handle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook out."""

    __slots__ = ("_list", "_fn")

    def __init__(self, lst, fn):
        self._list, self._fn = lst, fn

    def remove(self) -> None:
        try:
            self._list.remove(self._fn)
        except ValueError:
            pass


def stats() -> dict:
    """Counters for experiments: nodes created, freed and alive, bytes held by saved values now
    and at their peak (since the last ``reset_stats()``)."""
    return {
        "nodes_created": STATS.created,
        "nodes_freed": STATS.freed,
        "nodes_alive": STATS.created - STATS.freed,
        "saved_bytes": STATS.saved_bytes,
        "peak_saved_bytes": STATS.peak_saved_bytes,
    }


def reset_stats() -> None:
    """Zero the counters (``nodes_alive`` then counts from here; ``saved_bytes`` stays exact)."""
    alive = STATS.created - STATS.freed
    STATS.created, STATS.freed = alive, 0
    STATS.peak_saved_bytes = STATS.saved_bytes
