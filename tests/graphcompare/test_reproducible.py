"""A campaign's seed draws the same programs in any process: fresh, or after other work.

Hypothesis mixes into its draws constants read from the source of the local modules imported so
far; without ``strategies.fixed_constants`` the programs a seed gives would change with what the
process imported before (a test run's order, a worker's history, a user's ``--import``)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from hypothesis import HealthCheck, Phase, given, seed, settings

from graphcompare.campaign import program_digest, run_campaign
from graphcompare.strategies import programs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def draw_digest(seed_: int, n: int) -> str:
    """The digest of the first ``n`` programs seed ``seed_`` draws, with a campaign's settings."""
    h = hashlib.sha256()

    @seed(seed_)
    @settings(max_examples=n, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(programs(record_events=False))
    def collect(prog):
        h.update(program_digest(prog))

    collect()
    return h.hexdigest()[:16]


FRESH = ("import sys; sys.path.insert(0, sys.argv[1]); from test_reproducible import draw_digest; "
         "from graphcompare.campaign import run_campaign; "
         "print(draw_digest(7, 200), run_campaign(7, 12, None, ('static',), 8)[0].digests[7])")


def test_a_seed_draws_the_same_programs_fresh_and_after_other_work(tmp_path, monkeypatch):
    env = dict(os.environ, PYTHONPATH=ROOT)
    fresh = subprocess.run([sys.executable, "-c", FRESH, os.path.dirname(__file__)], env=env,
                           capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr
    # other work: a local module full of new constants, other modules of the project, other campaigns
    (tmp_path / "gc_constants_mod.py").write_text("SIZES = [4242424242, 123456789, 31337, 2**31 - 5, 1000, 250]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import gc_constants_mod  # noqa: F401
    import graphcompare.experiments.structure  # noqa: F401
    import graphcompare.torchfuzz  # noqa: F401

    run_campaign(3, 5, None, ("static", "function", "pass:fuse"), 8)
    here = f"{draw_digest(7, 200)} {run_campaign(7, 12, None, ('static',), 8)[0].digests[7]}"
    assert here == fresh.stdout.strip()


def test_another_seed_draws_other_programs():
    assert draw_digest(8, 20) != draw_digest(7, 20)
