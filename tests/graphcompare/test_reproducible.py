"""A campaign's seed draws the same programs in any process: fresh, or after other work.

Hypothesis mixes into its draws constants read from the source of the local modules imported so
far; without ``strategies.fixed_constants`` the programs a seed gives would change with what the
process imported before (a test run's order, a worker's history, a user's ``--import``)."""

from __future__ import annotations

import os
import subprocess
import sys

from graphcompare.campaign import run_campaign

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRAW = "from graphcompare.campaign import run_campaign; print(run_campaign(7, 12, None, ('static',), 8)[0].digests[7])"


def test_a_seed_draws_the_same_programs_fresh_and_after_other_work(tmp_path, monkeypatch):
    env = dict(os.environ, PYTHONPATH=ROOT)
    fresh = subprocess.run([sys.executable, "-c", DRAW], env=env, capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr
    # other work: local modules full of new constants, other campaigns, the other ways' modules
    (tmp_path / "gc_constants_mod.py").write_text("SIZES = [4242424242, 123456789, 31337, 2**31 - 5, 7.25]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import gc_constants_mod  # noqa: F401
    import graphcompare.experiments.structure  # noqa: F401
    import graphcompare.torchfuzz  # noqa: F401

    run_campaign(3, 5, None, ("static", "function", "pass:fuse"), 8)
    here = run_campaign(7, 12, None, ("static",), 8)[0]
    assert here.digests[7] == fresh.stdout.strip()
    assert run_campaign(7, 12, None, ("static",), 8)[0].digests == here.digests


def test_another_seed_draws_other_programs():
    assert run_campaign(8, 12, None, ("static",), 8)[0].digests[8] != run_campaign(7, 12, None, ("static",), 8)[0].digests[7]
