"""The compiled op caller of the array interpreter (``dyngraph/_cops.c``, ``OpCall``) against its
Python twin (``interpreters._py_call``): the same calls give the same bits, the same dtypes and
the same errors."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest

import dyngraph as dg
from dyngraph import _accel, interpreters
from shared_ops import instrument

OpCall = interpreters._COPS.OpCall if interpreters._COPS is not None else None
compiled_only = pytest.mark.skipif(OpCall is None, reason="dyngraph._cops is not built here (or DYNGRAPH_PURE=1)")


def _both(name):
    ops = interpreters.eager_ops(dg.tensor(1.0)._be)
    op = ops.registry.get(name)
    args = (name, op, ops.xp, ops._lift_scalars, ops._scalar)
    return OpCall(*args), interpreters._py_call(*args)


def _result(f, *args, **attrs):
    try:
        r = f(*args, **attrs)
    except Exception as e:  # noqa: BLE001 - the same error both ways is the point
        return ("error", type(e), str(e))
    r = np.asarray(r)
    return (r.dtype.str, r.shape, r.tobytes())


f32 = np.array([0.5, -1.25, 3.0], np.float32)
f64 = np.array([[0.5], [2.0]], np.float64)
i64 = np.array([1, 2, 3], np.int64)

CASES = [
    ("neg", (f32,), {}), ("exp", (f64,), {}), ("neg", (2.5,), {}), ("neg", (True,), {}),
    ("mul", (f32, f32), {}), ("mul", (f32, 2.0), {}), ("mul", (3, f32), {}), ("mul", (i64, 0.5), {}),
    ("add", (True, f64), {}), ("add", (f32, f64), {}), ("sub", (1.5, i64), {}),
    ("sum", (f64,), {"axis": (0,)}), ("sum", (f32,), {"axis": (0,), "keepdims": True}),
    ("expand_dims", (f32,), {"axis": -1}), ("matmul", (f64.T, f64), {}),
    ("add_n", (f32, f32, f32), {}), ("add_n", (f32, 1.5, f32), {}), ("add_n", (f64, f64, f64, f64, f64, f64), {}),
    ("add", (f32, f32, f32), {}), ("mul", (f32,), {}), ("neg", (f32,), {"bogus": 1}), ("mul", (1.0, 2.0), {}),
    ("neg", (), {}),
]


@compiled_only
@pytest.mark.parametrize("name,args,attrs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_the_compiled_caller_gives_what_the_closure_gives(name, args, attrs):
    mine, ref = _both(name)
    with np.errstate(all="ignore"):
        assert _result(mine, *args, **attrs) == _result(ref, *args, **attrs)


@compiled_only
def test_the_interpreter_uses_it_and_it_reads_the_kernel_at_every_call():
    ops = interpreters.eager_ops(dg.tensor(1.0)._be)
    assert type(ops.mul) is OpCall and ops.mul.__name__ == "mul" and ops.mul.op is ops.registry.get("mul")
    with instrument() as counts:  # instrument() swaps kernels: the caller must see the swap
        ops.mul(f32, f32)
        ops.add_n(f32, f32, f32)
    assert counts.per_op["mul"].calls == 1 and counts.per_op["add_n"].calls == 1


@compiled_only
def test_a_caller_does_not_leak_and_is_collected_in_a_cycle():
    mine, _ = _both("mul")
    base = sys.getrefcount(f32)
    for _ in range(100):
        mine(f32, f32)
        mine(f32, 2.0)
        mine(2.0, f32)
    assert sys.getrefcount(f32) == base

    class Holder:
        pass

    h = Holder()
    op = dg.tensor(1.0)._be  # any object: the caller only holds it
    h.call = OpCall("mul", op, op, h.__init__, h.__init__)  # h -> call -> bound method -> h
    r = weakref.ref(h)
    del h
    gc.collect()
    assert r() is None


def test_the_interpreter_falls_back_to_the_closure(monkeypatch):
    monkeypatch.setattr(_accel, "PURE", True)
    assert _accel.load("_cops") is None
    ops = interpreters.EagerOps(dg.tensor(1.0)._be)
    monkeypatch.setattr(interpreters, "OP_CALL", interpreters._py_call)
    assert ops.mul(f32, 2.0).tobytes() == (f32 * np.float32(2.0)).tobytes()
    assert ops.mul.__name__ == "mul" and type(ops.mul).__name__ == "function"
