"""The differential fuzzer against PyTorch (``graphcompare.torchfuzz``): no disagreement on
random stateful programs, and each of three planted bugs found, with a reproducer that fails
when replayed.

Under the ``ci`` profile the fuzzer runs 25 programs; under ``thorough``
(``HYPOTHESIS_PROFILE=thorough`` or ``pytest --hypothesis-profile=thorough``) 10,000 programs of
up to 20 steps (about 10 CPU-minutes). Neither tolerates any difference.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, Phase, settings

pytest.importorskip("torch")

from graphcompare import torchfuzz  # noqa: E402
from graphcompare.torchfuzz import DifferentialMachine, Disagreement, fuzz, replay  # noqa: E402

pytestmark = pytest.mark.torch
# the profile loaded by tests/conftest.py or by pytest's --hypothesis-profile, whichever came last
THOROUGH = settings.get_current_profile_name() == "thorough"

TestDifferential = DifferentialMachine.TestCase
TestDifferential.settings = settings(
    settings(), max_examples=10_000 if THOROUGH else 25, stateful_step_count=20 if THOROUGH else 12,
    suppress_health_check=list(HealthCheck),
)


def test_the_issue_example_replays_clean():
    pair = replay("""
        t0 = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        t1 = t0 * 2
        t1[1:].mul_(t0[1:])
        t1.sum().backward()
    """)
    assert pair.ns["dyngraph"]["t0"].grad.tolist() == [2.0, 8.0, 12.0]


def test_a_disagreement_names_the_line_and_prints_a_reproducer():
    with pytest.raises(Disagreement) as info:
        replay("t0 = m.tensor([1, 2]) / 2 if m.__name__ == 'torch' else m.tensor([1, 2]) * 1.0")
    text = str(info.value)
    assert "t0: values differ" in text and "replay('''" in text and "t0 = m.tensor([1, 2])" in text


# --------------------------------------------------------------------------- planted bugs


@contextlib.contextmanager
def view_with_its_own_version():
    """A view gets a version counter of its own instead of sharing its base's."""
    from dyngraph import apply
    from dyngraph.record import Version

    good = apply.track

    def bad(t, src, op, attrs):
        good(t, src, op, attrs)
        t._ver = Version()

    apply.track = bad  # where Tensor._apply_op looks it up (the compiled one too)
    try:
        yield
    finally:
        apply.track = good


@contextlib.contextmanager
def write_skips_the_base():
    """An in-place op through a view rewrites the view's history only, not its base's."""
    from dyngraph import views

    good = views.autograd_base
    views.autograd_base = lambda t: t
    try:
        yield
    finally:
        views.autograd_base = good


@contextlib.contextmanager
def integer_division_gives_float64():
    """The default float dtype of integer true division (and int with a Python float) is float64."""
    from shared_ops import surface

    good = surface.DEFAULT_FLOAT
    surface.DEFAULT_FLOAT = "float64"
    try:
        yield
    finally:
        surface.DEFAULT_FLOAT = good


@pytest.mark.parametrize("plant", [view_with_its_own_version, write_skips_the_base, integer_division_gives_float64])
def test_the_fuzzer_finds_a_planted_bug(plant):
    with plant():
        with pytest.raises(Disagreement) as info:
            # no shrinking: each step runs on two frameworks, and the program found is already short
            fuzz(max_examples=500, steps=15, database=None, derandomize=True, phases=[Phase.generate],
                 suppress_health_check=list(HealthCheck))
        program = str(info.value).split("replay('''\n", 1)[1].rsplit("\n'''", 1)[0]
        with pytest.raises(Disagreement):
            replay(program)  # the printed program is a reproducer
    replay(program)  # and without the bug it runs clean
    assert torchfuzz.KEY_PHRASES  # the error key words are part of the comparison


KNOWN = """
t0 = m.tensor([[0.05, 1.8], [-0.75, -0.31]], dtype=m.float64, requires_grad=True)
t1 = t0.max(0).values
t0.detach().fill_(-1.0)
t1.sum().backward()
"""


def test_a_saved_version_program_the_fuzzer_found_replays_clean():
    """dyngraph's max(dim) saves the indices, as PyTorch's: an in-place change of the input
    after the call leaves the backward allowed on both (tests/dyngraph/test_saved.py has the rest)."""
    pair = replay(KNOWN)
    assert pair.ns["dyngraph"]["t0"].grad.tolist() == pair.ns["torch"]["t0"].grad.tolist()


def test_a_result_laid_out_as_a_permuted_input_is_compared():
    """PyTorch's elementwise result keeps a permuted input's layout, and so does dyngraph's: the
    fuzzer compares every tensor's strides, and a view PyTorch refuses is refused by both."""
    from graphcompare.torchfuzz_draws import layout

    pair = replay("""
t0 = m.tensor([[0.75, 0.19, 1.4], [0.01, -1.0, -1.7]], dtype=m.float64)
t1 = t0.t() * 1.0
t2 = t1.view(-1)
""")
    assert layout(pair.ns["dyngraph"]["t1"]) == layout(pair.ns["torch"]["t1"]) == ((1, 3), 0, False)
    assert "t2" not in pair.ns["dyngraph"] and "t2" not in pair.ns["torch"]  # refused on both


@contextlib.contextmanager
def results_are_contiguous():
    """Every op's result is row-major, whatever its inputs' layouts."""
    from dyngraph import apply

    good = apply.lay_out
    apply.lay_out = lambda t, op, inputs, attrs: None
    try:
        yield
    finally:
        apply.lay_out = good


def test_the_fuzzer_finds_contiguous_results():
    with results_are_contiguous():
        with pytest.raises(Disagreement) as info:
            fuzz(max_examples=500, steps=15, database=None, derandomize=True, phases=[Phase.generate],
                 suppress_health_check=list(HealthCheck))
        program = str(info.value).split("replay('''\n", 1)[1].rsplit("\n'''", 1)[0]
        with pytest.raises(Disagreement):
            replay(program)
    replay(program)
