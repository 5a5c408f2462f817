"""``dg.autograd``: ``backward`` and ``grad`` as ``torch.autograd``'s. They find the roots and
their seeds, count the dependencies of every reachable node, and hand over to the engine's
one walk (``engine.walk``).

``Tensor.backward()`` on a one-element tensor, without ``gradient``, ``inputs`` or
``create_graph`` (every training step), takes a short entry: ``tensor_backward`` makes the seed
and ``_run_one`` starts the walk from the one root, with the eager interpreter made once per
thread. Every other call, and every error, goes through ``backward``/``_run_all``, and
``tests/dyngraph/test_backward_entry.py`` checks that both give the same bits, errors and
stolen leaf gradients."""

from __future__ import annotations

from heapq import heapify

from numpy import ndarray as _ndarray

from .engine import Interpreter, accumulate, count_deps, eager_interpreter, walk
from .sinks import owned
from .errors import AutogradError
from .grad_mode import MODE
from .node import AccumulateGrad
from .record import NUMPY
from .tensors import Tensor, wrap

__all__ = ["backward", "grad"]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``dg.autograd.backward``: accumulate the gradients of ``tensors`` into the leaves.

    Parameters:
        tensors: a tensor or a sequence of tensors to differentiate.
        grad_tensors: the vector of each vector-Jacobian product, shaped like its tensor;
            ``None`` for scalars (a gradient of 1).
        retain_graph: keep the saved values so the graph can be walked again (default:
            ``create_graph``).
        create_graph: record the backward pass too, for higher-order gradients.
        inputs: only accumulate into these tensors' ``.grad``.

    Returns:
        None; the gradients are added to the leaves' ``.grad``.

    Raises:
        AutogradError: a non-scalar tensor without its ``grad_tensors`` entry, or a tensor
            that does not require grad.
        FreedGraphError: the graph was already walked without ``retain_graph=True``.
        InplaceError: a value saved for the backward pass was changed in place.

    Examples:
        >>> w = dg.tensor(3.0, requires_grad=True)
        >>> dg.backward(w * w)
        >>> w.grad
        tensor(6.)
    """
    tensors = _as_tuple(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        grads = _grad(tensors, inputs, grad_tensors, retain_graph, create_graph, True)
        for t, g in zip(inputs, grads):
            if g is not None:
                t.grad = g if t.grad is None else t.grad + g
        return
    _run(tensors, grad_tensors, retain_graph, create_graph, None)


def tensor_backward(t, gradient, retain_graph, create_graph, inputs):
    """``Tensor.backward``: ``backward((t,), ...)``. The common call (no ``gradient``,
    ``inputs`` or ``create_graph``, a tensor that requires grad) goes straight to ``_run_one``;
    every other call, and every error, takes ``backward``'s path."""
    if gradient is not None or inputs is not None or create_graph is not False or not t._rg:
        backward((t,), None if gradient is None else (gradient,), retain_graph, create_graph, inputs)
        return
    data = t._data
    be = t._be
    if (data.size if be is NUMPY and data.__class__ is _ndarray else t.numel()) != 1:
        backward((t,), None, retain_graph, False, None)  # _roots raises the error
        return
    e = t._grad_fn if t._grad_fn is not None else t._accumulator()
    # the seed straight into the callee: a local here would keep a leaf from stealing it
    _run_one(e, _ones(data, be), be, False if retain_graph is None else retain_graph)


def _ones(data, be):
    """``be.xp.ones`` like ``data``; on NumPy without ``np.ones``' frame (the same: an empty
    array, then 1 written through a cast)."""
    if be is NUMPY and data.__class__ is _ndarray:
        seed = _ndarray(data.shape, data.dtype)
        seed.fill(1)
        return seed
    return be.xp.ones(data.shape, dtype=data.dtype)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """``torch.autograd.grad``: the gradients of ``outputs`` w.r.t. ``inputs``, as a tuple.

    Leaves' ``.grad`` are left alone; only the nodes on a path to an input run.

    Parameters:
        outputs: a tensor or a sequence of tensors to differentiate.
        inputs: a tensor or a sequence of tensors (leaves or not) to differentiate with
            respect to.
        grad_outputs: the vector of each vector-Jacobian product; ``None`` for scalars.
        retain_graph: keep the saved values (default: ``create_graph``).
        create_graph: record the backward pass, so the result can be differentiated again.
        allow_unused: answer ``None`` for an input the outputs do not depend on, instead of
            raising.

    Returns:
        A tuple with one gradient tensor (or ``None``) per input.

    Raises:
        AutogradError: an input that does not require grad, or one the outputs do not use
            (without ``allow_unused=True``).
        FreedGraphError: the graph was already walked without ``retain_graph=True``.

    Examples:
        >>> x = dg.tensor(3.0, requires_grad=True)
        >>> (dy,) = dg.grad(x ** 3, x, create_graph=True)
        >>> dy, dg.grad(dy, x)[0]
        (tensor(27., grad_fn=<MulBackward0>), tensor(18.))
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    return _grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)


def _grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused):
    capture = {}
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise AutogradError(f"grad(): inputs must be tensors, got {type(t).__name__} at index {i}")
        if not t._rg:
            raise AutogradError("One of the differentiated Tensors does not require grad")
        node = t._grad_fn if t._grad_fn is not None else t._accumulator()
        capture.setdefault(node, []).append(i)
    captured = [None] * len(inputs)
    _run(outputs, grad_outputs, retain_graph, create_graph, (capture, captured))
    out = []
    for i, g in enumerate(captured):
        if g is None:
            if not allow_unused:
                raise AutogradError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
            out.append(None)
        else:
            be = inputs[i]._be
            out.append(g if isinstance(g, Tensor) else wrap(owned(g, be), be))  # writable, as .grad
    return tuple(out)


def _as_tuple(x) -> tuple:
    if isinstance(x, Tensor):
        return (x,)
    if x is None:
        return ()
    return tuple(x)


# --------------------------------------------------------------------------- the run


def _roots(tensors, grad_tensors, create_graph):
    """Each root's edge (grad_fn or AccumulateGrad) and its seed (an array, or a tensor with
    ``create_graph``)."""
    if grad_tensors is not None:
        grad_tensors = _as_tuple(grad_tensors) if not isinstance(grad_tensors, Tensor) else (grad_tensors,)
        if len(grad_tensors) != len(tensors):
            raise AutogradError(f"got {len(grad_tensors)} gradients for {len(tensors)} tensors; pass one per tensor")
    edges, seeds = [], []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise AutogradError(f"backward: element {i} is a {type(t).__name__}, not a dg.Tensor")
        if not t._rg:
            raise AutogradError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = None if grad_tensors is None else grad_tensors[i]
        be = t._be
        if g is None:
            if t.numel() != 1:
                raise AutogradError(
                    "grad can be implicitly created only for scalar outputs (this output has shape "
                    f"{tuple(t.shape)}); pass backward(gradient=...) with the output's shape"
                )
            seed = _ones(t._data, be)
            if create_graph:
                seed = wrap(seed, be)
        else:
            if not isinstance(g, Tensor):
                g = wrap(be.asarray(g), be)
            if tuple(g.shape) != tuple(t.shape):
                raise AutogradError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                    f"output[{i}] has a shape of {tuple(t.shape)}."
                )
            seed = g if create_graph else g._data
        edges.append(t._grad_fn if t._grad_fn is not None else t._accumulator())
        seeds.append(seed)
    return edges, seeds


def _run(tensors, grad_tensors, retain, create_graph, grad_mode_capture):
    edges, seeds = _roots(tensors, grad_tensors, create_graph)
    if create_graph is False and grad_mode_capture is None and len(edges) == 1:
        e = edges[0]
        edges = None
        _run_one(e, seeds.pop(), tensors[0]._be, retain)  # the callee the only owner of the seed
        return
    _run_all(edges, seeds, tensors[0]._be, retain, create_graph, grad_mode_capture)


def _run_all(edges, seeds, be, retain, create_graph, grad_mode_capture):
    """The walk from any roots, in any mode (``_run_one`` is its one-root, arrays-only case)."""
    interp = Interpreter(be, create_graph)

    deps = count_deps(edges)  # of every reachable node

    capture = captured = reach = execute = None
    if grad_mode_capture is not None:
        capture, captured = grad_mode_capture
        reach, execute = _needed(deps, capture)

    buf = {}
    for e, s in zip(edges, seeds):
        buf.setdefault(e, []).append(s)
    roots = dict.fromkeys(edges)  # only a root can have no dependency (the others were reached)
    seeds.clear()  # the buffers are now the only owners of the seeds (the caller holds the list)
    edges = seeds = s = None
    heap = []
    sinks = []
    for e in roots:
        if deps[e] == 0:
            if e.__class__ is AccumulateGrad:
                sinks.append(e)
            else:
                heap.append((-e.seq, e))
    heapify(heap)

    prev_mode = MODE.enabled
    MODE.enabled = create_graph
    try:
        for e in sinks:
            accumulate(e, buf.pop(e, None), interp, capture, captured)
        walk(heap, buf, deps, interp, retain, capture, captured, execute, reach)
    finally:
        MODE.enabled = prev_mode
        # the last rule's edges (``needs_input_grad``) would keep that part of the graph alive
        interp.ops.__dict__.pop("needs_input_grad", None)


def _run_one(e, seed, be, retain):
    """``_run`` of one root, arrays only (no ``create_graph``, no ``grad()``): the same steps
    without the general bookkeeping (one root has no dependency)."""
    interp = eager_interpreter(be)
    deps = count_deps((e,))
    buf = {e: [seed]}
    seed = None  # the buffer is now the only owner of the seed
    prev_mode = MODE.enabled
    MODE.enabled = False
    try:
        if e.__class__ is AccumulateGrad:
            accumulate(e, buf.pop(e, None), interp, None, None)
            walk([], buf, deps, interp, retain)
        else:
            walk([(-e.seq, e)], buf, deps, interp, retain)
    finally:
        MODE.enabled = prev_mode
        # the last rule's edges (``needs_input_grad``) would keep that part of the graph alive
        interp.ops.__dict__.pop("needs_input_grad", None)


def _needed(deps, capture):
    """For ``grad()``: which nodes lead to an input (``reach``) and which must run (``execute``)."""
    reach = set(capture)
    execute = set()
    for n in sorted(deps, key=lambda n: n.seq):  # inputs of a node were created before it
        if any(c is not None and c in reach for c in n.next):
            execute.add(n)
            reach.add(n)
    return reach, execute
