"""Fused elementwise kernels for the CuPy backend: one ``cupy.ElementwiseKernel`` a region.

The same ``KernelSpec`` as the CPU generator (``shared_ops.fusion_cpu``): each op's
``scalar_expr`` (Python syntax) is translated to a CUDA C expression through Python's ``ast``
(``a if c else b`` -> ``(c ? a : b)``, ``x ** y`` -> ``pow(x, y)``, ``max`` -> ``max``), each
step cast to its dtype. CuPy broadcasts the inputs; an input whose index map is not plain
NumPy broadcasting (the fusion pass folded an ``expand_dims``/``transpose`` into it) is passed
as the equivalent view (``loop_view``: no copy). A reduction output is written as a full
elementwise output and then summed by CuPy (honest limit: ``ElementwiseKernel`` cannot
reduce; a ``ReductionKernel`` epilogue would fuse it). CuPy compiles each kernel once per
dtype signature and caches it on disk; this module caches the kernel object by spec.

Not run in this repository's CI (no GPU): the tests check the generated code as text.
"""

from __future__ import annotations

import ast
import re

from .fusion_cpu import KernelSpec, loop_view
from .registry import REGISTRY

CTYPE = {"float16": "float16", "float32": "float", "float64": "double", "bool": "bool", "int8": "signed char",
         "int16": "short", "int32": "int", "int64": "long long", "uint8": "unsigned char", "uint16": "unsigned short",
         "uint32": "unsigned int", "uint64": "unsigned long long"}
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.BitOr: "|", ast.BitAnd: "&", ast.Mod: "%"}
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_FUNCS = {"exp": "exp", "log": "log", "tanh": "tanh", "sqrt": "sqrt", "abs": "abs", "max": "max", "min": "min",
          "log1p": "log1p", "expm1": "expm1", "floor": "floor"}
_PREFIX = re.compile(r"\b(?:math|np|numpy|xp)\.")


def to_c(expr: str) -> str:
    """A Python scalar expression (``scalar_expr``'s syntax) as CUDA C."""

    def c(n) -> str:
        if isinstance(n, ast.Expression):
            return c(n.body)
        if isinstance(n, ast.Name):
            return n.id
        if isinstance(n, ast.Constant):
            if isinstance(n.value, bool):
                return "true" if n.value else "false"
            return repr(float(n.value)) if isinstance(n.value, float) else str(n.value)
        if isinstance(n, ast.BinOp):
            if isinstance(n.op, ast.Pow):
                return f"pow({c(n.left)}, {c(n.right)})"
            return f"({c(n.left)} {_OPS[type(n.op)]} {c(n.right)})"
        if isinstance(n, ast.UnaryOp):
            return f"({'-' if isinstance(n.op, ast.USub) else '!' if isinstance(n.op, ast.Not) else '+'}{c(n.operand)})"
        if isinstance(n, ast.Compare) and len(n.ops) == 1:
            return f"({c(n.left)} {_CMP[type(n.ops[0])]} {c(n.comparators[0])})"
        if isinstance(n, ast.IfExp):
            return f"({c(n.test)} ? {c(n.body)} : {c(n.orelse)})"
        if isinstance(n, ast.BoolOp):
            j = " && " if isinstance(n.op, ast.And) else " || "
            return "(" + j.join(c(v) for v in n.values) + ")"
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in _FUNCS:
            return f"{_FUNCS[n.func.id]}({', '.join(c(a) for a in n.args)})"
        raise ValueError(f"cannot translate {ast.unparse(n)!r} to CUDA C")

    return c(ast.parse(_PREFIX.sub("", expr), mode="eval"))


def generate(spec: KernelSpec, name: str = "gc_fused") -> tuple[str, str, str, str]:
    """``(in_params, out_params, operation, name)`` for ``cupy.ElementwiseKernel``."""
    n_in = len(spec.inputs)
    in_params = ", ".join(f"{CTYPE[dt]} v{j}" for j, (dt, _) in enumerate(spec.inputs))
    out_params = ", ".join(f"{CTYPE[o.dtype if not o.reduce else _value_dtype(spec, o.value)]} out{k}"
                           for k, o in enumerate(spec.outputs))
    body = []
    for s, st in enumerate(spec.steps):
        args = [f"v{a}" for a in st.args]
        if st.op in ("copy", "broadcast_to"):
            expr = args[0]
        else:
            expr = to_c(REGISTRY.get(st.op).scalar_expr(*args, **dict(st.attrs)))
        t = CTYPE[st.dtype]
        body.append(f"{t} v{n_in + s} = ({t})({expr});")
    body += [f"out{k} = v{o.value};" for k, o in enumerate(spec.outputs)]
    return in_params, out_params, "\n".join(body), name


def _value_dtype(spec: KernelSpec, v: int) -> str:
    n_in = len(spec.inputs)
    return spec.inputs[v][0] if v < n_in else spec.steps[v - n_in].dtype


def compile_kernel(spec: KernelSpec):
    """``run(xp, arrays, shape) -> outputs`` (reductions in keepdims layout)."""
    import cupy

    kern = cupy.ElementwiseKernel(*generate(spec))
    nd = spec.ndim

    def run(xp, arrays, shape):
        views = [loop_view(xp, a, dims, nd) for a, (_, dims) in zip(arrays, spec.inputs)]
        outs = [xp.empty(shape, dtype=o.dtype if not o.reduce else _value_dtype(spec, o.value)) for o in spec.outputs]
        kern(*views, *outs)
        return [xp.sum(a, axis=o.reduce, keepdims=True, dtype=o.dtype) if o.reduce else a
                for a, o in zip(outs, spec.outputs)]

    return run


__all__ = ["generate", "to_c", "compile_kernel", "CTYPE"]
