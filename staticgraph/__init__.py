"""staticgraph: define-then-run graphs (TensorFlow 1.x / Theano style).

Declare (``with sg.Graph():``, ``placeholder``, ``variable``, ``constant``, the shared tensor
surface, ``assign``), differentiate (``gradients``), compile (``compile`` -> a callable;
``Session``; ``function``), inspect (``text``, ``report``, ``to_networkx``, ``to_dot``) and
store (``save`` / ``load``).
"""

from shared_ops.surface import FUNCTIONS as _F

from .compile import CompiledFunction, FeedError, compile
from .gradients import SymbolicOps, gradients
from .graph import (
    Graph, GraphError, Node, SymShape, TracingError, assign, assign_add, assign_sub, constant,
    get_default_graph, placeholder, reset_default_graph, variable,
)
from .program import PassContext, PassResult, PNode, Program

globals().update(_F)

try:  # these modules land in later commits of this package
    from .session import Session
    from .function import function
    from .export import to_dot, to_networkx
    from .serialize import LoadError, load, save
except ImportError as _exc:  # pragma: no cover
    if "staticgraph." not in str(_exc):
        raise
