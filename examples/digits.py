"""Train an MLP or a small CNN on scikit-learn's 8x8 digits, in dyngraph or staticgraph.

The data ship inside scikit-learn (``pip install graphcompare[examples]``; nothing is
downloaded): 1,797 images, split 80/20 with a fixed seed. The model code is one definition
for both front ends (``dg.nn`` and ``sg.nn`` are the same classes)::

    python examples/digits.py --model mlp --frontend dyngraph
    python examples/digits.py --model cnn --frontend staticgraph --epochs 8

Stated test accuracies (seed 0, float32, Adam 1e-2), checked by tests/examples: MLP >= 0.95 after 8
epochs, CNN >= 0.95 after 5.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def load(seed: int = 0):
    """(x_train, y_train, x_test, y_test): pixels scaled to [0, 1], float32; labels int64."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype("float32")
    y = d.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    tr, te = order[:cut], order[cut:]
    return x[tr], y[tr], x[te], y[te]


def mlp(nn):
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def cnn(nn):
    """(N, 64) pixels -> (N, 1, 8, 8) -> two 3x3 convolutions with 2x2 max pooling -> 10 scores."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            )
            self.head = nn.Linear(16 * 2 * 2, 10)

        def forward(self, x):
            h = self.features(x.reshape(-1, 1, 8, 8))
            return self.head(h.reshape(-1, 16 * 2 * 2))

    return Net()


MODELS = {"mlp": mlp, "cnn": cnn}


def _batches(n, batch, rng):
    order = rng.permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def train_dyngraph(model_fn, data, epochs=15, lr=1e-2, batch=64, seed=0):
    """Adam on mini-batches; returns (model, test accuracy, seconds)."""
    import dyngraph as dg

    x_tr, y_tr, x_te, y_te = data
    dg.manual_seed(seed)
    model = model_fn(dg.nn)
    opt = dg.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        for idx in _batches(len(x_tr), batch, rng):
            opt.zero_grad()
            loss = dg.nn.functional.cross_entropy(model(dg.tensor(x_tr[idx])), dg.tensor(y_tr[idx]))
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    model.eval()
    with dg.no_grad():
        pred = model(dg.tensor(x_te)).numpy().argmax(axis=1)
    return model, float((pred == y_te).mean()), seconds


def train_staticgraph(model_fn, data, epochs=15, lr=1e-2, batch=64, seed=0, optimize=True):
    """The same model declared once, trained by running its train op per mini-batch."""
    import staticgraph as sg

    x_tr, y_tr, x_te, y_te = data
    sg.nn.manual_seed(seed)
    with sg.Graph() as g:
        model = model_fn(sg.nn)
        x = sg.placeholder((None, 64), "float32")
        y = sg.placeholder((None,), "int64")
        logits = model(x)
        loss = sg.nn.functional.cross_entropy(logits, y)
        train = sg.train.AdamOptimizer(lr).minimize(loss)
    sess = sg.Session(g, optimize=optimize)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        for idx in _batches(len(x_tr), batch, rng):
            sess.run(train, {x: x_tr[idx], y: y_tr[idx]})
    seconds = time.perf_counter() - start
    pred = sess.run(logits, {x: x_te}).argmax(axis=1)
    return sess, float((pred == y_te).mean()), seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=sorted(MODELS), default="mlp")
    p.add_argument("--frontend", choices=("dyngraph", "staticgraph"), default="dyngraph")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    data = load(args.seed)
    run = train_dyngraph if args.frontend == "dyngraph" else train_staticgraph
    _, acc, seconds = run(MODELS[args.model], data, epochs=args.epochs, seed=args.seed)
    print(f"{args.model} on {args.frontend}: test accuracy {acc:.3f} after {args.epochs} epochs ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
