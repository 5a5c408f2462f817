"""Hypothesis profiles: ``ci`` (the default; the whole suite well inside CI's budget) and
``thorough`` (deep runs: ``pytest --hypothesis-profile=thorough``)."""

import gc
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


def pytest_collection_finish(session):
    """Once every test module is imported (PyTorch, JAX, numba, hypothesis...) and the items are
    collected, all of which live to the end of the session: freeze them, so that the cyclic
    collections the tests' own allocations trigger walk only what the tests made, and collect
    less often. A full collection of a worker's heap costs about 0.3 s, and a test that builds a
    100,000-node graph triggers dozens: in the slowest tests the collector took a fifth of the
    time. Explicit ``gc.collect()`` calls (the graph-memory tests) still see every new object."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
