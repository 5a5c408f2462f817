"""``nn`` written once on the shared surface: ``dg.nn`` and ``sg.nn`` are this package.

Modules (``Module``, ``Parameter``, ``Sequential``, ``ModuleList``, ``Linear``, ``Conv2d``,
``Embedding``, ``LayerNorm``, ``Dropout``, activations, pooling, ``RNNCell``, ``LSTMCell``,
``MultiheadAttention``) and ``functional``. Parameters belong to the front end that is current
when a module is built (``frontend``): dyngraph tensors, or staticgraph variables of the graph
being declared.
"""

from . import functional, init
from .frontend import FrontEnd, current, register_front_end
from .layers import (
    GELU, AvgPool2d, Conv2d, Dropout, Embedding, Flatten, LayerNorm, Linear, MaxPool2d, ReLU, Sigmoid, SiLU, Tanh,
)
from .containers import ModuleList, Sequential
from .module import IncompatibleKeys, Module, Parameter
from .recurrent import LSTMCell, MultiheadAttention, RNNCell

__all__ = [
    "functional", "init", "FrontEnd", "current", "register_front_end", "Module", "Parameter", "Sequential",
    "ModuleList", "IncompatibleKeys", "Linear", "Conv2d", "Embedding", "LayerNorm", "Dropout", "ReLU", "Tanh",
    "Sigmoid", "SiLU", "GELU", "Flatten", "MaxPool2d", "AvgPool2d", "RNNCell", "LSTMCell", "MultiheadAttention",
]
