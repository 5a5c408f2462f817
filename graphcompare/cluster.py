"""A campaign's chunks as Dask distributed tasks: ``graphcompare check --scheduler``.

    dask scheduler --host 127.0.0.1 --port 8786                 # one terminal
    dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1  # another (or other machines)
    graphcompare check --examples 20000 --scheduler tcp://127.0.0.1:8786

``--scheduler local:N`` starts a local cluster of N worker processes (Dask's ``LocalCluster``)
for the campaign alone. Only this module imports Dask, and only ``--scheduler`` imports it.

Each chunk is one task, ``(ChunkSpec, seed, programs)``: everything needed to run it anywhere.
A task runs its chunk in a fresh child process of the worker, as the local pool does, because
numba never frees compiled kernels and a long-lived worker would grow by megabytes a program.
A chunk whose process dies (a crash in compiled code) raises ``ChunkDied`` in the task, and
the task is retried once (``retries=1``); a worker that dies while holding a chunk has it
rescheduled by the scheduler, up to twice on a local cluster (its ``allowed-failures`` is set
to 2, see ``ALLOWED_FAILURES``; a scheduler you start yourself uses its own setting, Dask's
default is 3). A chunk that fails again is reported with its seed and the command that runs
it alone. The chunks' statistics
merge with ``Campaign.merge`` and the first disagreement ends the campaign, as on the local
pool; the progress bar advances as each chunk's future completes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import uuid

from .campaign import Campaign, ChunkSpec, run_chunk

INSTALL = "pip install 'graphcompare[cluster]'"
CONNECT_TIMEOUT = 20  # seconds to reach a scheduler and to see its first worker
# Dask counts a worker's death against every chunk the worker held, running or only queued,
# and a restart that fails under load counts again: 2 lets a chunk outlive its own worker's
# crash and one more before it is reported
ALLOWED_FAILURES = 2


class ClusterError(Exception):
    """``--scheduler`` cannot be used: Dask is missing, the address is malformed or unreachable."""


class ChunkDied(RuntimeError):
    """The process running a chunk died without an answer (Dask retries the task once)."""


def parse_scheduler(spec: str) -> tuple:
    """``("local", N)`` for ``local:N``; ``("address", spec)`` for anything else."""
    if spec.startswith("local:"):
        n = spec[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise ClusterError(f"--scheduler {spec!r}: local:N needs a number of workers N >= 1, e.g. local:2")
        return "local", int(n)
    if not spec or spec.startswith("local"):
        raise ClusterError(f"--scheduler {spec!r}: give a scheduler address (tcp://HOST:PORT) or local:N")
    return "address", spec


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError(f"--scheduler needs Dask distributed, which is not installed ({exc}); "
                           f"install the cluster extra: {INSTALL}") from None
    return distributed


@contextlib.contextmanager
def _client(spec: str):
    """A Dask client for ``spec`` and a few words on where the chunks run; a local cluster
    lives as long as the context."""
    kind, value = parse_scheduler(spec)
    distributed = _distributed()
    import logging

    import dask

    if kind == "local":
        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            cluster = distributed.LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address=None,
                                               silence_logs=logging.ERROR)
        with cluster, distributed.Client(cluster) as client:
            yield client, f"a local Dask cluster of {value} worker(s)"
        return
    try:
        client = distributed.Client(value, timeout=f"{CONNECT_TIMEOUT}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach a Dask scheduler at {value!r} ({type(exc).__name__}: {exc}); "
                           f"start one with `dask scheduler`, or use local:N") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except TimeoutError:
            raise ClusterError(f"the Dask scheduler at {value!r} has no workers after {CONNECT_TIMEOUT} s; "
                               f"start some with `dask worker {value}`") from None
        workers = len(client.scheduler_info().get("workers", {}))
        yield client, f"Dask scheduler {value} ({workers} worker(s) at the start)"


def run_on_dask(chunks: list, spec: ChunkSpec, scheduler: str, bar, on_chunk=None):
    """Run ``chunks`` as Dask tasks until all are done or one fails: ``(Campaign, failure, how)``,
    ``how`` being the words for the summary line; ``on_chunk(seed, programs, Campaign)`` is
    called with each chunk that finished without a failure (``--results``)."""
    distributed = _distributed()
    camp, failure = Campaign(), None
    with _client(scheduler) as (client, where):
        stop = distributed.Event(f"graphcompare-stop-{uuid.uuid4().hex}", client=client)
        owner, futures = {}, []
        for s, n in chunks:
            fut = client.submit(_chunk_task, spec, s, n, stop.name, key=f"graphcompare-chunk-{s}-{uuid.uuid4().hex[:8]}",
                                retries=1, pure=False)
            owner[fut.key] = (s, n)
            futures.append(fut)
        try:
            for fut in distributed.as_completed(futures):
                s, n = owner[fut.key]
                if fut.status == "error":  # died on the retry too (ChunkDied, or KilledWorker from the scheduler)
                    exc = fut.exception()
                    failure = spec.died(s, n, f"died on both tries ({type(exc).__name__}: {exc})")
                    break
                kind, payload = fut.result()
                if kind == "error":
                    failure = spec.died(s, n, f"raised {payload}")
                    break
                part, fail = payload
                camp.merge(part)
                if on_chunk is not None and fail is None:
                    on_chunk(s, n, part)
                bar.update(part.programs)
                if fail is not None:
                    failure = fail
                    break
        finally:
            stop.set()  # running chunks see it within a second and kill their processes
            client.cancel(futures)
    return camp, failure, f", {len(chunks)} chunk(s) on {where}"


# --- on the worker -----------------------------------------------------------------------------

_CHILD = "import sys; from graphcompare.cluster import _child_main; _child_main(sys.argv[1], sys.argv[2])"


def _chunk_task(spec: ChunkSpec, seed_: int, examples: int, stop_name: str):
    """A Dask task: run one chunk in a fresh child process and return its answer, ``("ok",
    (Campaign, failure))`` or ``("error", text)``; raise ``ChunkDied`` if the child dies."""
    import distributed

    stop = distributed.Event(stop_name)
    with tempfile.TemporaryDirectory(prefix="graphcompare-chunk-") as tmp:
        task, result, log = (os.path.join(tmp, name) for name in ("task.pickle", "result.pickle", "log.txt"))
        with open(task, "wb") as f:
            pickle.dump((spec, seed_, examples), f)
        # the child resolves imports as this worker does (as multiprocessing's spawn would)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-c", _CHILD, task, result], env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            try:
                while proc.poll() is None:
                    if stop.wait(timeout=1):  # the campaign ended: this chunk's answer is not needed
                        proc.kill()
                        proc.wait()
                        return "error", "cancelled"
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if proc.returncode == 0 and os.path.exists(result):
            with open(result, "rb") as f:
                return pickle.load(f)
        with open(log, errors="replace") as f:
            tail = [line.strip() for line in f if line.strip()][-1:]
    raise ChunkDied(f"its process exited with code {proc.returncode}" + (f": {tail[0]}" if tail else ""))


def _child_main(task_path: str, result_path: str) -> None:
    """The child process of a task: run the chunk, write its answer to ``result_path``."""
    ppid = os.getppid()

    def orphaned() -> None:  # the worker died: nobody will read this chunk's answer
        while True:
            threading.Event().wait(1)
            if os.getppid() != ppid:
                os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    with open(task_path, "rb") as f:
        spec, seed_, examples = pickle.load(f)
    try:
        answer = ("ok", run_chunk(spec, seed_, examples))
    except BaseException as exc:  # noqa: BLE001 - reported by the campaign, with the chunk's seed
        answer = ("error", f"{type(exc).__name__}: {exc}")
    with open(result_path + ".part", "wb") as f:
        pickle.dump(answer, f)
    os.replace(result_path + ".part", result_path)  # whole or absent, never half-written
