"""A workload is one model's math, written once, and the ways to run a step of it.

``model(ns, *data, *params)`` returns a scalar loss. It uses methods common to every front end
(``@``, ``+``, ``.sum()``, ``.reshape``) and the functions of a namespace ``ns`` (``ns.tanh``,
``ns.softmax_cross_entropy``, ``ns.conv2d``, ...), so the *same function* is the dyngraph step,
the staticgraph declaration, the PyTorch eager step and the JAX function. Only the hand-written
NumPy peer is written separately (forward and backward by hand, in ``numpy_step``).

A step is forward + backward, plus the SGD update when ``train`` is set:

- dyngraph: ``loss.backward()``, then in place under ``no_grad``: ``p.sub_(p.grad * lr)``;
- staticgraph: one compiled function returning ``[loss, *grads]`` over placeholders for data and
  parameters, then ``p -= lr * g`` through the same shared ``mul``/``sub`` kernels (so both front
  ends run identical update kernels and the dispatch point counts both);
- PyTorch eager: as dyngraph; ``torch.compile``: the same with the model compiled; JAX: ``jit(value_and_grad)`` then ``p - lr * g``;
- NumPy: the hand-written forward, backward and in-place update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import dyngraph as dg

from .. import frontends as fe
from ..frontends import Unavailable

IMPLS = ("dyngraph", "staticgraph", "numpy", "torch", "torch_compile", "jax")
LABELS = {
    "dyngraph": "dyngraph (dynamic)",
    "staticgraph": "staticgraph (static, compiled)",
    "numpy": "hand-written NumPy",
    "torch": "PyTorch eager",
    "torch_compile": "torch.compile",
    "jax": "JAX jit",
}


class SharedNS:
    """The shared surface's functions: what dyngraph tensors and staticgraph nodes are given."""

    def __getattr__(self, name):
        try:
            return fe.F[name]
        except KeyError:
            raise AttributeError(name) from None


class TorchNS:
    def __init__(self):
        import torch
        import torch.nn.functional as tf

        self.tanh, self.exp, self.log = torch.tanh, torch.exp, torch.log
        self.softmax_cross_entropy = tf.cross_entropy
        self.conv2d = lambda x, w, stride=1, padding=0: tf.conv2d(x, w, stride=stride, padding=padding)
        self.concatenate = lambda ts, axis=0: torch.cat(list(ts), dim=axis)


class JaxNS:
    def __init__(self):
        import jax
        import jax.numpy as jnp

        self.tanh, self.exp, self.log = jnp.tanh, jnp.exp, jnp.log
        self.concatenate = lambda ts, axis=0: jnp.concatenate(list(ts), axis=axis)

        def sce(logits, labels):
            lse = jax.nn.logsumexp(logits, axis=1)
            return (lse - jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]).mean()

        def conv2d(x, w, stride=1, padding=0):
            return jax.lax.conv_general_dilated(x, w, (stride, stride), [(padding, padding)] * 2)

        self.softmax_cross_entropy, self.conv2d = sce, conv2d


@dataclass
class Impl:
    """One way to run a workload's step, plus the pieces some measures need."""

    step: Callable[[], Any]
    forward: Callable[[], Any] | None = None         # forward only, graph recorded (dyngraph)
    forward_nograd: Callable[[], Any] | None = None  # forward only, nothing recorded
    build: Any = None                                # StaticBuild for staticgraph


@dataclass
class Workload:
    name: str
    title: str
    model: Callable
    data: list                 # NumPy arrays fed without gradient
    params: list               # NumPy arrays we differentiate with respect to
    train: bool = False        # apply an SGD update after the gradients
    lr: float = 0.01
    numpy_step: Callable | None = None  # numpy_step(xp, data, params, lr, train) -> step
    size: dict = field(default_factory=dict)  # the parameters that define this instance
    backend: Any = None        # shared_ops Backend (NumPy by default)
    slow_hook: Callable[[], None] | None = None  # tests plant a slowdown here
    compile_budget: float | None = None  # seconds a static build may take (None: no limit)

    # -- helpers ------------------------------------------------------------------------
    @property
    def xp(self):
        return self.backend.xp if self.backend is not None else np

    def _arrays(self, arrays):
        if self.backend is None or self.backend.name == "numpy":
            return [np.array(a, copy=True) for a in arrays]
        return [self.backend.asarray(np.array(a, copy=True)) for a in arrays]

    def _sync(self):
        if self.backend is not None and self.backend.name == "cupy":
            self.xp.cuda.get_current_stream().synchronize()

    def _wrap(self, step):
        hook, sync = self.slow_hook, self._sync
        if hook is None and (self.backend is None or self.backend.name != "cupy"):
            return step

        def wrapped():
            if hook is not None:
                hook()
            out = step()
            sync()
            return out

        return wrapped

    def specs(self, arrays):
        return [(tuple(a.shape), np.dtype(a.dtype).name) for a in arrays]

    # -- implementations -----------------------------------------------------------------
    def impl(self, kind: str, optimize=True) -> Impl:
        return getattr(self, f"_impl_{kind}")(optimize) if kind == "staticgraph" else getattr(self, f"_impl_{kind}")()

    def _impl_dyngraph(self) -> Impl:
        ns = SharedNS()
        data = [fe.dg_tensor(a) for a in self._arrays(self.data)]
        params = [fe.dg_tensor(a, requires_grad=True) for a in self._arrays(self.params)]
        model, lr, train = self.model, self.lr, self.train

        def step():
            loss = model(ns, *data, *params)
            loss.backward()
            if train:
                fe.dg_sgd(params, lr)
            else:
                fe.dg_clear(params)
            return loss

        def forward():
            return model(ns, *data, *params)

        def forward_nograd():
            with dg.no_grad():
                return model(ns, *data, *params)

        return Impl(self._wrap(step), self._wrap(forward), self._wrap(forward_nograd))

    def _impl_staticgraph(self, optimize=True) -> Impl:
        data, params = self._arrays(self.data), self._arrays(self.params)
        build = fe.static_build(lambda *xs: self.model(SharedNS(), *xs), self.specs(self.data),
                                self.specs(self.params), optimize=optimize,
                                first_args=[*self._arrays(self.data), *self._arrays(self.params)],
                                budget_s=self.compile_budget)
        fn, xp, lr, train = build.fn, self.xp, self.lr, self.train
        args = [*data, *params]

        def step():
            outs = fn(*args)
            if train:
                fe.kernel_update(xp, params, outs[1:], lr)
            return outs[0]

        return Impl(self._wrap(step), build=build)

    def _impl_numpy(self) -> Impl:
        if self.numpy_step is None:
            raise Unavailable("no hand-written NumPy version of this workload")
        step = self.numpy_step(self.xp, self._arrays(self.data), self._arrays(self.params), self.lr, self.train)
        return Impl(self._wrap(step))

    def _impl_torch_compile(self) -> Impl:
        return self._impl_torch(compiled=True)

    def _impl_torch(self, compiled: bool = False) -> Impl:
        try:
            import torch
        except ImportError:
            raise Unavailable("PyTorch is not installed") from None
        if self.backend is not None and self.backend.name != "numpy":
            raise Unavailable("the PyTorch peer runs on CPU only here; compared on the NumPy backend")
        torch.set_num_threads(1)
        ns = TorchNS()
        data = [torch.from_numpy(a) for a in self._arrays(self.data)]
        params = [torch.from_numpy(a).requires_grad_(True) for a in self._arrays(self.params)]
        model, lr, train = self.model, self.lr, self.train
        if compiled:  # as a user compiles a model: forward compiled, ``backward()`` as usual
            model = torch.compile(model)

        def step():
            loss = model(ns, *data, *params)
            loss.backward()
            with torch.no_grad():
                for p in params:
                    if train:
                        p.sub_(p.grad * lr)
                    p.grad = None
            return loss

        def forward_nograd():
            with torch.no_grad():
                return model(ns, *data, *params)

        return Impl(self._wrap(step), lambda: model(ns, *data, *params), forward_nograd)

    def _impl_jax(self) -> Impl:
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            raise Unavailable("JAX is not installed") from None
        ns = JaxNS()
        model, lr, train = self.model, self.lr, self.train
        data = [jnp.asarray(a) for a in self.data]
        f = jax.jit(jax.value_and_grad(lambda ps, ds: model(ns, *ds, *ps)))
        state = {"params": [jnp.asarray(a) for a in self.params]}

        @jax.jit
        def update(ps, gs):
            return [p - lr * g for p, g in zip(ps, gs)]

        def step():
            loss, grads = f(state["params"], data)
            if train:
                state["params"] = update(state["params"], grads)
            jax.block_until_ready((loss, grads, state["params"]))
            return loss

        return Impl(self._wrap(step))
