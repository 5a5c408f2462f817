"""``graphcompare check``: a campaign of random programs, every way, with a summary.

    graphcompare check --examples 500 --seed 1 [--backend cupy] [--ops add mul exp] [--out DIR]

Hypothesis draws the programs (seeded, no example database), so a failure is shrunk to a
minimal program before it is reported; its reproducer is written to ``DIR/`` and the exit code
is 1. Exit code 0: every program agreed every way. 2: bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

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
    p.add_argument("--out", default="graphcompare-failures", help="folder for reproducers (default ./graphcompare-failures)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_check)
    return p


@dataclass
class Campaign:
    programs: int = 0
    rejected: int = 0
    ops: Counter = field(default_factory=Counter)
    fan_in3: int = 0
    fan_out3: int = 0
    worst: dict = field(default_factory=dict)  # way -> (max abs, max ULP)
    used: dict = field(default_factory=dict)  # tolerance way -> largest fraction of its bound used
    failure: object = None

    def add(self, prog, res) -> None:
        if not res.valid:
            self.rejected += 1
            return
        self.programs += 1
        self.ops.update(set(prog.ops()))
        self.fan_in3 += prog.fan_in() >= 3
        self.fan_out3 += prog.fan_out() >= 3
        for way, (a, u) in res.worst.items():
            a0, u0 = self.worst.get(way, (0.0, 0))
            self.worst[way] = (max(a0, a), max(u0, u))
        for way, f in res.used.items():
            self.used[way] = max(self.used.get(way, 0.0), f)

    def table(self, drawable: list, ways: tuple) -> str:
        n = max(self.programs, 1)
        missing = [o for o in drawable if o not in self.ops]
        lines = [
            f"programs checked      {self.programs}  (rejected at a kink or overflow: {self.rejected})",
            f"ops covered           {len([o for o in drawable if o in self.ops])}/{len(drawable)}"
            + (f"  (not drawn: {', '.join(missing)})" if missing else ""),
            f"fan-in >= 3           {self.fan_in3} programs ({100 * self.fan_in3 / n:.0f}%)",
            f"fan-out >= 3          {self.fan_out3} programs ({100 * self.fan_out3 / n:.0f}%)",
            "",
            f"{'way':<22}{'compared with':<22}{'worst abs':>12}  {'worst ULP':>10}  {'tolerance used':>14}",
        ]
        from .equivalence import BITWISE_WAYS, exact_passes

        for way in ways:
            if way == "finite differences":
                lines.append(f"{way:<22}{'float64 gradient':<22}{'(checked)':>12}")
                continue
            exact = way in BITWISE_WAYS or (way.startswith("pass:") and way[5:] in exact_passes())
            vs = "float64 dyngraph" if way == "torch" else ("dyngraph, bitwise" if exact else "dyngraph, tolerance")
            a, u = self.worst.get(way, (0.0, 0))
            used = f"{100 * self.used[way]:>13.1f}%" if way in self.used else ""
            lines.append(f"{way:<22}{vs:<22}{a:>12.3g}  {u:>10}  {used}".rstrip())
        return "\n".join(lines)


def _parse_ops(ops):
    if not ops:
        return None
    return [o for item in ops for o in item.split(",") if o]


def run_check(args) -> int:
    from hypothesis import HealthCheck, Phase, assume, given, seed, settings

    from shared_ops import GraphCompareError

    from . import equivalence
    from .optable import drawable_ops, uncovered_ops
    from .strategies import programs

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
    if args.examples < 1:
        print("graphcompare check: --examples must be at least 1", file=sys.stderr)
        return 2
    try:
        backend_ctx = _backend(args.backend)
    except GraphCompareError as exc:
        print(f"graphcompare check: {exc}", file=sys.stderr)
        return 2

    camp = Campaign()
    bar = _progress(args.examples, args.no_progress)
    last_failure: list = []

    @seed(args.seed)
    @settings(max_examples=args.examples, database=None, deadline=None, derandomize=False,
              phases=(Phase.generate, Phase.shrink), print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(programs(ops=ops, max_steps=args.max_steps, record_events=False))
    def campaign(prog):
        res = equivalence.check_program(prog, ways=ways, seed=args.seed)
        if not last_failure:  # statistics of the campaign, not of the shrinking
            camp.add(prog, res)
            if res.valid:
                bar.update(1)
        assume(res.valid)
        if not res.ok:
            last_failure[:] = [res]
            raise AssertionError(res.differences[0])

    t0 = time.perf_counter()
    missing = uncovered_ops()
    with backend_ctx:
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                campaign()
            failed = False
        except AssertionError:
            failed = bool(last_failure)
            if not failed:
                raise
    bar.close()
    dt = time.perf_counter() - t0
    print(f"graphcompare check: {camp.programs} programs, seed {args.seed}, backend {args.backend}, "
          f"{dt:.1f} s ({1e3 * dt / max(camp.programs, 1):.0f} ms/program incl. shrinking)", file=out)
    print(camp.table(ops or known, ways), file=out)
    if missing:
        print(f"\nregistered ops with no recipe (never drawn): {', '.join(missing)}", file=out)
    if not failed:
        print("\nOK: every way agreed on every program.", file=out)
        return 0
    res = last_failure[0]
    print("\nFAILED (minimal program after shrinking):", file=out)
    for d in res.differences:
        print(f"  {d}", file=out)
    print(res.program.model_source(), file=out)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"repro_seed{args.seed}.py")
    with open(path, "w") as f:
        f.write(res.reproducer)
    print(f"reproducer written to {path} (run: python {path})", file=out)
    return 1


def _backend(name: str):
    import contextlib

    if name == "numpy":
        return contextlib.nullcontext()
    from shared_ops import get_backend, use_backend

    get_backend(name)  # a clear BackendError now if it cannot be used
    return use_backend(name)


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
