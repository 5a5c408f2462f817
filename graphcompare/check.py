"""``graphcompare check``: a campaign of random programs, every way, with a summary.

    graphcompare check --examples 500 --seed 1 [--backend cupy] [--ops add mul exp] [--out DIR]
    graphcompare check --examples 10000 --jobs 2      # a long campaign, in chunks, on 2 cores
    graphcompare check --examples 100000 --scheduler tcp://127.0.0.1:8786   # on a Dask cluster

Hypothesis draws the programs (seeded, no example database), so a failure is shrunk to a
minimal program before it is reported; its reproducer is written to ``DIR/`` and the exit code
is 1. Exit code 0: every program agreed every way. 2: bad arguments.

A campaign of more than ``--chunk`` programs (default 500), or any campaign with ``--jobs``
above 1, runs as chunks, each in a fresh worker process with its own seed (``seed * 1000003 +
k`` for chunk ``k``). Fresh processes are what keep a long campaign's memory bounded: numba
never frees the machine code of a compiled kernel, and every program compiles new fused
kernels (about 4 MB a program with every way on). ``--scheduler`` sends the same chunks to
Dask distributed workers instead (``graphcompare.cluster``); without it Dask is never imported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from .campaign import Campaign, ChunkSpec, backend_context, quiet_jit, run_campaign, run_chunk
from .campaign import chunks as _chunks

WAYS_HELP = "comma-separated ways to run (default: all); see graphcompare.equivalence"


def add_check_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "check",
        help="prove on random programs that dyngraph and staticgraph give the same gradients",
        description="Run random programs through dyngraph, staticgraph (plain, each pass, all passes), "
                    "sg.function and the oracles; print a summary, and on a disagreement write the shrunk "
                    "program's reproducer to --out and exit 1.",
    )
    p.add_argument("--examples", type=int, default=200, help="programs to check (default 200)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the campaign (default 0)")
    p.add_argument("--backend", default="numpy", choices=("numpy", "cupy"), help="array backend (default numpy)")
    p.add_argument("--ops", nargs="+", default=None, metavar="OP",
                   help="draw only these ops (space- or comma-separated registry names)")
    p.add_argument("--ways", default=None, help=WAYS_HELP)
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (it registers your own ops and their recipes); repeatable")
    p.add_argument("--max-steps", type=int, default=8, help="steps per program at most (default 8)")
    p.add_argument("--control", type=int, default=8, metavar="N",
                   help="about one step in N is a control-flow step (scan, cond, while_loop, a loop with a "
                        "matrix product); 0: none (default 8)")
    p.add_argument("--out", default="graphcompare-failures", help="folder for reproducers (default ./graphcompare-failures)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes running chunks side by side (default 1)")
    p.add_argument("--chunk", type=int, default=500,
                   help="programs per chunk; a longer campaign runs chunks in fresh processes (default 500)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS|local:N",
                   help="run the chunks as Dask distributed tasks: on the scheduler at ADDRESS "
                        "(tcp://host:port), or on a local cluster of N worker processes (local:N); "
                        "needs the 'cluster' extra")
    p.add_argument("--results", default=None, metavar="DIR",
                   help="write each finished chunk to DIR and skip the chunks already there: the same command "
                        "resumes a killed campaign, a larger --examples extends it; disagreements are recorded "
                        "(with reproducers) and the campaign goes on")
    p.add_argument("--status", action="store_true",
                   help="with --results: print the totals of the chunks there (read only) and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_check)
    return p


def _parse_ops(ops):
    if not ops:
        return None
    return [o for item in ops for o in item.split(",") if o]


def _chunk_main(conn, spec, seed_, examples, counter) -> None:
    """A worker process: run one chunk, send the result back through ``conn`` (``counter``
    counts the programs checked, for the parent's progress bar)."""

    def count_one() -> None:
        with counter.get_lock():
            counter.value += 1

    try:
        result = ("ok", run_chunk(spec, seed_, examples, count_one))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent, with the chunk's seed
        result = ("error", f"{type(exc).__name__}: {exc}")
    conn.send(result)
    conn.close()


def _run_chunks(chunks, spec, jobs, bar, on_chunk=None):
    """Run the chunks in fresh worker processes, ``jobs`` at a time; stop at the first
    failure. One process per chunk, each answering through its own pipe: a worker that dies
    (a crash in compiled code) closes its pipe and is reported with its chunk's seed."""
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("spawn")  # fresh interpreters: nothing compiled, nothing patched
    counter = ctx.Value("q", 0)
    todo, running = list(chunks), {}
    camp, failure, seen = Campaign(), None, 0
    jobs = max(1, min(jobs, len(chunks)))
    try:
        while (todo or running) and failure is None:
            while todo and len(running) < jobs:
                s, n = todo.pop(0)
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_chunk_main, daemon=True, args=(send, spec, s, n, counter))
                proc.start()
                send.close()  # the child holds the only writer: its death reads as EOF here
                running[s] = (proc, recv, n)
            ready = wait([r for _, r, _ in running.values()], timeout=0.5)
            bar.update(counter.value - seen)
            seen = counter.value
            for s, (proc, recv, n) in list(running.items()):
                if recv not in ready:
                    continue
                try:
                    kind, payload = recv.recv()
                except EOFError:
                    proc.join()
                    kind, payload = "died", proc.exitcode
                proc.join()
                recv.close()
                del running[s]
                if kind == "ok":
                    part, fail = payload
                    camp.merge(part)
                    if on_chunk is not None and fail is None:
                        on_chunk(s, n, part)
                    failure = failure or fail
                elif kind == "error":
                    failure = failure or spec.died(s, n, f"raised {payload}")
                else:
                    failure = failure or spec.died(s, n, f"died (exit code {payload})")
        bar.update(counter.value - seen)
    finally:
        for proc, recv, _ in running.values():  # a failure ends the campaign: stop the others
            proc.terminate()
            proc.join()
            recv.close()
    return camp, failure


def run_check(args) -> int:
    from shared_ops import GraphCompareError

    from . import equivalence
    from .optable import drawable_ops, uncovered_ops

    out = sys.stdout
    import importlib

    for mod in getattr(args, "imports", []):
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            print(f"graphcompare check: cannot import {mod!r} ({exc}); is it on PYTHONPATH?", file=sys.stderr)
            return 2
    ops = _parse_ops(args.ops)
    known = drawable_ops()
    if getattr(args, "status", False):
        from .results import status

        if getattr(args, "results", None) is None:
            print("graphcompare check: --status reads a campaign's results: give --results DIR", file=sys.stderr)
            return 2
        return status(args.results, ops or known, out)
    if ops:
        unknown = [o for o in ops if o not in known]
        if unknown:
            print(f"graphcompare check: unknown or undrawable op(s) {', '.join(unknown)}; "
                  f"drawable ops: {', '.join(known)}", file=sys.stderr)
            return 2
    ways = tuple(w.strip() for w in args.ways.split(",")) if args.ways else equivalence.default_ways()
    bad_ways = [w for w in ways if w not in equivalence.default_ways() and not w.startswith("pass:")]
    if bad_ways:
        print(f"graphcompare check: unknown way(s) {', '.join(bad_ways)}; ways: {', '.join(equivalence.default_ways())}",
              file=sys.stderr)
        return 2
    for flag, value in (("--examples", args.examples), ("--jobs", args.jobs), ("--chunk", args.chunk)):
        if value < 1:
            print(f"graphcompare check: {flag} must be at least 1 (got {value})", file=sys.stderr)
            return 2
    control = getattr(args, "control", 8)
    if control < 0:
        print(f"graphcompare check: --control must be 0 (no control flow) or more (got {control})", file=sys.stderr)
        return 2
    scheduler = getattr(args, "scheduler", None)
    if scheduler is not None and args.jobs != 1:
        print("graphcompare check: --jobs sizes the local process pool; with --scheduler the cluster's "
              "workers run the chunks (give local:N for N local workers)", file=sys.stderr)
        return 2
    try:
        backend_ctx = backend_context(args.backend)
    except GraphCompareError as exc:
        print(f"graphcompare check: {exc}", file=sys.stderr)
        return 2
    results = getattr(args, "results", None)
    spec = ChunkSpec(ops=tuple(ops) if ops else None, ways=ways, max_steps=args.max_steps,
                     imports=tuple(getattr(args, "imports", [])), backend=args.backend, ways_flag=args.ways,
                     keep_going=results is not None, control=control)
    if results is not None:
        return _run_results(args, spec, results, scheduler, ops or known, out)

    missing = uncovered_ops()
    t0 = time.perf_counter()
    if scheduler is not None:
        from .cluster import ClusterError, run_on_dask

        chunks = _chunks(args.examples, args.chunk, args.seed, 1)
        bar = _progress(args.examples, args.no_progress)
        try:
            camp, failure, how = run_on_dask(chunks, spec, scheduler, bar)
        except ClusterError as exc:
            bar.close()
            print(f"graphcompare check: {exc}", file=sys.stderr)
            return 2
    else:
        chunks = _chunks(args.examples, args.chunk, args.seed, args.jobs)
        bar = _progress(args.examples, args.no_progress)
        if len(chunks) == 1 and args.jobs == 1:  # in this process (a planted bug or a new op is seen)
            quiet_jit()
            with backend_ctx:
                camp, failure = run_campaign(args.seed, args.examples, ops, ways, args.max_steps,
                                             lambda: bar.update(1), control=control)
            how = ""
        else:
            camp, failure = _run_chunks(chunks, spec, args.jobs, bar)
            how = f", {len(chunks)} chunk(s) on {min(args.jobs, len(chunks))} process(es)"
    bar.close()
    dt = time.perf_counter() - t0
    print(f"graphcompare check: {camp.programs} programs, seed {args.seed}, backend {args.backend}{how}, "
          f"{dt:.1f} s ({1e3 * dt / max(camp.programs, 1):.0f} ms/program incl. shrinking)", file=out)
    print(camp.table(ops or known, ways), file=out)
    if missing:
        print(f"\nregistered ops with no recipe (never drawn): {', '.join(missing)}", file=out)
    if failure is None:
        print("\nOK: every way agreed on every program.", file=out)
        return 0
    if failure.get("crashed"):
        print(f"\nFAILED: {failure['differences'][0]}", file=out)
        return 1
    print("\nFAILED (minimal program after shrinking):", file=out)
    for d in failure["differences"]:
        print(f"  {d}", file=out)
    print(failure["program"], file=out)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"repro_seed{failure['seed']}.py")
    with open(path, "w") as f:
        f.write(failure["reproducer"])
    print(f"reproducer written to {path} (run: python {path})", file=out)
    if failure["seed"] != args.seed:
        print(f"(the failing chunk alone: {spec.rerun_command(failure['seed'], dict(chunks)[failure['seed']])})",
              file=out)
    return 1


def _run_results(args, spec, path, scheduler, drawable, out) -> int:
    """A campaign kept in a results directory (``graphcompare.results``): run the chunks not
    there yet, each written as it finishes, then print the totals of every chunk there."""
    from .results import ResultsDir, ResultsError

    chunks = _chunks(args.examples, args.chunk, args.seed, 2)  # always seeded per chunk: layout kept
    try:
        rd = ResultsDir(path, args.seed, args.chunk, spec).open()
        _, done_before = rd.merged(chunks)
    except ResultsError as exc:
        print(f"graphcompare check: {exc}", file=sys.stderr)
        return 2
    todo = [(s, n) for s, n in chunks if not rd.done(s, n)]
    bar = _progress(args.examples, args.no_progress)
    bar.update(sum(n for s, n in chunks if rd.done(s, n)))
    t0, failure, how = time.perf_counter(), None, ""
    if todo and scheduler is not None:
        from .cluster import ClusterError, run_on_dask

        try:
            _, failure, how = run_on_dask(todo, spec, scheduler, bar, on_chunk=rd.save)
        except ClusterError as exc:
            bar.close()
            print(f"graphcompare check: {exc}", file=sys.stderr)
            return 2
    elif todo:
        _, failure = _run_chunks(todo, spec, args.jobs, bar, on_chunk=rd.save)
        how = f" on {min(args.jobs, len(todo))} process(es)"
    bar.close()
    dt = time.perf_counter() - t0
    camp, done = rd.merged(chunks)
    print(f"graphcompare check: {camp.programs} programs, seed {args.seed}, backend {args.backend}, results in {path}: "
          f"{done}/{len(chunks)} chunk(s) of {args.chunk} done ({done - done_before} in this run{how}, {dt:.1f} s); "
          f"CPU {camp.cpu_s / 3600:.3f} h over all the chunks' processes", file=out)
    print(camp.table(drawable, spec.ways), file=out)
    for d in camp.disagreements:
        repro = f"; reproducer {os.path.join(path, d['reproducer'])}" if d.get("reproducer") else ""
        print(f"\nDISAGREEMENT (chunk seed {d['seed']}, program {d['index']}{repro}):", file=out)
        for line in d["differences"]:
            print(f"  {line}", file=out)
    if failure is not None:
        print(f"\nFAILED: {failure['differences'][0]}", file=out)
        return 1
    if camp.disagreements:
        return 1
    if done < len(chunks):
        return 1
    print("\nOK: every way agreed on every program.", file=out)
    return 0


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress(total: int, disabled: bool):
    if disabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="programs", unit="prog", file=sys.stderr, dynamic_ncols=True)


def main(argv=None) -> int:
    """Run ``check`` alone (``python -m graphcompare.check``); ``graphcompare check`` is the same."""
    parser = argparse.ArgumentParser(prog="graphcompare")
    add_check_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["check", *(argv if argv is not None else sys.argv[1:])])
    return run_check(args)


if __name__ == "__main__":
    raise SystemExit(main())
