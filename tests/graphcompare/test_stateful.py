"""A stateful comparison: a training session in dyngraph, mirrored by compiled static graphs.

Hypothesis interleaves forward/backward calls (with and without ``retain_graph``), a second
backward through a retained graph, backward through a freed graph (must raise and change
nothing), gradient reset, in-place SGD updates under ``no_grad``, and re-runs of the compiled
functions (``sg.compile`` and ``sg.function``) with new inputs. After every step:
dyngraph's accumulated ``.grad`` equals the sum of staticgraph's gradients byte for byte, and
the parameters equal their NumPy mirror byte for byte.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import dyngraph as dg
import staticgraph as sg

LR = 0.125


def model(F, x, w, b):
    h = (x @ w + b).tanh()
    return (h * h).sum() + (w * x.sum(axis=0, keepdims=True).T).mean() + F.maximum(b, w.sum(axis=0)).sum()


def _static():
    with sg.Graph():
        x = sg.placeholder((None, 3), "float32", name="x")
        w = sg.placeholder((3, 4), "float32", name="w")
        b = sg.placeholder((4,), "float32", name="b")
        loss = model(sg, x, w, b)
        gw, gb = sg.gradients(loss, [w, b])
        return sg.compile([loss, gw, gb], inputs=[x, w, b], optimize=False)


def _traced(x, w, b):
    loss = model(sg, x, w, b)
    return [loss, *sg.gradients(loss, [w, b])]


class TrainingSession(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.w_np = rng.uniform(-1, 1, (3, 4)).astype(np.float32)
        self.b_np = rng.uniform(-1, 1, (4,)).astype(np.float32)
        self.w = dg.tensor(self.w_np.copy(), requires_grad=True)
        self.b = dg.tensor(self.b_np.copy(), requires_grad=True)
        self.fn = _static()
        self.traced = sg.function(_traced, optimize=False)
        self.acc = [None, None]  # the static gradients summed, in the order they were made
        self.loss = None  # the last dyngraph loss and whether its graph was retained
        self.retained = False

    def _accumulate(self, grads):
        self.acc = [g if a is None else a + g for a, g in zip(self.acc, grads)]

    @rule(seed=st.integers(0, 2**16), rows=st.sampled_from((1, 2, 5)), retain=st.booleans(),
          traced=st.booleans())
    def forward_backward(self, seed, rows, retain, traced):
        x = np.random.default_rng(seed).uniform(-2, 2, (rows, 3)).astype(np.float32)
        self.loss = model(dg, dg.tensor(x), self.w, self.b)
        self.loss.backward(retain_graph=retain)
        self.retained = retain
        self.last = self.fn(x, self.w_np, self.b_np)
        if traced:  # the traced function re-run with new inputs agrees with the compiled one
            other = self.traced(x, self.w_np, self.b_np)
            for a, c in zip(self.last, other):
                assert np.asarray(a).tobytes() == np.asarray(c).tobytes()
        assert self.loss.item() == float(np.asarray(self.last[0]))
        self._accumulate([np.asarray(g) for g in self.last[1:]])

    @precondition(lambda self: self.loss is not None and self.retained)
    @rule(retain=st.booleans())
    def backward_again(self, retain):
        self.loss.backward(retain_graph=retain)
        self.retained = retain
        self._accumulate([np.asarray(g) for g in self.last[1:]])

    @precondition(lambda self: self.loss is not None and not self.retained)
    @rule()
    def backward_through_freed_graph(self):
        with pytest.raises(dg.FreedGraphError, match="retain_graph=True"):
            self.loss.backward()

    @rule()
    def zero_grad(self):
        self.w.grad = None
        self.b.grad = None
        self.acc = [None, None]

    @precondition(lambda self: self.acc[0] is not None)
    @rule()
    def sgd_step(self):
        with dg.no_grad():
            self.w.sub_(self.w.grad * LR)
            self.b.sub_(self.b.grad * LR)
        self.w_np = self.w_np - self.acc[0] * np.float32(LR)
        self.b_np = self.b_np - self.acc[1] * np.float32(LR)
        self.loss = None  # the old graph saw the parameters before the update

    @invariant()
    def grads_are_the_static_sums(self):
        for t, a in zip((self.w, self.b), self.acc):
            if a is None:
                assert t.grad is None
            else:
                g = t.grad.numpy()
                assert g.dtype == a.dtype and g.tobytes() == a.tobytes(), np.max(np.abs(g - a))

    @invariant()
    def parameters_match_their_mirror(self):
        assert self.w.detach().numpy().tobytes() == self.w_np.tobytes()
        assert self.b.detach().numpy().tobytes() == self.b_np.tobytes()


TestTrainingSession = TrainingSession.TestCase
