"""W1-W4 run by every engine, each model written once, as a user writes it against each library.

The math comes from ``workloads.standard`` (one definition of W1-W4); this module only says, per
engine, how a user runs a training step of it: make the tensors once, then per step compute the
loss and the gradients with respect to the parameters. Every step returns ``(loss, *grads)`` in
the engine's own array type (nothing converted inside the timed call); ``to_numpy`` converts for
the gradient check.

Engines: ``numpy`` (hand-written forward and backward, the reference), ``dyngraph``,
``staticgraph`` (``optimize=True``, every fused region on its best tier before timing),
``staticgraph_O0`` (``optimize=False``), ``torch`` (eager), ``torch_compile``
(``torch.compile`` of the model, ``backward()`` as usual), ``jax`` (``jit(value_and_grad)``)
and ``pytensor`` (``pytensor.function`` of the loss and ``pytensor.grad``). An engine that is not
installed raises ``Unavailable``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .frontends import Unavailable
from .workloads import standard as std

ENGINES = ("numpy", "dyngraph", "staticgraph", "staticgraph_O0", "torch", "torch_compile", "jax", "pytensor")
LABELS = {"numpy": "hand-written NumPy", "dyngraph": "dyngraph", "staticgraph": "staticgraph",
          "staticgraph_O0": "staticgraph O0", "torch": "PyTorch eager", "torch_compile": "torch.compile",
          "jax": "JAX jit", "pytensor": "PyTensor"}
STATIC_PEERS = ("torch_compile", "jax", "pytensor")
# engines benchmarks may name besides ENGINES: staticgraph without its whole-step tier (each
# fused region and instruction called in turn), to show what that tier changes in one run
EXTRA_ENGINES = ("staticgraph_regions",)
LABELS["staticgraph_regions"] = "staticgraph, no whole step"


@dataclass
class Spec:
    """One workload: its inputs, which of them are differentiated, the model, the reference."""

    name: str
    title: str
    inputs: Callable[[np.random.Generator], list]
    wrt: tuple                     # indices of the inputs the gradients are taken for
    model: Callable                # model(ns, *inputs) -> scalar loss
    reference: Callable            # reference(*inputs) -> (loss, *grads), hand-written NumPy


def _w1_ref(x):
    h, g = std.chain_numpy(np, x)
    return h.sum(), g


def _w2_ref(Wx, Wh, xs, h0):
    return std.rnn_numpy(np, Wx, Wh, xs, h0)


def _w3_ref(x, labels, *params):
    loss, grads = std.mlp_numpy(np, x, labels, params)
    return (loss, *grads)


SPECS = {
    "W1": Spec("W1", "200-op chain on one element", lambda rng: [rng.standard_normal(1).astype(np.float32)],
               (0,), lambda ns, x: std.chain(ns, x).sum(), _w1_ref),
    "W2": Spec("W2", "RNN cell, 32 steps", lambda rng: std.rnn_inputs(rng, "float32", columns=False),
               (0, 1), std.rnn, _w2_ref),
    "W3": Spec("W3", "MLP 784-512-512-10, batch 128", lambda rng: std.mlp_batch(rng) + std.mlp_params(rng),
               (2, 3, 4, 5, 6, 7), lambda ns, x, labels, *ps: std.mlp(ns, x, labels, ps), _w3_ref),
    "W4": Spec("W4", "4M-element elementwise", std.elementwise_inputs, (0, 1), std.elementwise,
               lambda x, y: std.elementwise_numpy(np, x, y)),
}


@dataclass
class Runner:
    """A ready step of one workload on one engine."""

    step: Callable[[], tuple]
    to_numpy: Callable[[tuple], list]
    build_s: float = 0.0           # building it: compile, first call, waiting for the best tier
    fn: object = None              # staticgraph: the CompiledFunction (its memory plan)


def make(engine: str, spec: Spec, args: list) -> Runner:
    """The step of ``spec`` on ``engine`` over copies of ``args``."""
    import time

    t0 = time.perf_counter()
    runner = globals()[f"_{engine}"](spec, [np.array(a, copy=True) for a in args])
    runner.step()  # the first call (lazy compilation) belongs to building
    runner.build_s = time.perf_counter() - t0
    return runner


def _as_numpy(out):
    return [np.asarray(o) for o in out]


def _numpy(spec, args):
    return Runner(lambda: spec.reference(*args), _as_numpy)


def _dyngraph(spec, args):
    import dyngraph as dg

    ts = [dg.tensor(a, requires_grad=i in spec.wrt) for i, a in enumerate(args)]
    wrt = [ts[i] for i in spec.wrt]

    def step():
        loss = spec.model(dg, *ts)
        loss.backward()
        grads = [t.grad for t in wrt]
        for t in wrt:
            t.grad = None
        return (loss, *grads)

    return Runner(step, lambda out: [o.detach().numpy() for o in out])


def _static(spec, args, optimize):
    import staticgraph as sg

    with sg.Graph():
        xs = [sg.placeholder(a.shape, a.dtype.name, name=f"in{i}") for i, a in enumerate(args)]
        loss = spec.model(sg, *xs)
        grads = sg.gradients(loss, [xs[i] for i in spec.wrt])
    fn = sg.compile([loss, *grads], inputs=xs, optimize=optimize, block=bool(optimize))
    if optimize and not fn.wait_compiled():
        raise RuntimeError("a fused region did not reach its best tier")
    return Runner(lambda: fn(*args), _as_numpy, fn=fn)


def _staticgraph(spec, args):
    return _static(spec, args, True)


def _staticgraph_O0(spec, args):
    return _static(spec, args, False)


def _staticgraph_regions(spec, args):
    return _static(spec, args, {"whole_step": False})


class _TorchNS:
    def __init__(self, torch):
        self.tanh, self.exp = torch.tanh, torch.exp
        self.softmax_cross_entropy = torch.nn.functional.cross_entropy


def _torch_tensors(spec, args):
    try:
        import torch
    except ImportError:
        raise Unavailable("PyTorch is not installed (pip install -e '.[peers]')") from None
    torch.set_num_threads(1)
    ts = [torch.from_numpy(a).requires_grad_(i in spec.wrt) for i, a in enumerate(args)]
    return torch, ts, [ts[i] for i in spec.wrt]


def _torch_step(model, ts, wrt):
    def step():
        loss = model(*ts)
        loss.backward()
        grads = [t.grad for t in wrt]
        for t in wrt:
            t.grad = None
        return (loss, *grads)

    return step


def _torch(spec, args):
    torch, ts, wrt = _torch_tensors(spec, args)
    ns = _TorchNS(torch)
    return Runner(_torch_step(lambda *a: spec.model(ns, *a), ts, wrt), lambda out: [o.detach().numpy() for o in out])


def _torch_compile(spec, args):
    torch, ts, wrt = _torch_tensors(spec, args)
    ns = _TorchNS(torch)
    model = torch.compile(lambda *a: spec.model(ns, *a))
    return Runner(_torch_step(model, ts, wrt), lambda out: [o.detach().numpy() for o in out])


class _JaxNS:
    def __init__(self, jax):
        jnp = jax.numpy
        self.tanh, self.exp = jnp.tanh, jnp.exp

        def sce(logits, labels):
            lse = jax.nn.logsumexp(logits, axis=1)
            return (lse - jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]).mean()

        self.softmax_cross_entropy = sce


def _jax(spec, args):
    try:
        import jax
    except ImportError:
        raise Unavailable("JAX is not installed (pip install -e '.[peers]')") from None
    ns = _JaxNS(jax)
    f = jax.jit(jax.value_and_grad(lambda *a: spec.model(ns, *a), argnums=spec.wrt))
    xs = [jax.device_put(a) for a in args]

    def step():
        loss, grads = f(*xs)
        return jax.block_until_ready((loss, *grads))

    return Runner(step, _as_numpy)


class _PyTensorNS:
    def __init__(self, pt):
        self.tanh, self.exp = pt.tanh, pt.exp

        def sce(logits, labels):
            logp = pt.special.log_softmax(logits, axis=1)
            return -logp[pt.arange(logits.shape[0]), labels].mean()

        self.softmax_cross_entropy = sce


def _sized(cls):
    return type("Sized" + cls.__name__, (cls,), {"__len__": lambda self: int(self.type.shape[0])})


def _pytensor(spec, args):
    try:
        import pytensor
        import pytensor.tensor as pt
    except ImportError:
        raise Unavailable("PyTensor is not installed (pip install pytensor)") from None
    xs = [pt.tensor(f"in{i}", dtype=a.dtype.name, shape=a.shape) for i, a in enumerate(args)]
    for x in xs:  # W2 loops over ``len(xs)``; PyTensor leaves ``len`` undefined even for a static shape
        x.__class__ = _sized(type(x))
    loss = spec.model(_PyTensorNS(pt), *xs)
    grads = pytensor.grad(loss, [xs[i] for i in spec.wrt])
    f = pytensor.function(xs, [loss, *grads])
    return Runner(lambda: f(*args), _as_numpy)


def check(runner: Runner, spec: Spec, args: list, rtol: float = 2e-3) -> float:
    """The largest relative error of ``runner``'s loss and gradients against the hand-written
    NumPy reference; raises ``AssertionError`` naming the output when above ``rtol``."""
    got, want = runner.to_numpy(runner.step()), spec.reference(*args)
    if len(got) != len(want):
        raise AssertionError(f"{spec.name}: {len(got)} outputs, the reference has {len(want)}")
    worst = 0.0
    for k, (u, v) in enumerate(zip(got, want)):
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        if u.shape != v.shape:
            raise AssertionError(f"{spec.name}: output {k} has shape {u.shape}, the reference {v.shape}")
        err = float(np.max(np.abs(u - v))) / max(float(np.max(np.abs(v))), 1e-30)
        if not err <= rtol:
            what = "the loss" if k == 0 else f"gradient {k}"
            raise AssertionError(f"{spec.name}: {what} is off by {err:.2e} (relative) from hand-written NumPy")
        worst = max(worst, err)
    return worst
