"""A separate process that compiles fused kernels into the on-disk cache.

numba's compiler is mostly Python: run in a thread it would hold the GIL for seconds and slow
the steps running meanwhile, and a thread cannot be stopped inside LLVM when the program exits.
So the background thread of ``fusion_jit`` hands each build to this process (``compile``):
it compiles the kernel (``fusion_cpu.build``), which writes the machine code and its checksums
to the cache folder, and answers; the parent then loads the kernel from disk in milliseconds.
It runs at the lowest priority (``nice`` 19, set before it imports anything): on a busy core
the steps running meanwhile come first.
At exit the parent kills this process, whatever it is doing. It exits by itself when its
parent's end of the pipe closes.

Protocol (pickles over stdin/stdout, between two processes of this package only): the parent
sends ``(spec, readonly)`` (a fused region) or ``(("step", module text, argument types), ())``
(a whole step, ``fusion_step``), the worker answers ``("ok", seconds)`` or ``("error", text)``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading

__all__ = ["build", "build_step", "compile", "shutdown"]

_proc: dict = {"p": None, "closed": False}
_lock = threading.Lock()


def _start():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    # lowest priority before any import: on a busy core (or a process pinned to one, as the
    # benchmarks are) the steps running meanwhile come first, including the first call
    code = "import os\nif hasattr(os, 'nice'): os.nice(19)\nfrom shared_ops.fusion_worker import main\nmain()"
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)


def compile(spec, readonly) -> float:  # noqa: A001 - what it does
    """Compile ``spec`` into the disk cache in the worker process; its seconds. Raises
    ``RuntimeError`` if the worker failed or was stopped."""
    with _lock:
        if _proc["closed"]:
            raise RuntimeError("the compiler process was shut down (the program is exiting)")
        p = _proc["p"]
        if p is None or p.poll() is not None:
            p = _proc["p"] = _start()
    try:
        pickle.dump((spec, tuple(readonly)), p.stdin)
        p.stdin.flush()
        status, value = pickle.load(p.stdout)
    except (OSError, EOFError, pickle.UnpicklingError) as exc:
        raise RuntimeError(f"the compiler process stopped ({type(exc).__name__})") from None
    if status != "ok":
        raise RuntimeError(f"numba could not compile the {'step' if isinstance(spec, tuple) else 'region'}: {value}")
    return value


def build(spec, readonly=()):
    """``fusion_cpu.build``; on the background thread the compiling happens in the worker
    process and this thread only loads the machine code from disk."""
    from shared_ops import fusion_cpu, fusion_jit

    if not fusion_jit.in_background() or fusion_cpu.cache_dir() is None:
        return fusion_cpu.build(spec, readonly)
    seconds = compile(spec, readonly)
    kernel, load = fusion_cpu.build(spec, readonly)
    return kernel, seconds + load


def build_step(body: str, args: list):
    """``fusion_step.build``, compiled in the worker process when on the background thread."""
    from shared_ops import fusion_cache, fusion_jit, fusion_step

    if not fusion_jit.in_background() or fusion_cache.cache_dir() is None:
        return fusion_step.build(body, args)
    seconds = compile(("step", body, [(tuple(s), str(d)) for s, d in args]), ())
    step, load = fusion_step.build(body, args)
    return step, seconds + load


def shutdown() -> None:
    """Kill the worker (at exit: a build in progress is abandoned, the cache stays consistent)."""
    with _lock:
        _proc["closed"] = True
        p = _proc["p"]
    if p is not None and p.poll() is None:
        p.kill()
        p.wait()


def main() -> None:
    from shared_ops import fusion_cpu

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            spec, readonly = pickle.load(inp)
        except EOFError:
            return
        try:
            if isinstance(spec, tuple) and spec and spec[0] == "step":
                from shared_ops import fusion_step

                _, seconds = fusion_step.build(spec[1], spec[2])
            else:
                _, seconds = fusion_cpu.build(spec, readonly)
            answer = ("ok", seconds)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which keeps the NumPy tier
            answer = ("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        pickle.dump(answer, out)
        out.flush()


if __name__ == "__main__":
    main()
