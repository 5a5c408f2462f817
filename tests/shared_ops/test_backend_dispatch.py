"""Backends (errors that say how to fix them, mixing is refused) and the dispatch point."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import shared_ops as so
from shared_ops import backend as backend_mod


def test_cupy_not_installed_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    for name in ("cupy", "cuda", "cuda:1"):
        with pytest.raises(so.BackendError, match=r"CuPy is not installed.*pip install 'graphcompare\[gpu\]'.*device='cpu'"):
            so.get_backend(name)


def test_cupy_without_a_gpu_says_so(monkeypatch):
    fake = types.ModuleType("cupy")

    def no_driver():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_driver))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(so.BackendError, match=r"no CUDA device can be used.*use device='cpu'"):
        so.get_backend("cuda")


def test_unknown_backend_and_device():
    with pytest.raises(so.BackendError, match="unknown backend 'tpu'"):
        so.get_backend("tpu")
    with pytest.raises(so.DeviceError, match="unknown device 'gpu0'"):
        so.parse_device("gpu0")
    assert so.parse_device("cuda") == ("cuda", 0) and so.parse_device("cuda:2") == ("cuda", 2)
    assert so.get_backend("cpu").name == "numpy"


def test_mixing_backends_is_a_device_error():
    strict = so.get_backend("array_api_strict")
    a, b = np.ones(3), strict.asarray(np.ones(3))
    with pytest.raises(so.DeviceError, match=r"add: inputs are on different devices/backends \(numpy on cpu and array_api_strict on cpu\)"):
        so.common_backend([a, b], "add")
    assert so.common_backend([b, b], "add") is strict


def test_kernel_is_forward_when_instrumentation_is_off():
    for op in so.all_ops():
        assert op.kernel is op.forward, op.name


def test_instrumentation_counts_calls_and_bytes():
    ops = so.array_ops()
    x = np.ones((10, 20), np.float32)
    gen = so.generation()
    with so.instrument() as stats:
        assert so.generation() != gen
        y = ops.tanh(x)
        ops.add(y, y)
        ops.sum(y, axis=(1,))
    assert stats.calls == 3
    assert stats.per_op["tanh"].calls == 1
    assert stats.per_op["tanh"].bytes_in == 800 and stats.per_op["tanh"].bytes_out == 800
    assert stats.per_op["add"].bytes_in == 1600
    assert stats.per_op["sum"].bytes_out == 40
    assert stats.kernel_seconds > 0
    assert "tanh" in stats.table()
    test_kernel_is_forward_when_instrumentation_is_off()  # swapped back


def test_instrumentation_waits_for_a_device_stream_around_each_kernel():
    """On a device (CuPy) a kernel only queues work: the timed interval is bracketed by a stream
    synchronisation, looked up from the array module, before and after the kernel runs."""
    events = []

    class Stream:
        def synchronize(self):
            events.append("sync")

    dev = types.SimpleNamespace(cuda=types.SimpleNamespace(get_current_stream=Stream))
    with so.instrument() as stats:
        k = so.bind("queued", lambda xp, x: events.append("kernel") or x)
        k(dev, np.ones(2))
        k(np, np.ones(2))  # the host: no synchronisation
    assert events == ["sync", "kernel", "sync", "kernel"]
    assert stats.per_op["queued"].calls == 2


def test_nested_instrumentation_counts_in_both():
    ops = so.array_ops()
    with so.instrument() as outer:
        ops.exp(np.ones(3))
        with so.instrument() as inner:
            ops.exp(np.ones(3))
        assert so.get_op("exp").kernel is not so.get_op("exp").forward  # still on for outer
    assert outer.calls == 2 and inner.calls == 1


def test_array_ops_lifts_python_scalars_weakly():
    ops = so.array_ops()
    out = ops.mul(np.ones(2, np.float32), 2.0)
    assert out.dtype == np.float32
    assert backend_mod.backend_of(out).name == "numpy"
