"""``sg.train``: TF1's optimisers, declaring the update in the graph.

``opt.minimize(loss, var_list=None)`` adds ``sg.gradients(loss, var_list)`` and the update of
every variable (and of the optimiser's own slots and step count) to the graph, and returns the
train op: the tuple of those assignments, run with ``sess.run(train_op)`` (or fetched beside the
loss: TF1's semantics, fetched values are computed before the updates apply). ``var_list``
defaults to every floating-point variable of the loss's graph the loss depends on, except frozen
parameters (``nn.Parameter(..., requires_grad=False)``, TF1's ``trainable=False``).

The arithmetic is ``torch.optim``'s, shared with ``dg.optim`` (``shared_ops.nn.optim_math``):
``MomentumOptimizer(lr, momentum, use_nesterov=, weight_decay=)`` is ``SGD(momentum,
nesterov)`` (TF1's accumulator ``a = m a + g`` starts at zero, which is the same), and
``AdamOptimizer`` is ``torch.optim.Adam`` (epsilon added after the bias correction, where TF1
folds the correction into the learning rate), so a training run with ``optimize=False`` is
bitwise equal in both front ends.
"""

from __future__ import annotations

import weakref

import numpy as np

from shared_ops.dtypes import FLOATING
from shared_ops.nn import optim_math

from .gradients import gradients
from .graph import GraphError, Node
from .sources import variable
from .updates import assign
from .nn import frozen, step_variable

_SLOTS: dict = {}  # id -> weak reference, for the variables optimisers created (never trained themselves)


def _is_slot(n: Node) -> bool:
    ref = _SLOTS.get(id(n))
    return ref is not None and ref() is n  # an id alone may be reused by a later graph's variable


def _depends(loss: Node, var: Node) -> bool:
    seen, todo = set(), [loss]
    while todo:
        n = todo.pop()
        if n is var:
            return True
        if id(n) not in seen:
            seen.add(id(n))
            todo.extend(n.inputs)
    return False


class Optimizer:
    """The base of the optimisers: ``minimize`` declares the gradient and the updates.

    Parameters:
        learning_rate: the step size, >= 0.

    Raises:
        ValueError: a negative learning rate.

    Examples:
        >>> sg.train.GradientDescentOptimizer(-1.0)
        Traceback (most recent call last):
        ValueError: learning_rate must be >= 0, got -1.0
    """

    def __init__(self, learning_rate: float):
        if learning_rate < 0:
            raise ValueError(f"learning_rate must be >= 0, got {learning_rate}")
        self.learning_rate = float(learning_rate)

    def _slot(self, graph, value, name):
        taken = {n.name for n in graph.nodes}
        unique = next(f"{name}_{k}" if k else name for k in range(len(taken) + 1) if (f"{name}_{k}" if k else name) not in taken)
        with graph:
            v = variable(value, name=unique, dtype=np.asarray(value).dtype.name)
        _SLOTS[id(v)] = weakref.ref(v)
        return v

    def minimize(self, loss: Node, var_list=None):
        """Declare the gradient and the updates; return the train op (a tuple of assignments).

        Parameters:
            loss: a scalar node.
            var_list: the variables to train; default every floating-point variable of the
                loss's graph that the loss depends on (the optimisers' own slots excluded).

        Returns:
            The train op: a tuple of assign nodes (the variables, the optimiser's slots and
            its step count); ``sess.run(train_op)`` applies one step.

        Raises:
            GraphError: ``loss`` is not a graph node.
            ValueError: no variable to train, or none has a gradient.

        Examples:
            >>> with sg.Graph() as g:
            ...     w = sg.variable(np.float32(1.0), name="w")
            ...     train_op = sg.train.GradientDescentOptimizer(0.25).minimize(w * w)
            >>> sess = sg.Session(g)
            >>> _ = sess.run(train_op); float(sess.run(w))
            0.5
        """
        if not isinstance(loss, Node):
            raise GraphError(f"minimize: the loss must be a graph node, got {type(loss).__name__}")
        graph = loss.graph
        if var_list is None:
            var_list = [n for n in graph.nodes if n.op == "variable" and n.dtype in FLOATING and not _is_slot(n)
                        and not frozen(n) and _depends(loss, n)]
        var_list = list(var_list)
        if not var_list:
            raise ValueError("minimize: no variables to optimize (the loss depends on no floating-point variable)")
        grads = gradients(loss, var_list)
        pairs = [(v, g) for v, g in zip(var_list, grads) if g is not None]
        if not pairs:
            raise ValueError(f"minimize: no gradients for any variable in {[v.label for v in var_list]}")
        step = self._slot(graph, np.float64(0.0), "optimizer_step")
        t = step + 1.0
        updates = []
        for v, g in pairs:
            updates.extend(self._apply(graph, v, g, step, t))
        updates.append(assign(step, t))
        nn_step = step_variable(graph)
        if nn_step is not None:  # a new dropout mask every run
            updates.append(assign(nn_step, nn_step + 1))
        return tuple(updates)

    def _apply(self, graph, var, grad, step, t):  # pragma: no cover
        raise NotImplementedError


class GradientDescentOptimizer(Optimizer):
    """``var <- var - lr * grad`` (``torch.optim.SGD`` without momentum).

    Parameters:
        learning_rate: the step size.

    Examples:
        >>> with sg.Graph() as g:
        ...     w = sg.variable(np.float32(1.0), name="w")
        ...     train_op = sg.train.GradientDescentOptimizer(0.25).minimize(w * w)
        >>> sess = sg.Session(g)
        >>> [float(sess.run([train_op, w])[1]) for _ in range(2)]
        [1.0, 0.5]
    """

    def _apply(self, graph, var, grad, step, t):
        new, _ = optim_math.sgd(var, grad, None, lr=self.learning_rate)
        return [assign(var, new)]


class MomentumOptimizer(Optimizer):
    """SGD with momentum, ``torch.optim.SGD(momentum=, nesterov=)``'s arithmetic.

    Parameters:
        learning_rate: the step size.
        momentum: the factor of the accumulated gradient.
        use_nesterov: Nesterov's momentum.
        weight_decay: L2 penalty added to the gradient.

    Examples:
        >>> with sg.Graph() as g:
        ...     w = sg.variable(np.float32(1.0), name="w")
        ...     train_op = sg.train.MomentumOptimizer(0.25, momentum=0.5).minimize(w * w)
        >>> sess = sg.Session(g)
        >>> for _ in range(2):
        ...     _ = sess.run(train_op)
        >>> float(sess.run(w))
        0.0
    """

    def __init__(self, learning_rate: float, momentum: float, use_nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(learning_rate)
        self.momentum, self.use_nesterov, self.weight_decay = float(momentum), bool(use_nesterov), float(weight_decay)

    def _apply(self, graph, var, grad, step, t):
        buf = self._slot(graph, np.zeros(var.shape, var.dtype), f"{var.label}/momentum")
        new, nbuf = optim_math.sgd(var, grad, buf, lr=self.learning_rate, momentum=self.momentum,
                                   nesterov=self.use_nesterov, weight_decay=self.weight_decay, first=step == 0.0)
        return [assign(var, new), assign(buf, nbuf)]


class AdamOptimizer(Optimizer):
    """``AdamOptimizer(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.0,
    decoupled=False)`` with ``torch.optim.Adam``'s arithmetic (``decoupled=True``: ``AdamW``).

    Parameters:
        learning_rate: the step size.
        beta1: decay of the first moment.
        beta2: decay of the second moment.
        epsilon: added to the root of the second moment, after the bias correction.
        weight_decay: L2 penalty (or decoupled decay with ``decoupled=True``).
        decoupled: AdamW's weight decay.

    Examples:
        >>> with sg.Graph() as g:
        ...     w = sg.variable(np.float32(1.0), name="w")
        ...     train_op = sg.train.AdamOptimizer(0.1).minimize(w * w)
        >>> sess = sg.Session(g)
        >>> _ = sess.run(train_op); round(float(sess.run(w)), 4)
        0.9
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.0, decoupled=False):
        super().__init__(learning_rate)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)
        self.weight_decay, self.decoupled = float(weight_decay), bool(decoupled)

    def _apply(self, graph, var, grad, step, t):
        m = self._slot(graph, np.zeros(var.shape, var.dtype), f"{var.label}/adam_m")
        v = self._slot(graph, np.zeros(var.shape, var.dtype), f"{var.label}/adam_v")
        new, nm, nv = optim_math.adam(var, grad, m, v, t, lr=self.learning_rate, beta1=self.beta1, beta2=self.beta2,
                                      eps=self.epsilon, weight_decay=self.weight_decay, decoupled=self.decoupled)
        return [assign(var, new), assign(m, nm), assign(v, nv)]


__all__ = ["Optimizer", "GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer"]
