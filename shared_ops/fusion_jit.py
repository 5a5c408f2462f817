"""Background compilation of fused kernels: nothing ever waits for machine code.

``submit(key, work)`` queues ``work()`` (a numba build) on one daemon worker thread and
returns a ``Job``; the caller keeps running on the NumPy tier and the job's callbacks swap the
compiled kernel in when it is ready. ``Job.wait(timeout)`` blocks for benchmarks and tests.

Mode, from ``$GRAPHCOMPARE_JIT`` or ``set_mode``: ``"background"`` (the default), ``"off"``
(nothing is compiled unless a caller waits for it: ``wait()`` then builds in the caller's
thread; the test suite runs this way so it does not spend its CPU on machine code it never
waits for), ``"sync"`` (build at submission, in the caller's thread).

The numba compiler itself runs in a separate process (``fusion_worker``): it does not hold
this process's GIL while steps run, and at interpreter exit it is killed, the queue cancelled
and the thread joined (it only ever waits on that process or loads a kernel from disk), so
exit never hangs and never stops a thread inside LLVM. A forked child starts with an empty
queue.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time

__all__ = ["Job", "submit", "mode", "set_mode", "MODES", "pending", "in_background"]

MODES = ("background", "off", "sync")
_state = {"mode": os.environ.get("GRAPHCOMPARE_JIT", "background")}
if _state["mode"] not in MODES:
    raise ValueError(f"GRAPHCOMPARE_JIT={_state['mode']!r}: expected one of {', '.join(MODES)}")


def mode() -> str:
    return _state["mode"]


def set_mode(value: str) -> str:
    """Set the mode (see the module docstring); returns the previous one."""
    if value not in MODES:
        raise ValueError(f"fusion_jit.set_mode: expected one of {', '.join(MODES)}, got {value!r}")
    old, _state["mode"] = _state["mode"], value
    return old


class Job:
    """One build: ``state`` is ``queued``, ``building``, ``done``, ``failed`` or ``cancelled``;
    ``result`` what ``work()`` returned, ``error`` what it raised, ``seconds`` how long it ran."""

    def __init__(self, key, work):
        self.key, self.work = key, work
        self.state = "queued"
        self.result = self.error = self.seconds = None
        self.enqueued = False  # given to the worker thread (else a waiting caller builds it)
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list = []

    def run(self) -> None:
        with self._lock:  # a waiting caller and the worker never build the same job twice
            if self.state != "queued":
                return
            self.state = "building"
        t0 = time.perf_counter()
        try:
            self.result = self.work()
            self.state = "done"
        except Exception as exc:  # noqa: BLE001 - the region stays on the NumPy tier; the report says why
            self.error, self.state = exc, "failed"
        self.seconds = time.perf_counter() - t0
        self._finish()

    def _finish(self) -> None:
        self._done.set()
        with self._lock:
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            cb(self)

    def on_done(self, cb) -> None:
        """Call ``cb(job)`` when the job finishes (at once if it has)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(cb)
                return
        cb(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job finished (building it here if nothing else will); True if done."""
        if self.state == "queued" and (not self.enqueued or _worker["cancelled"]):
            self.run()
        self._done.wait(timeout)
        return self.state == "done"

    def cancel(self) -> None:
        with self._lock:
            if self.state != "queued":
                return
            self.state = "cancelled"
        self._finish()

    @property
    def finished(self) -> bool:
        return self._done.is_set()


_jobs: dict = {}
_queue: queue.Queue = queue.Queue()
_worker = {"thread": None, "cancelled": False}
_lock = threading.Lock()


def _loop() -> None:
    while True:
        job = _queue.get()
        if job is None or _worker["cancelled"]:
            return
        job.run()


def submit(key, work) -> Job:
    """The job building ``work()`` for ``key`` (one per key and process), queued per mode."""
    with _lock:
        job = _jobs.get(key)
        if job is not None and job.state != "cancelled":
            return job
        job = _jobs[key] = Job(key, work)
        m = _state["mode"]
        if m == "background" and not _worker["cancelled"]:
            if _worker["thread"] is None:
                t = threading.Thread(target=_loop, name="graphcompare-jit", daemon=True)
                _worker["thread"] = t
                t.start()
            job.enqueued = True
            _queue.put(job)
    if m == "sync":
        job.run()
    return job


def in_background() -> bool:
    """True on the worker thread."""
    return threading.current_thread() is _worker["thread"]


def pending() -> int:
    """Jobs queued or being built."""
    return sum(1 for j in list(_jobs.values()) if j.state in ("queued", "building"))


def _shutdown() -> None:
    _worker["cancelled"] = True
    for job in list(_jobs.values()):
        job.cancel()
    from . import fusion_worker

    fusion_worker.shutdown()
    t = _worker["thread"]
    if t is not None:
        _queue.put(None)
        t.join()


def _after_fork() -> None:
    global _queue, _lock
    _queue, _lock = queue.Queue(), threading.Lock()
    _jobs.clear()
    _worker.update(thread=None, cancelled=False)


atexit.register(_shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
