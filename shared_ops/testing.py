"""Public testing helpers: check an op (yours or ours) the way the library checks its own.

- ``numerical_vjp`` / ``numerical_gradient`` / ``check_gradient`` / ``check_directional``:
  central differences in float64 (from ``shared_ops.numerical``, the project's one checker).
- ``check_vjp``: an op's gradient rule against finite differences, by random projection.
- ``check_infer``: an op's ``infer`` against what its ``forward`` really returns.
- ``check_traits``: the traits declared on an op against what its kernel does (aliasing,
  ``commutative``, ``reduction``, ``forward_into``).
- ``check_op``: all of the above over an op's examples, in float32 and float64.
- ``example_inputs`` / ``example`` (from ``shared_ops.examples``): per-op example inputs (domains chosen so that finite
  differences are meaningful: ``log``/``sqrt`` positive, no ties at kinks).

A user's op is tested in three lines::

    >>> import numpy as np
    >>> from shared_ops import Registry, REGISTRY, Spec
    >>> from shared_ops.testing import check_vjp, check_infer
    >>> reg = Registry(parent=REGISTRY)
    >>> cube = reg.register("cube", forward=lambda xp, x: x * x * x,
    ...                     infer=lambda x: Spec(x.shape, x.dtype),
    ...                     vjp=lambda ops, g, inputs, out: (ops.mul(g, ops.mul(3.0, ops.mul(inputs[0], inputs[0]))),))
    >>> x = np.linspace(-1.0, 1.0, 5)
    >>> check_infer(cube, (x,))
    Spec(shape=(5,), dtype='float64')
    >>> check_vjp(cube, (x,), registry=reg)  # raises AssertionError on a wrong rule
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .backend import Backend, get_backend
from .dtypes import FLOATING, dtype_name
from .examples import EXAMPLES, Case, example, example_inputs
from .interp import ArrayOps, ShapeOnly
from .numerical import central_difference, check_directional, check_gradient, numerical_gradient, numerical_vjp
from .ops import _examples, _examples_nn, _examples_views  # noqa: F401  (fill EXAMPLES for the library's own ops)
from .registry import REGISTRY, OpDef, Registry, Spec

__all__ = [
    "numerical_vjp", "numerical_gradient", "check_gradient", "check_directional", "check_vjp", "check_infer", "check_traits", "check_op", "run_vjp", "example", "example_inputs",
    "EXAMPLES", "Case",
]


def _op(op: OpDef | str, registry: Registry) -> OpDef:
    return registry.get(op) if isinstance(op, str) else op


def _f64(x):
    x = np.asarray(x)
    return x.astype(np.float64) if x.dtype.kind == "f" else x


# --------------------------------------------------------------------------- op checks


def _stand_in(x, keep: bool):
    return x if keep else ShapeOnly(tuple(x.shape), x.dtype)


def run_vjp(op: OpDef | str, inputs, attrs=None, cotangent=None, *, registry: Registry = REGISTRY,
            backend: Backend | str | None = None, needs_input_grad=None) -> tuple:
    """Run ``op``'s forward then its rule on arrays, as dyngraph's ``backward()`` would.

    Inputs the op does not declare as saved reach the rule as shape-only stand-ins (so a rule
    that reads an unsaved value fails here, not in a front end); with ``needs_input_grad``, only
    what the gradients of those inputs read is kept (``OpDef.saved_for``, as dyngraph records).

    Args:
        op: the op or its name.
        inputs: its input arrays.
        attrs: its attributes.
        cotangent: the output's gradient (default: the output itself).
        registry: where an op name is looked up.
        backend: where to run (default: the default backend).
        needs_input_grad: which inputs want a gradient (default: all).

    Returns:
        ``(output, grads)``, one gradient (or ``None``) per input.

    Raises:
        AssertionError: the rule does not return a tuple of one entry per input.

    Examples:
        >>> from shared_ops.testing import run_vjp
        >>> out, (g,) = run_vjp("exp", (np.array([0.0, 1.0]),), cotangent=np.array([1.0, 2.0]))
        >>> np.round(g, 4)  # g * exp(x)
        array([1.    , 5.4366])
    """
    op = _op(op, registry)
    b = get_backend(backend)
    attrs = op.bind_attrs(dict(attrs or {}))
    xs = [b.asarray(x) for x in inputs]
    out = op.forward(b.xp, *xs, **attrs)
    g = out if cotangent is None else b.asarray(cotangent)
    ns = ArrayOps(b, registry)
    if needs_input_grad is not None:
        ns.needs_input_grad = needs_input_grad
    keep, keep_out = op.saved_for(ns.needs_input_grad if needs_input_grad is not None else (True,) * len(xs))
    grads = op.vjp(ns, g, tuple(_stand_in(x, i in keep) for i, x in enumerate(xs)), _stand_in(out, keep_out), **attrs)
    if not isinstance(grads, tuple) or len(grads) != len(xs):
        raise AssertionError(f"{op.name}: the vjp must return a tuple of {len(xs)} entries, got {grads!r}")
    return out, grads


def check_vjp(op: OpDef | str, inputs, attrs=None, *, registry: Registry = REGISTRY, backend=None,
              eps: float = 1e-6, rtol: float = 1e-6, seed: int = 0) -> None:
    """Check ``op``'s gradient rule against central differences, by random projection.

    For a random cotangent ``u`` and, per differentiable input ``i``, a random direction ``v``,
    compares ``<vjp(u)_i, v>`` with ``d/dt <u, op(x_i + t v)>`` at 0 (central differences in
    float64). Also checks that each gradient has its input's shape and dtype. Raises
    ``AssertionError`` naming the op, the input and both numbers.

    Args:
        op: the op or its name.
        inputs: the point, one array per input (compared in float64).
        attrs: the op's attributes.
        registry: where an op name (and every ``ops.<name>`` of its rule) is looked up.
        backend: where to run the op.
        eps: the finite-difference step.
        rtol: the relative tolerance.
        seed: the cotangent's and directions' seed.

    Raises:
        AssertionError: the op has no gradient rule, a gradient has the wrong shape or dtype,
            or a projection disagrees with finite differences.

    Examples:
        >>> from shared_ops.testing import check_vjp
        >>> check_vjp("tanh", (np.array([0.1, -0.7, 2.0]),))
        >>> check_vjp("eq", (np.ones(2), np.ones(2)))
        Traceback (most recent call last):
        ...
        AssertionError: eq: has no vjp (declared non-differentiable); nothing to check
    """
    op = _op(op, registry)
    if op.vjp is None:
        raise AssertionError(f"{op.name}: has no vjp (declared non-differentiable); nothing to check")
    b = get_backend(backend)
    attrs = op.bind_attrs(dict(attrs or {}))
    rng = np.random.default_rng(seed)
    xs = [_f64(b.to_numpy(x) if b.is_array(x) else x) for x in inputs]

    def f(*arrays):
        return b.to_numpy(op.forward(b.xp, *(b.asarray(a) for a in arrays), **attrs)).astype(np.float64)

    out = f(*xs)
    u = rng.standard_normal(out.shape)
    _, grads = run_vjp(op, xs, attrs, u, registry=registry, backend=b)
    for i, x in enumerate(xs):
        if x.dtype.kind != "f" or i in op.nondiff:
            continue
        gi = grads[i]
        if gi is None:
            gi = np.zeros_like(x)
        else:
            if tuple(gi.shape) != x.shape or dtype_name(gi.dtype) != dtype_name(x.dtype):
                raise AssertionError(
                    f"{op.name}: gradient {i} has shape {tuple(gi.shape)} {dtype_name(gi.dtype)}, "
                    f"but input {i} is {x.shape} {x.dtype.name}"
                )
            gi = b.to_numpy(gi).astype(np.float64)
        v = rng.standard_normal(x.shape)

        def phi(t):
            moved = list(xs)
            moved[i] = x + t * v
            return float(np.sum(u * f(*moved)))

        numeric = central_difference(phi, eps)
        analytic = float(np.sum(gi * v))
        scale = 1.0 + abs(numeric) + float(np.sum(np.abs(gi * v))) + float(np.sum(np.abs(u * out)))
        if not abs(numeric - analytic) <= rtol * scale:
            raise AssertionError(
                f"{op.name}: the vjp of input {i} disagrees with finite differences "
                f"(random projection {analytic!r} vs numerical {numeric!r}, attrs {attrs})"
            )


def check_infer(op: OpDef | str, inputs, attrs=None, *, registry: Registry = REGISTRY, backend=None,
                free: tuple = ()) -> Spec:
    """Check that ``infer`` predicts the shape and dtype ``forward`` returns; return the spec.

    ``free`` lists ``(input, axis)`` pairs to declare as free (``None``) dimensions: ``infer``
    must then give ``None`` or the true size for every output dimension.

    Args:
        op: the op or its name.
        inputs: its input arrays.
        attrs: its attributes.
        registry: where an op name is looked up.
        backend: where to run ``forward``.
        free: ``(input, axis)`` pairs declared free.

    Returns:
        The ``Spec`` that ``infer`` gave.

    Raises:
        AssertionError: ``infer`` and ``forward`` disagree on the shape or the dtype.

    Examples:
        >>> from shared_ops.testing import check_infer
        >>> check_infer("matmul", (np.ones((2, 3)), np.ones((3, 4))))
        Spec(shape=(2, 4), dtype='float64')
        >>> check_infer("matmul", (np.ones((2, 3)), np.ones((3, 4))), free=((0, 0),))
        Spec(shape=(None, 4), dtype='float64')
    """
    op = _op(op, registry)
    b = get_backend(backend)
    attrs = op.bind_attrs(dict(attrs or {}))
    xs = [b.asarray(x) for x in inputs]
    specs = [Spec(tuple(x.shape), dtype_name(x.dtype)) for x in xs]
    for i, axis in free:
        shape = list(specs[i].shape)
        shape[axis] = None
        specs[i] = Spec(tuple(shape), specs[i].dtype)
    spec = op.infer(*specs, **attrs)
    out = op.forward(b.xp, *xs, **attrs)
    real = tuple(out.shape)
    ok = len(spec.shape) == len(real) and all(s is None and free or s == r for s, r in zip(spec.shape, real))
    if not ok or spec.dtype != dtype_name(out.dtype):
        raise AssertionError(
            f"{op.name}: infer says {spec.shape} {spec.dtype} but forward returns {real} "
            f"{dtype_name(out.dtype)} (inputs {[s.shape for s in specs]}, attrs {attrs})"
        )
    return spec


def check_traits(op: OpDef | str, inputs, attrs=None, *, registry: Registry = REGISTRY) -> None:
    """The traits ``op`` declares against what its NumPy kernel does on ``inputs``.

    - an output that shares memory with input ``i`` needs ``i`` in ``may_alias`` (``view_of``
      for a view): a planner that does not know would reuse a buffer still being read;
    - ``commutative``: ``forward(a, b)`` and ``forward(b, a)`` are bitwise equal;
    - ``reduction``: one input, and no more output elements than input elements;
    - ``forward_into``: writing into a preallocated ``out`` gives ``forward``'s bytes.

    Args:
        op: the op or its name.
        inputs: its input arrays (NumPy).
        attrs: its attributes.
        registry: where an op name is looked up.

    Raises:
        AssertionError: a declared trait that the kernel contradicts (or an undeclared view).

    Examples:
        >>> from shared_ops.testing import check_traits
        >>> check_traits("reshape", (np.arange(6.0),), {"shape": (2, 3)})
    """
    op = _op(op, registry)
    attrs = op.bind_attrs(attrs or {})
    arrays = [np.asarray(x) for x in inputs]
    where = f"{op.name}, attrs {attrs}, shapes {[a.shape for a in arrays]}"
    out = op.forward(np, *arrays, **attrs)
    if isinstance(out, np.ndarray):
        for i, x in enumerate(arrays):
            if x.size and out.size and np.shares_memory(out, x) and i not in op.may_alias:
                raise AssertionError(
                    f"{where}: the output shares memory with input {i}, but the op declares "
                    f"view_of={op.view_of}, may_alias={op.may_alias}; declare view_of=({i},) (or "
                    f"may_alias) so that the memory planner and dyngraph's views know"
                )
    if op.commutative:
        if len(arrays) != 2:
            raise AssertionError(f"{where}: commutative=True needs exactly two inputs")
        swapped = op.forward(np, arrays[1], arrays[0], **attrs)
        if np.asarray(out).tobytes() != np.asarray(swapped).tobytes():
            raise AssertionError(f"{where}: declared commutative, but f(a, b) and f(b, a) differ")
    if op.reduction:
        if len([x for x in arrays if x.ndim or x.size]) < 1 or np.size(out) > arrays[0].size:
            raise AssertionError(f"{where}: declared a reduction, but the output has more elements than the input")
    if op.forward_into is not None:
        ref = np.asarray(out)
        buf = np.empty_like(ref)
        res = op.forward_into(np, *arrays, out=buf, **attrs) if attrs else op.forward_into(np, *arrays, out=buf)
        if res is not None and res is not buf and not np.shares_memory(res, buf):
            raise AssertionError(f"{where}: forward_into returned a new array instead of writing into out")
        if buf.dtype != ref.dtype or buf.tobytes() != ref.tobytes():
            raise AssertionError(f"{where}: forward_into's result is not bitwise equal to forward's")


def check_op(op: OpDef | str, seed: int = 0, *, registry: Registry = REGISTRY, backend=None,
             reference: Callable[..., Any] | None = None, dtypes=("float64", "float32")) -> None:
    """Every check the library runs on its own ops, for one op and one seed.

    For each example of ``op`` (``example_inputs``) in each of ``dtypes``: ``forward`` against
    ``reference`` (a NumPy function of the same inputs and attributes, when given), ``infer``
    against ``forward`` (also with one dimension declared free), float dtypes preserved, the
    VJP against finite differences (float64) and gradients in the inputs' dtypes.

    Args:
        op: the op or its name; it needs an example generator (``example``).
        seed: the examples' seed.
        registry: where an op name is looked up.
        backend: where to run the op.
        reference: a function computing the op's result from the same inputs and attributes.
        dtypes: the float dtypes to check in.

    Raises:
        AssertionError: ``forward`` differs from ``reference``, the output dtype is not the
            inputs', or a check of ``check_infer``/``check_traits``/``check_vjp`` fails.
        LookupError: the op has no example generator.

    Examples:
        >>> from shared_ops.testing import check_op
        >>> check_op("softmax", seed=3, reference=None)
        >>> check_op("exp", reference=lambda x: np.exp(x) + 1e-3)
        Traceback (most recent call last):
        ...
        AssertionError: ...
    """
    op = _op(op, registry)
    rng = np.random.default_rng(seed)
    b = get_backend(backend)
    tol = {"float64": 1e-12, "float32": 2e-5, "float16": 2e-3}
    for dtype in dtypes:
        for inputs, attrs in example_inputs(op, rng, dtype):
            where = f"{op.name} on {b.name}, {dtype}, attrs {attrs}, shapes {[np.shape(x) for x in inputs]}"
            if reference is not None:
                out = b.to_numpy(op.forward(b.xp, *(b.asarray(x) for x in inputs), **op.bind_attrs(attrs)))
                ref = np.asarray(reference(*inputs, **attrs))
                if out.shape != ref.shape:
                    raise AssertionError(f"{where}: forward gives shape {out.shape}, the reference {ref.shape}")
                np.testing.assert_allclose(out, ref, rtol=tol[dtype], atol=tol[dtype], err_msg=where)
            spec = check_infer(op, inputs, attrs, registry=registry, backend=b)
            if b.name == "numpy":
                check_traits(op, inputs, attrs)
            dims = [(i, a) for i, x in enumerate(inputs) for a in range(np.ndim(x))]
            if dims:
                check_infer(op, inputs, attrs, registry=registry, backend=b, free=(dims[int(rng.integers(len(dims)))],))
            if spec.dtype in FLOATING and "dtype" not in attrs and spec.dtype != dtype:
                raise AssertionError(f"{where}: output dtype {spec.dtype}, expected {dtype}")
            if op.vjp is None:
                continue
            if dtype == "float64":
                check_vjp(op, inputs, attrs, registry=registry, backend=b, seed=seed)
            else:
                _, grads = run_vjp(op, inputs, attrs, registry=registry, backend=b)
                for x, gx in zip(inputs, grads):
                    if gx is not None and dtype_name(gx.dtype) != dtype_name(x.dtype):
                        raise AssertionError(f"{where}: gradient dtype {dtype_name(gx.dtype)}, input {x.dtype}")

