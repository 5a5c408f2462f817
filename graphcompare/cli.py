"""The ``graphcompare`` command: ``run`` (the experiments) and ``check`` (the equivalence proof).

Nothing here imports NumPy at module level: ``run`` pins every BLAS/OpenMP thread count to 1 in
the environment first, so the pin holds even without threadpoolctl.
"""

from __future__ import annotations

import argparse
import shlex
import sys


def add_run_parser(sub) -> None:
    p = sub.add_parser(
        "run", help="run the comparative experiments and write a report",
        description="Run the experiments suite (dyngraph vs staticgraph, with peers) and write results.json, "
                    "results.csv, report.md and PNG plots to --out.")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the short suite (under a minute)")
    size.add_argument("--suite", choices=("standard", "quick", "tiny"), default=None,
                      help="suite by name (default: standard; 'tiny' is the test suite's)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy", help="array backend (default: numpy)")
    p.add_argument("--out", default="results", help="output directory (default: results/)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random input (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU core")


def run_run(args) -> int:
    from .experiments import PRESETS, run_suite

    suite = "quick" if args.quick else (args.suite or "standard")
    cfg = PRESETS[suite]()
    cfg.backend = args.backend
    cfg.seed = args.seed
    command = "graphcompare " + " ".join(shlex.quote(a) for a in args.argv)
    from shared_ops import GraphCompareError, get_backend

    try:
        get_backend(args.backend)  # fail now, with the backend's own message, not halfway through
    except GraphCompareError as exc:
        print(f"graphcompare run: backend {args.backend!r} is not usable here: {exc}", file=sys.stderr)
        return 2
    doc = run_suite(cfg, args.out, command=command, progress=not args.no_progress, pin_cpu=not args.no_pin)
    bad = [r for r in doc["main"] if r["status"] != "ok"]
    print(f"wrote {args.out}/report.md, results.json, results.csv and {len(doc['plots'])} plots "
          f"({len(doc['main']) - len(bad)} of {len(doc['main'])} timings ran)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphcompare", description="Dynamic vs static autodiff graphs, compared.")
    sub = parser.add_subparsers(dest="command", metavar="{run,check}")
    sub.required = True
    add_run_parser(sub)
    try:
        from .check import add_check_parser
    except ImportError as exc:  # the equivalence checker lands separately
        note = str(exc)
        c = sub.add_parser("check", help="the equivalence checker (not available in this build)")
        c.set_defaults(_check_missing=note)
    else:
        add_check_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``graphcompare`` command: ``check`` (the equivalence campaign) or ``run`` (the experiments).

    Parameters:
        argv: the arguments after the program's name; default ``sys.argv[1:]``.

    Returns:
        The exit status: 0 when every check agreed (or the run finished), else nonzero.

    Examples:
        >>> from graphcompare.cli import main
        >>> main(["check", "--examples", "1", "--seed", "0", "--no-progress"])  # doctest: +ELLIPSIS
        graphcompare check: 1 programs, seed 0, ...
        OK: every way agreed on every program.
        0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        from .experiments.env import pin_threads_env

        pin_threads_env()  # before anything (the check command's parser included) imports NumPy
    args = build_parser().parse_args(argv)
    args.argv = argv
    if args.command == "run":
        return run_run(args)
    if getattr(args, "_check_missing", None):
        print(f"graphcompare check is not available: {args._check_missing}", file=sys.stderr)
        return 2
    from .check import run_check

    return run_check(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
