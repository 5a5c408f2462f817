"""staticgraph: define-then-run graphs (TensorFlow 1.x / Theano style)."""

from shared_ops.surface import FUNCTIONS as _F

from .graph import (
    Graph, GraphError, Node, TracingError, constant, get_default_graph, placeholder,
    reset_default_graph, variable,
)

globals().update(_F)
