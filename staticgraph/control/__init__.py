"""Control flow in the static graph: ``cond``, ``while_loop``, ``scan`` (see ``declare``),
their gradients (``grad``) and how a compiled function runs them (``kernels``)."""

from .declare import GET, KINDS, ControlFlow, cond, get, scan, while_loop
from .grad import ADD_TERMS, GRAD_KINDS, Cot, backprop, differentiable, sum_terms

CONTROL_OPS = KINDS + GRAD_KINDS + (ADD_TERMS,)  # nodes whose payload is not a registry op

__all__ = ["cond", "while_loop", "scan", "ControlFlow", "GET", "KINDS", "GRAD_KINDS", "ADD_TERMS",
           "CONTROL_OPS", "Cot", "backprop", "differentiable", "sum_terms", "get"]
