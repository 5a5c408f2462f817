"""Hypothesis profiles: ``ci`` (the default; the whole suite well inside CI's budget) and
``thorough`` (deep runs: ``pytest --hypothesis-profile=thorough``)."""

import os

from hypothesis import HealthCheck, Phase, settings

# fused regions run on their NumPy tier unless a test waits for numba (tests/staticgraph/test_tiers.py):
# the suite does not spend its CPU on machine code it never waits for
os.environ.setdefault("GRAPHCOMPARE_JIT", "off")

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    # CI draws the same examples every run, so its time and verdict don't depend on the draw;
    # `thorough` stays random and is where new programs are explored.
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
# benchmarks/mutation.py runs the tests once per mutant: few examples, the same ones every run,
# and no shrinking (a mutant needs a verdict, not a minimal example)
settings.register_profile(
    "mutation",
    max_examples=4,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
