"""staticgraph: define-then-run graphs (TensorFlow 1.x / Theano style).

Declare (``with sg.Graph():``, ``placeholder``, ``variable``, ``constant``, the shared tensor
surface, ``assign`` / ``assign_sub``), differentiate (``gradients``), compile (``compile`` -> a
callable; ``Session``; ``function``), inspect (``Graph.text``, ``fn.text``, ``fn.report``,
``to_networkx``, ``to_dot``) and store (``save`` / ``load``).
"""

from shared_ops.functions import FUNCTIONS as _F

from .compile import CompiledFunction, FeedError, compile
from .control import cond, scan, while_loop
from .creation import arange
from .export import to_dot, to_networkx
from .function import Function, function
from .gradients import SymbolicOps, gradients
from .graph import Graph, GraphError, Node, SymShape, TracingError, get_default_graph, reset_default_graph
from .sources import constant, placeholder, variable
from .updates import assign, assign_add, assign_sub
from .program import PassContext, PassResult, PNode, Program
from .serialize import LoadError, load, save
from .session import Session
from . import nn, train  # noqa: E402  (models: the shared modules and TF1's optimisers)

globals().update(_F)  # where, maximum, minimum, concatenate, stack, softmax_cross_entropy, ...

__all__ = [
    "Graph", "Node", "SymShape", "placeholder", "variable", "constant", "assign", "assign_sub",
    "assign_add", "get_default_graph", "reset_default_graph", "gradients", "SymbolicOps",
    "compile", "CompiledFunction", "Session", "function", "Function", "to_networkx", "to_dot",
    "save", "load", "Program", "PNode", "PassContext", "PassResult", "TracingError", "GraphError",
    "FeedError", "LoadError", "cond", "while_loop", "scan", "nn", "train", "arange", *sorted(_F),
]
