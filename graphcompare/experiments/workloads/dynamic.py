"""The dynamic-structure experiment, four ways, on two models whose shape changes per input.

**Sequences**: a variable-length RNN, ``h <- tanh(x_t @ W_x + h @ W_h)`` (the seed RNN cell,
hidden 20, input 10, rows as samples), loss ``h_T.sum()``; lengths drawn uniformly from
``LENGTHS`` (4 to 32 steps). **Trees**: the TreeRNN of ``tree.py`` over random binary trees
(3 to 7 leaves, width 16), loss the root's sum.

Each *way* gives ``batch(items) -> (loss, grads)``, the summed loss and weight gradients of a
batch of samples:

1. ``dyngraph``: one recorded graph per sample (the Python loop or recursion).
2. ``retrace``: ``sg.function``, retracing and compiling for every new length or structure.
3. ``control``: one staticgraph graph for every input: ``sg.scan`` over the sequence; for a
   tree, ``sg.while_loop`` over its node schedule (children's rows, post-order) writing each
   node's vector into a table of rows.
4. ``fold``: dynamic batching as in TensorFlow Fold (Looks et al., ICLR 2017): the samples of
   a batch run together, one batched op per time step (sequences, masked) or per tree depth
   (trees: the nodes of that height in every tree, gathered from the row table by index,
   their results scattered back), in one graph for every batch (``sg.scan`` over the steps).

``stats`` counts traces and compiles. All four compute the same values and gradients (a test
checks it, float64): only the order of some sums differs.
"""

from __future__ import annotations

import numpy as np

from .. import frontends as fe
from .tree import random_tree

LENGTHS = (4, 32)


# --------------------------------------------------------------------------- sequences


class Sequences:
    """``count`` sequences with lengths uniform in ``lengths``, and the RNN's weights."""

    def __init__(self, count=256, lengths=LENGTHS, hidden=20, inputs=10, seed=0, dtype="float32"):
        r = np.random.default_rng(seed)
        self.dtype = dtype
        self.W_x = (r.standard_normal((inputs, hidden)) / np.sqrt(inputs)).astype(dtype)
        self.W_h = (r.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(dtype)
        self.h0 = np.zeros((1, hidden), dtype)
        self.items = [r.standard_normal((int(r.integers(lengths[0], lengths[1] + 1)), inputs)).astype(dtype)
                      for _ in range(count)]
        self.size = {"count": count, "lengths": f"uniform {lengths[0]}..{lengths[1]}", "hidden": hidden, "input": inputs}

    def weights(self):
        return [self.W_x, self.W_h]

    def dyngraph(self):
        dg = fe.dg
        W = [dg.tensor(w.copy(), requires_grad=True) for w in self.weights()]
        stats = {"traces": 0, "compiles": 0}

        def batch(items):
            total, grads = 0.0, None
            for xs in items:
                x = dg.tensor(xs)
                h = dg.tensor(self.h0)
                for t in range(xs.shape[0]):
                    h = (x[t:t + 1] @ W[0] + h @ W[1]).tanh()
                loss = h.sum()
                gs = dg.grad(loss, W)
                total += loss.item()
                grads = [g.numpy() for g in gs] if grads is None else [a + g.numpy() for a, g in zip(grads, gs)]
            return total, grads

        return batch, stats

    def retrace(self, optimize=True):
        s = fe.sg

        def py_fn(xs, h0, W_x, W_h):
            h = h0
            for t in range(xs.shape[0]):
                h = (xs[t:t + 1] @ W_x + h @ W_h).tanh()
            loss = h.sum()
            return [loss, *s.gradients(loss, [W_x, W_h])]

        fn = s.function(py_fn, optimize=optimize)
        return _per_sample(lambda xs: fn(xs, self.h0, *self.weights()), fn), _fn_stats(fn)

    def _scan_graph(self, s, optimize):
        with s.Graph():
            xs = s.placeholder((None, self.W_x.shape[0]), self.dtype, name="xs")
            h0 = s.placeholder(self.h0.shape, self.dtype, name="h0")
            W_x = s.placeholder(self.W_x.shape, self.dtype, name="W_x")
            W_h = s.placeholder(self.W_h.shape, self.dtype, name="W_h")
            hT, _ = s.scan(lambda h, x: ((x.reshape((1, -1)) @ W_x + h @ W_h).tanh(), h.sum()), h0, xs)
            loss = hT.sum()
            return s.compile([loss, *s.gradients(loss, [W_x, W_h])], inputs=[xs, h0, W_x, W_h], optimize=optimize)

    def control(self, optimize=True):
        fn = self._scan_graph(fe.sg, optimize)
        return _per_sample(lambda xs: fn(xs, self.h0, *self.weights()), None), {"traces": 1, "compiles": 1}

    def fold(self, optimize=True):
        """All sequences of a batch step by step together: time-major, padded, and a mask
        keeping each sample's state once its sequence ended (one graph for every batch)."""
        s = fe.sg
        with s.Graph():
            X = s.placeholder((None, None, self.W_x.shape[0]), self.dtype, name="X")      # (T, B, I)
            M = s.placeholder((None, None, 1), "bool", name="mask")                       # (T, B, 1)
            H0 = s.placeholder((None, self.h0.shape[1]), self.dtype, name="H0")           # (B, H)
            W_x = s.placeholder(self.W_x.shape, self.dtype, name="W_x")
            W_h = s.placeholder(self.W_h.shape, self.dtype, name="W_h")

            def step(h, xm):
                x, m = xm
                return s.where(m, (x @ W_x + h @ W_h).tanh(), h), h.sum()

            hT, _ = s.scan(step, H0, (X, M))
            loss = hT.sum()
            fn = s.compile([loss, *s.gradients(loss, [W_x, W_h])], inputs=[X, M, H0, W_x, W_h], optimize=optimize)

        def batch(items):
            T = max(x.shape[0] for x in items)
            X_ = np.zeros((T, len(items), self.W_x.shape[0]), self.dtype)
            M_ = np.zeros((T, len(items), 1), bool)
            for k, x in enumerate(items):
                X_[:x.shape[0], k] = x
                M_[:x.shape[0], k] = True
            loss, *grads = fn(X_, M_, np.zeros((len(items), self.h0.shape[1]), self.dtype), *self.weights())
            return float(loss), grads

        return batch, {"traces": 1, "compiles": 1}


# --------------------------------------------------------------------------- trees


def schedule(tree, n_leaves: int):
    """Post-order inner nodes as (left row, right row): rows 0..n-1 are the leaves, inner
    node j is row n + j; returns (lefts, rights, root row)."""
    lefts, rights = [], []
    stack, rows = [(tree, False)], {}
    while stack:
        t, done = stack.pop()
        if isinstance(t, int):
            rows[id(t), t] = t
            continue
        if not done:
            stack += [(t, True), (t[1], False), (t[0], False)]
            continue
        lefts.append(_row(rows, t[0]))
        rights.append(_row(rows, t[1]))
        rows[id(t), None] = n_leaves + len(lefts) - 1
    return np.array(lefts, np.int64), np.array(rights, np.int64), n_leaves + len(lefts) - 1


def _row(rows, t):
    return rows[id(t), t] if isinstance(t, int) else rows[id(t), None]


def depths(tree) -> dict:
    """Height of every inner node (leaves 0), by id."""
    out = {}

    def h(t):
        if isinstance(t, int):
            return 0
        out[id(t)] = 1 + max(h(t[0]), h(t[1]))
        return out[id(t)]

    h(tree)
    return out


class Trees:
    """``count`` random trees (3..7 leaves, width 16) and the TreeRNN's weights."""

    def __init__(self, count=256, leaves=(3, 7), d=16, seed=0, dtype="float32"):
        r = np.random.default_rng(seed)
        self.d, self.dtype = d, dtype
        self.W = (r.standard_normal((2 * d, d)) / np.sqrt(2 * d)).astype(dtype)
        self.b = np.zeros((1, d), dtype)
        self.items = []
        for _ in range(count):
            tree, n = random_tree(r, *leaves)
            self.items.append((tree, r.standard_normal((n, d)).astype(dtype)))
        self.size = {"count": count, "leaves": f"uniform {leaves[0]}..{leaves[1]}, random shapes", "d": d}

    def weights(self):
        return [self.W, self.b]

    @staticmethod
    def model(F, tree, leaves, W, b):
        def rec(t):
            if isinstance(t, int):
                return leaves[t:t + 1]
            return (F.concatenate([rec(t[0]), rec(t[1])], axis=1) @ W + b).tanh()

        return rec(tree).sum()

    def dyngraph(self):
        dg = fe.dg
        W = [dg.tensor(w.copy(), requires_grad=True) for w in self.weights()]

        def batch(items):
            total, grads = 0.0, None
            for tree, xs in items:
                loss = self.model(dg, tree, dg.tensor(xs), *W)
                gs = dg.grad(loss, W)
                total += loss.item()
                grads = [g.numpy() for g in gs] if grads is None else [a + g.numpy() for a, g in zip(grads, gs)]
            return total, grads

        return batch, {"traces": 0, "compiles": 0}

    def retrace(self, optimize=True):
        s = fe.sg
        trees: list = []

        def py_fn(tid, leaves, W, b):
            loss = self.model(s, trees[tid], leaves, W, b)
            return [loss, *s.gradients(loss, [W, b])]

        fn = s.function(py_fn, optimize=optimize)
        ids: dict = {}

        def one(item):
            tree, xs = item
            tid = ids.setdefault(repr(tree), len(trees))
            if tid == len(trees):
                trees.append(tree)
            return fn(tid, xs, *self.weights())

        return _per_sample(one, fn), _fn_stats(fn)

    def control(self, optimize=True):
        """One graph for every tree: a while_loop over the node schedule; row n + j of a
        table holds inner node j (added by a scatter of one row)."""
        s = fe.sg
        d = self.d
        with s.Graph():
            X = s.placeholder((None, d), self.dtype, name="leaves")
            Z = s.placeholder((None, d), self.dtype, name="inner_rows")   # zeros, one row per inner node
            L = s.placeholder((None,), "int64", name="lefts")
            R = s.placeholder((None,), "int64", name="rights")
            n = s.placeholder((), "int64", name="n_inner")
            root = s.placeholder((1,), "int64", name="root")
            first = s.placeholder((), "int64", name="n_leaves")  # the first inner node's row
            W, b = s.placeholder((2 * d, d), self.dtype, name="W"), s.placeholder((1, d), self.dtype, name="b")
            table = s.concatenate([X, Z], axis=0)

            def body(j, T):
                jj = j.reshape((1,))
                h = (s.concatenate([T[L[jj]], T[R[jj]]], axis=1) @ W + b).tanh()
                return j + 1, T + _scatter_rows(h, jj + first, T)

            _, T = s.while_loop(lambda j, T: j < n, body, (s.constant(np.array(0, np.int64)), table))
            loss = T[root].sum()
            fn = s.compile([loss, *s.gradients(loss, [W, b])], inputs=[X, Z, L, R, n, root, first, W, b],
                           optimize=optimize)

        def one(item):
            tree, xs = item
            lefts, rights, r = schedule(tree, xs.shape[0])
            return fn(xs, np.zeros((len(lefts), d), self.dtype), lefts, rights, np.int64(len(lefts)),
                      np.array([r], np.int64), np.int64(xs.shape[0]), *self.weights())

        return _per_sample(one, None), {"traces": 1, "compiles": 1}

    def fold(self, optimize=True):
        """TensorFlow Fold's dynamic batching: every tree of the batch in one table of rows;
        depth by depth, the nodes of that height in every tree are one batched op (gather the
        children's rows, concatenate, matmul, scatter the results to their rows)."""
        s = fe.sg
        d = self.d
        with s.Graph():
            T0 = s.placeholder((None, d), self.dtype, name="table")      # leaves, then zeros
            L = s.placeholder((None, None), "int64", name="lefts")       # (depths, widest depth)
            R = s.placeholder((None, None), "int64", name="rights")
            O = s.placeholder((None, None), "int64", name="rows")        # where each result goes
            roots = s.placeholder((None,), "int64", name="roots")
            W, b = s.placeholder((2 * d, d), self.dtype, name="W"), s.placeholder((1, d), self.dtype, name="b")

            def level(T, lro):
                l, r, o = lro
                h = (s.concatenate([T[l], T[r]], axis=1) @ W + b).tanh()
                return T + _scatter_rows(h, o, T), h.sum()

            T, _ = s.scan(level, T0, (L, R, O))
            loss = T[roots].sum()
            fn = s.compile([loss, *s.gradients(loss, [W, b])], inputs=[T0, L, R, O, roots, W, b], optimize=optimize)

        def batch(items):
            args = fold_schedule(items, d, self.dtype)
            loss, *grads = fn(*args, *self.weights())
            return float(loss), grads

        return batch, {"traces": 1, "compiles": 1}


def _scatter_rows(h, rows, like):
    """Zeros shaped like ``like`` with the rows of ``h`` added at ``rows`` (a padded row
    repeats the dummy last row: its sum is never read)."""
    index = (("a",),)
    return h._op("index_scatter", h, rows, index=index, shape=like.shape)


def fold_schedule(items, d: int, dtype):
    """Rows and per-depth index matrices for a batch of trees (padding points at a dummy row)."""
    leaf_rows, roots = [], []
    base = sum(xs.shape[0] for _, xs in items)
    offset, next_row = 0, base
    by_depth: dict = {}
    for tree, xs in items:
        n = xs.shape[0]
        leaf_rows.append(xs)
        lefts, rights, root = schedule(tree, n)
        h = depths(tree)
        order = _post_order(tree)
        local = {n + j: next_row + j for j in range(len(order))}
        row = {**{x: offset + x for x in range(n)}, **local}  # a tree's rows in the batch's table
        for j, t in enumerate(order):
            by_depth.setdefault(h[id(t)], []).append((row[int(lefts[j])], row[int(rights[j])], local[n + j]))
        roots.append(local[root] if root >= n else offset + root)
        offset += n
        next_row += len(order)
    depth_list = [by_depth[k] for k in sorted(by_depth)]
    width = max(len(v) for v in depth_list)
    dummy = next_row
    L = np.full((len(depth_list), width), dummy, np.int64)
    R, O = L.copy(), L.copy()
    for k, nodes in enumerate(depth_list):
        for j, (l, r, o) in enumerate(nodes):
            L[k, j], R[k, j], O[k, j] = l, r, o
    table = np.zeros((dummy + 1, d), dtype)
    table[:base] = np.concatenate(leaf_rows, axis=0)
    return table, L, R, O, np.array(roots, np.int64)


def _post_order(tree) -> list:
    out, stack = [], [(tree, False)]
    while stack:
        t, done = stack.pop()
        if isinstance(t, int):
            continue
        if done:
            out.append(t)
        else:
            stack += [(t, True), (t[1], False), (t[0], False)]
    return out


def _per_sample(run_one, fn):
    def batch(items):
        total, grads = 0.0, None
        for item in items:
            loss, *gs = run_one(item)
            total += float(loss)
            grads = list(gs) if grads is None else [a + g for a, g in zip(grads, gs)]
        return total, grads

    return batch


def _fn_stats(fn):
    class Live(dict):
        def __getitem__(self, key):
            return {"traces": fn.trace_count, "compiles": fn.compile_count}[key]

        def to_dict(self):
            return {"traces": fn.trace_count, "compiles": fn.compile_count}

    return Live(traces=0, compiles=0)


WAYS = ("dyngraph", "retrace", "control", "fold")
MODELS = {"sequences": Sequences, "trees": Trees}

__all__ = ["Sequences", "Trees", "WAYS", "MODELS", "LENGTHS", "schedule", "fold_schedule"]
