"""The recorded graph: ``Node`` (a tensor's ``grad_fn``), ``AccumulateGrad`` (a leaf's sink) and
``SavedValue`` (what a node keeps for its gradient rule).

Ownership points one way, from the newest value back to the leaves: a tensor holds its
``grad_fn``; a node holds its next edges and its saved values; a saved input holds the input
tensor. A node never holds its own output strongly (only a weak reference, and only once
``retain_grad``/``register_hook`` asks for one), a leaf holds its ``AccumulateGrad`` weakly.
So there are no reference cycles and a graph is freed by reference counting alone.

Freeing a chain 100,000 nodes deep runs CPython's deallocators node -> edges -> node ...;
CPython's "trashcan" defers deallocations past a small nesting depth, so the C stack stays
flat (tests/dyngraph/test_graph_memory.py frees a 100,000-deep chain under a recursion limit of 150).
``Node.__del__`` only updates the counters and never calls anything, so no Python frames nest
either. (An explicit iterative release of the edges would add about 0.45 us per node.)
"""

from __future__ import annotations

import itertools
import weakref

import numpy as np

from shared_ops import ShapeOnly, dtype_name

from .errors import InplaceError

SEQ = itertools.count()  # creation sequence of nodes: the engine runs the latest first


class Counters:
    """What the recorded graphs cost; read with ``dyngraph.stats()``."""

    __slots__ = ("created", "freed", "saved_bytes", "peak_saved_bytes", "seq_base")

    def __init__(self):
        self.created = self.freed = self.saved_bytes = self.peak_saved_bytes = self.seq_base = 0


STATS = Counters()


FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


class SavedValue:
    """A node's own output saved for its rule (``save_output``): the data and the version
    counter of its storage, which starts at 0 when saved. Saved *inputs* are the input tensors
    themselves in ``node.saved``, with the versions they had in ``node.vers``.

    Examples:
        >>> y = dg.tensor([1.0, 2.0], requires_grad=True).exp()
        >>> y.grad_fn.out.shape
        (2,)
    """

    __slots__ = ("data", "counter")

    @property
    def shape(self):
        return tuple(self.data.shape)

    def check(self, node) -> None:
        """Fail if the saved output was changed in place since it was saved.

        Parameters:
            node: the node that saved it (named in the error).

        Raises:
            InplaceError: the output was written in place (its version is no longer 0).

        Examples:
            >>> y = dg.tensor([1.0, 2.0], requires_grad=True).exp()
            >>> y.grad_fn.out.check(y.grad_fn)
            >>> with dg.no_grad():
            ...     _ = y.mul_(2)
            >>> y.grad_fn.out.check(y.grad_fn)
            Traceback (most recent call last):
            dyngraph.errors.InplaceError: one of the variables needed for gradient computation has been modified by an inplace operation: ...
        """
        if self.counter.v:
            raise version_error(node, self.data, self.counter.v, 0)


def version_error(node, data, now: int, expected: int) -> InplaceError:
    return InplaceError(
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [dyngraph.{_dname(data)} {list(data.shape)}], which is saved by "
        f"{node.name()}, is at version {now}; expected version {expected} instead. "
        "Hint: do the in-place change on a copy (x = x * 1), or after backward()"
    )


def _dname(a) -> str:
    e = CAST_SOURCES.get(id(a))
    return e[1] if e is not None and e[0]() is a else dtype_name_of(a.dtype)


# the array of a copy cast for an op on mixed dtypes (``Tensor._promoted``) -> its source's
# dtype: the copy answers to the source's version counter, and the version error names the
# source's dtype, as PyTorch's names the tensor it saved (the source; its kernel casts)
CAST_SOURCES: dict = {}


def cast_from(arr, dtype: str) -> None:
    k = id(arr)
    try:
        CAST_SOURCES[k] = (weakref.ref(arr, lambda _, k=k: CAST_SOURCES.pop(k, None)), dtype)
    except TypeError:  # an array type without weak references: the message names the copy's dtype
        pass


class Node:
    """One recorded op application; ``tensor.grad_fn``.

    ``next`` has one entry per input: the input's ``grad_fn``, its ``AccumulateGrad`` (a leaf
    that requires grad), or ``None``. ``saved`` has one entry per input: the input tensor itself
    where the op's ``save_inputs`` asks, a ``ShapeOnly`` stand-in for the rest; ``vers`` is
    ``None`` (every saved tensor was at version 0) or the versions they were saved at. ``out`` is a
    ``SavedValue`` of the output when the op's ``save_output`` asks, else ``None`` (the rule
    then gets a stand-in shaped like the incoming gradient). Once released (backward without
    ``retain_graph``), ``saved`` and ``out`` of a node that saved anything are ``None``.
    ``hooks``: the tensor hooks of the output (``register_hook``), ``retain_grad``'s last.
    ``label``: None, or the PyTorch name of the surface call that made it (``TensorSurface._named``).

    Nodes are made by the ops, never by the user.

    Examples:
        >>> a = dg.tensor([1.0, 2.0], requires_grad=True)
        >>> y = (a * a).sum()
        >>> y.grad_fn.name(), y.grad_fn.next_functions[0][0].name()
        ('SumBackward0', 'MulBackward0')
    """

    __slots__ = ("op", "attrs", "info", "seq", "next", "saved", "vers", "out", "nbytes", "released", "hooks", "label", "__weakref__")

    # -- PyTorch's introspection ---------------------------------------------------------
    def name(self) -> str:
        """PyTorch's name: the op's (``grad_fn_name``), or the surface call's where PyTorch
        names that differently (``label``: ``x.t()`` is ``TBackward0``, ``10 - x`` ``RsubBackward1``).

        Returns:
            The name, as ``str(type(t.grad_fn).__name__)`` gives it in PyTorch.

        Examples:
            >>> (10 - dg.tensor(1.0, requires_grad=True)).grad_fn.name()
            'RsubBackward1'
        """
        return self.label or self.op.grad_fn_name(self.attrs)

    @property
    def next_functions(self) -> tuple:
        return tuple((n, 0) for n in self.next)

    @property
    def metadata(self) -> dict:
        return {"op": self.op.name, "attrs": dict(self.attrs), "seq": self.seq}

    def register_prehook(self, fn):
        """``fn(grad) -> grad or None`` runs on this node's incoming gradient (before
        ``retain_grad``'s, as in PyTorch).

        Parameters:
            fn: called with the incoming gradient; a tensor it returns replaces it.

        Returns:
            A handle: ``handle.remove()`` takes the hook out.

        Examples:
            >>> a = dg.tensor(1.0, requires_grad=True)
            >>> y = a * 3
            >>> handle = y.grad_fn.register_prehook(lambda g: g * 10)
            >>> y.backward(); a.grad
            tensor(30.)
        """
        if self.hooks is None:
            self.hooks = []
        h = self.hooks
        if h and h[-1].__class__ is RetainGrad:
            h.insert(len(h) - 1, fn)
        else:
            h.append(fn)
        return _Handle(h, fn)

    def saved_shapes(self) -> list:
        """Shapes of the values this node saved (empty once they were freed).

        Returns:
            A list of shape tuples.

        Examples:
            >>> a = dg.ones(2, 3, requires_grad=True)
            >>> y = (a * a).sum()
            >>> node = y.grad_fn.next_functions[0][0]
            >>> node.saved_shapes()
            [(2, 3), (2, 3)]
            >>> y.backward(); node.saved_shapes()
            []
        """
        if self.saved is None:
            return []
        vals = [v for v in self.saved if v.__class__ is not ShapeOnly]
        if self.out is not None:
            vals.append(self.out)
        return [tuple(v.shape) for v in vals]

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    # -- backward support ---------------------------------------------------------------
    def release(self) -> None:
        """Drop the saved values (after backward without ``retain_graph``); a node that holds
        nothing (its op saves nothing, or only index arrays it was not given) keeps its
        stand-ins and can run again, as in PyTorch. ``backward()`` calls it.

        Examples:
            >>> y = (dg.ones(2, requires_grad=True) ** 2).sum()
            >>> node = y.grad_fn.next_functions[0][0]
            >>> node.release(); node.saved_shapes()
            []
        """
        self.released = True
        if self.nbytes:  # it saved arrays
            STATS.saved_bytes -= self.nbytes
            self.nbytes = 0
            self.saved = self.out = None
        elif self.info.saves and (self.out is not None or any(e.__class__ is not ShapeOnly for e in self.saved or ())):
            self.saved = self.out = None

    def __del__(self):
        STATS.freed += 1
        if self.nbytes:
            STATS.saved_bytes -= self.nbytes


_SHAPE_ONLY: dict = {}  # like NumPy's but warn when compared with them, so never mix the keys
_np_dtype = np.dtype

# The name of a backend dtype object (shared_ops caches it, for every backend).
dtype_name_of = dtype_name


def shape_only(shape, dt) -> ShapeOnly:
    """The (cached) stand-in for an array of ``shape`` and backend dtype ``dt``."""
    key = (shape, dt) if isinstance(dt, _np_dtype) else (shape, id(dt))
    s = _SHAPE_ONLY.get(key)
    if s is None:
        if len(_SHAPE_ONLY) > 4096:
            _SHAPE_ONLY.clear()
        s = _SHAPE_ONLY[key] = ShapeOnly(shape, dtype_name_of(dt))
    return s


class AccumulateGrad:
    """The sink of a leaf that requires grad: sums its gradients into ``leaf.grad``.

    Parameters:
        variable: the leaf tensor.

    Examples:
        >>> a = dg.tensor(2.0, requires_grad=True)
        >>> sink = (a * 3).grad_fn.next_functions[0][0]
        >>> sink.name(), sink.variable is a
        ('torch::autograd::AccumulateGrad', True)
    """

    __slots__ = ("variable", "__weakref__")
    next = ()
    seq = -1

    def __init__(self, variable):
        self.variable = variable

    def name(self) -> str:
        """PyTorch's name for a leaf's sink.

        Returns:
            ``"torch::autograd::AccumulateGrad"``.

        Examples:
            >>> (dg.ones(1, requires_grad=True) * 2).grad_fn.next_functions[0][0].name()
            'torch::autograd::AccumulateGrad'
        """
        return "torch::autograd::AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


class RetainGrad:
    """The hook ``retain_grad()`` puts last on a node: stores the gradient in ``tensor.grad``."""

    __slots__ = ("ref",)

    def __init__(self, ref):
        self.ref = ref  # weak reference to the output tensor

    def __call__(self, grad):
        t = self.ref()
        if t is not None and t._grad_fn is not None:
            t.grad = grad if t.grad is None else t.grad + grad


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
    and at their peak (since the last ``reset_stats()``).

    Returns:
        A dict with ``nodes_created``, ``nodes_freed``, ``nodes_alive``, ``saved_bytes``
        (arrays held now by the saved values of live nodes not yet released by backward) and
        ``peak_saved_bytes``.

    Examples:
        >>> x = dg.tensor(2.0, requires_grad=True)
        >>> before = dg.stats()
        >>> y = x * x
        >>> now = dg.stats()
        >>> now["nodes_alive"] - before["nodes_alive"], now["saved_bytes"] - before["saved_bytes"]
        (1, 8)
        >>> y.backward()
        >>> dg.stats()["saved_bytes"] - before["saved_bytes"]
        0
    """
    STATS.created = next(SEQ) - STATS.seq_base  # the sequence counts nodes (this call skips one)
    STATS.seq_base += 1
    return {
        "nodes_created": STATS.created,
        "nodes_freed": STATS.freed,
        "nodes_alive": STATS.created - STATS.freed,
        "saved_bytes": STATS.saved_bytes,
        "peak_saved_bytes": STATS.peak_saved_bytes,
    }


def reset_stats() -> None:
    """Zero the counters (``nodes_alive`` then counts from here; ``saved_bytes`` stays exact).

    Examples:
        >>> dg.reset_stats(); dg.stats()["nodes_created"]
        0
    """
    stats()
    alive = STATS.created - STATS.freed
    STATS.seq_base += STATS.created - alive  # created counts from here on, the alive included
    STATS.created, STATS.freed = alive, 0
    STATS.peak_saved_bytes = STATS.saved_bytes
