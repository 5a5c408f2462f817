"""The standard workloads. Each factory returns a ``Workload`` (see ``base``) of the given size."""

from .base import IMPLS, LABELS, Impl, SharedNS, TorchNS, Workload
from .chains import deep_chain, elementwise
from .models import lstm_lm, transformer
from .nets import cnn, mlp
from .seed import rnn_unrolled, seed_5x5, seed_mul, seed_rnn_cell
from .tree import TreeStream, random_tree, tree_model

FACTORIES = {
    "seed_mul": seed_mul,
    "seed_5x5": seed_5x5,
    "seed_rnn_cell": seed_rnn_cell,
    "rnn": rnn_unrolled,
    "mlp": mlp,
    "cnn": cnn,
    "elementwise": elementwise,
    "deep_chain": deep_chain,
    "lstm_lm": lstm_lm,
    "transformer": transformer,
}


def make(name: str, **size) -> Workload:
    """The workload ``name`` at ``size`` (its factory's keyword arguments)."""
    return FACTORIES[name](**size)


__all__ = ["IMPLS", "LABELS", "Impl", "SharedNS", "TorchNS", "Workload", "FACTORIES", "make", "TreeStream",
           "random_tree", "tree_model", "deep_chain", "elementwise", "cnn", "mlp", "rnn_unrolled", "seed_5x5",
           "seed_mul", "seed_rnn_cell", "lstm_lm", "transformer"]
