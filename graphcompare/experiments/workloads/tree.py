"""A model whose structure changes with every input: a recursive net over random binary trees.

Each input is a binary tree over ``n`` leaf vectors (``d`` wide); an inner node combines its
children as ``tanh(concat(l, r) @ W + b)``; the loss is the root's sum. dyngraph simply runs the
Python recursion on each tree. The static side must declare (trace), differentiate and compile
one graph per distinct tree *structure*, then reuses it when the structure comes again.
"""

from __future__ import annotations

import numpy as np

import dyngraph as dg
import staticgraph as sg

from .. import frontends as fe
from .base import SharedNS, TorchNS

F32 = np.float32


def random_tree(rng, lo: int, hi: int):
    """A random binary tree as nested pairs of leaf indices, with lo..hi leaves."""
    n = int(rng.integers(lo, hi + 1))
    nodes = list(range(n))
    while len(nodes) > 1:
        i = int(rng.integers(0, len(nodes) - 1))
        nodes[i:i + 2] = [(nodes[i], nodes[i + 1])]
    return nodes[0], n


def n_leaves(tree) -> int:
    return 1 if isinstance(tree, int) else n_leaves(tree[0]) + n_leaves(tree[1])


def tree_model(ns, tree, leaves, W, b):
    def rec(t):
        if isinstance(t, int):
            return leaves[t]
        return ns.tanh(ns.concatenate([rec(t[0]), rec(t[1])], axis=1) @ W + b)

    return rec(tree).sum()


class TreeStream:
    """``count`` random trees with their leaf vectors, and the shared weights."""

    def __init__(self, count: int = 64, leaves=(3, 7), d: int = 16, seed: int = 0):
        r = np.random.default_rng(seed)
        self.d = d
        self.W = (r.standard_normal((2 * d, d)) / np.sqrt(2 * d)).astype(F32)
        self.b = np.zeros((1, d), F32)
        self.items = []
        for _ in range(count):
            tree, n = random_tree(r, *leaves)
            self.items.append((tree, [r.standard_normal((1, d)).astype(F32) for _ in range(n)]))
        self.size = {"trees": count, "leaves": list(leaves), "d": d}

    def structures(self) -> int:
        return len({repr(t) for t, _ in self.items})

    # -- one step per implementation: step(i) runs forward+backward on tree i ------------------
    def dyngraph(self):
        ns = SharedNS()
        W = dg.tensor(self.W.copy(), requires_grad=True)
        b = dg.tensor(self.b.copy(), requires_grad=True)
        items = [(t, [dg.tensor(x) for x in xs]) for t, xs in self.items]
        return _eager_step(ns, W, b, items)

    def staticgraph(self, optimize=True, budget_s=None):
        """``sg.function`` over the tree's leaves and weights, the structure passed as a static
        Python int (a new value retraces, as a new shape would): one trace per structure."""
        ids: dict = {}
        trees: list = []

        def py_fn(tree_id, *args):
            *leaves, W, b = args
            loss = tree_model(SharedNS(), trees[tree_id], leaves, W, b)
            return [loss, *sg.gradients(loss, [W, b])]

        fn = sg.function(py_fn, optimize=optimize)
        W, b = self.W.copy(), self.b.copy()
        stats = {"traces": 0, "compile_s": 0.0}
        seen: set = set()

        def step(i):
            tree, xs = self.items[i]
            key = repr(tree)
            tid = ids.get(key)
            if tid is None:
                tid = ids[key] = len(trees)
                trees.append(tree)
            before = fn.trace_count
            t0 = fe.perf()
            with fe.time_limit(budget_s if key not in seen else None, "tracing and compiling one tree structure"):
                out = fn(tid, *xs, W, b)
            seen.add(key)
            if fn.trace_count != before:  # this call traced and compiled (and ran once)
                stats["compile_s"] += fe.perf() - t0
            stats["traces"] = fn.trace_count
            stats["compiles"] = fn.compile_count
            return out[0]

        return step, stats

    def numpy(self):
        W, b = self.W, self.b
        d = self.d

        def step(i):
            tree, xs = self.items[i]
            cache = {}

            def fwd(t):
                if isinstance(t, int):
                    return xs[t]
                c = np.concatenate([fwd(t[0]), fwd(t[1])], axis=1)
                h = np.tanh(c @ W + b)
                cache[id(t)] = (c, h)
                return h

            root = fwd(tree)
            gW, gb = np.zeros_like(W), np.zeros_like(b)
            stack = [(tree, np.ones_like(root))]
            while stack:
                t, g = stack.pop()
                if isinstance(t, int):
                    continue
                c, h = cache[id(t)]
                ga = g * (1 - h * h)
                gW += c.T @ ga
                gb += ga
                gc = ga @ W.T
                stack += [(t[0], gc[:, :d]), (t[1], gc[:, d:])]
            return root.sum(), gW, gb

        return step

    def torch(self):
        try:
            import torch
        except ImportError:
            raise fe.Unavailable("PyTorch is not installed") from None
        torch.set_num_threads(1)
        ns = TorchNS()
        W = torch.from_numpy(self.W.copy()).requires_grad_(True)
        b = torch.from_numpy(self.b.copy()).requires_grad_(True)
        items = [(t, [torch.from_numpy(x) for x in xs]) for t, xs in self.items]
        return _eager_step(ns, W, b, items)


def _eager_step(ns, W, b, items):
    """``step(i)``: forward and backward on tree ``i`` in an eager front end (dyngraph, PyTorch)."""
    def step(i):
        tree, leaves = items[i]
        loss = tree_model(ns, tree, leaves, W, b)
        loss.backward()
        W.grad = b.grad = None
        return loss

    return step
