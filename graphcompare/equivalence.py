"""Run one program every way and say, precisely, where the ways disagree.

The ways (``WAYS``):

``dyngraph``
    ``backward()`` on the program in its own dtypes: the baseline ("plain").
``static``
    ``sg.gradients`` + ``sg.compile(optimize=False)``. Promised **bitwise** equal to dyngraph.
``function``
    ``sg.function(optimize=False)`` tracing the loss and ``sg.gradients`` in one function.
    Promised bitwise equal to dyngraph.
``pass:<name>``
    ``sg.compile(optimize=[name])``, each compiler pass alone. A pass that declares itself
    exact (``EXACT`` in its module, read by ``staticgraph.passes.exact_passes``) only removes
    or shares work and is held to bitwise equality too (``fold`` only on NumPy, where it
    computes); the others to the tolerance.
``optimized``
    ``sg.compile(optimize=True)``: every pass. Held to the tolerance.
``finite differences``
    the float64 reference's gradient against central differences of the float64 loss
    (``oracles``).
``torch``
    the float64 reference against PyTorch in float64 (when PyTorch is installed): within
    ``1e-9 * (|r| + max|r|) + 16 * (E64 + max E64)`` (``E64``: ``E`` below, of the float64
    reference: two correct float64 computations that add cancelling terms in different orders
    differ by an ULP of the terms).

**The tolerance rule.** The *float64 reference* ``r`` is dyngraph on the same program with
every input cast (exactly) to float64 and every cast dropped. The plain run ``p`` (dyngraph in
the program's dtypes) has an error ``|p - r|`` that the reference measures. A result ``a`` of
a way held to the tolerance passes when, elementwise::

    |a - r| <= 4 * max|p - r| + 8 * eps * (|r| + max|r|) + 16 * (E + max E)

``eps`` is the machine epsilon of the result's dtype (``2**-23`` for float32) and the maxima run
over the one array (output or gradient) compared. ``E`` is how far one ULP of rounding at every
op moves the value, measured by Monte Carlo arithmetic (``_runners.rounding_error``): the
largest ``|p_k - p| / 16`` over three runs ``p_k`` of the plain program with every rounding
kernel's result multiplied by ``1 + 16 * eps(dtype) * u``, ``u`` uniform in [-1, 1]
(``shared_ops.perturb_rounding``), each op at its own dtype's epsilon. The first two terms
scale with the result; the last is what a legitimately different order or libm needs when
terms cancel: it moves the result by an ULP of the *terms* (in float64 the plain run is the
reference, so ``|p - r|`` is 0). A wrong rule, a dropped term or a lost broadcast is off by
the size of a term and fails; so does float64 math computed in float32 (1e-8 relative).

``check_program(program) -> Result`` runs a ``graphcompare.program.Program``;
``check_model(fn, inputs)`` runs a user's own model function written against the shared
surface (``fn(*xs)``, or ``fn(F, *xs)`` whose first parameter is named ``F`` and receives the
front end's module, for ``F.where`` and friends).
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _runners as R
from ._ways import (MAX_MAGNITUDE, _guard, _run_way, _torch, _worst, default_ways,  # noqa: F401
                    exact_passes, pass_names)
from .program import NoSpelling, Program, compile_model

BITWISE_WAYS = ("static", "function")


@dataclass
class Difference:
    """One way disagreeing on one value: an item of ``Result.differences``.

    Args:
        way: the way that disagreed (``"static"``, ``"pass:cse"``, ``"torch"``...).
        what: the value (``"grad x1"``, ``"output v3"``, ``"raised"``...).
        message: what was wrong.
        max_abs: the largest absolute difference, when values were compared.
        max_rel: the largest relative difference.
        max_ulp: the largest difference in units in the last place.

    Examples:
        >>> from graphcompare.equivalence import Difference
        >>> print(Difference("static", "grad x0", "not bitwise equal", 1e-7, 2e-7, 1))
        static: grad x0: not bitwise equal [max abs 1e-07, max rel 2e-07, ULP 1]
    """

    way: str
    what: str  # "grad x1", "output v3", "raised", "direction 0"
    message: str
    max_abs: float | None = None
    max_rel: float | None = None
    max_ulp: int | None = None

    def __str__(self) -> str:
        nums = ""
        if self.max_abs is not None:
            nums = f" [max abs {self.max_abs:.3g}, max rel {self.max_rel:.3g}, ULP {self.max_ulp}]"
        return f"{self.way}: {self.what}: {self.message}{nums}"


@dataclass
class Result:
    """What ``check_program`` / ``check_model`` found.

    ``ok`` is False when some way disagreed (``differences``, first one first); ``valid`` is
    False when the program was rejected before comparing (``reason``: a kink, an overflow).
    ``worst`` maps each way to its largest difference from what it was compared with
    (max abs, max ULP); ``used`` maps each way held to the tolerance to the largest fraction
    of its bound that it used (below 1 when it passed); ``reproducer`` is a standalone script
    that fails the same way.

    Args:
        ok: every way agreed.
        valid: the program was compared (not rejected).
        reason: why it was rejected.
        differences: the ``Difference`` of each way that disagreed.
        worst: way -> (max abs, max ULP) difference.
        used: way -> largest fraction of its tolerance used.
        ways: the ways compared.
        program: the program checked (``None`` for ``check_model``).
        subject: the model, inputs and weights that were run.

    Examples:
        >>> from graphcompare.equivalence import Result
        >>> Result(valid=False, reason="x0 is not finite").report()
        'rejected: x0 is not finite'
    """

    ok: bool = True
    valid: bool = True
    reason: str = ""
    differences: list = field(default_factory=list)
    worst: dict = field(default_factory=dict)
    used: dict = field(default_factory=dict)  # tolerance way -> largest fraction of its bound used
    ways: tuple = ()
    program: Program | None = None
    subject: Any = None
    _repro: str | None = None

    @property
    def first(self) -> Difference | None:
        return self.differences[0] if self.differences else None

    @property
    def reproducer(self) -> str:
        if self.ok or self.subject is None or self.subject.sources is None:
            return ""
        if self._repro is None:
            from .reproduce import reproducer

            self._repro = reproducer(self.subject, self.first.way)
        return self._repro

    def report(self) -> str:
        """The result in words (also what printing it gives).

        Returns:
            ``"all ways agree"``, ``"rejected: <reason>"``, or each disagreement on a line
            followed by the program's source and a reproducer script.

        Examples:
            >>> from graphcompare.equivalence import Result
            >>> Result().report()
            'all ways agree'
        """
        if not self.valid:
            return f"rejected: {self.reason}"
        if self.ok:
            return "all ways agree"
        lines = [f"{len(self.differences)} disagreement(s):"] + [f"  {d}" for d in self.differences]
        if self.program is not None:
            lines += ["program:", self.program.model_source()]
        if self.reproducer:
            lines += ["reproducer:", self.reproducer]
        return "\n".join(lines)

    __str__ = report


@dataclass
class Subject:
    """A model with its inputs and loss weights, in the program's dtypes and in float64."""

    model: Callable
    model64: Callable
    X: list
    W: list
    names: list
    model_torch: Callable | None = None
    sources: dict | None = None  # model / model64 / torch source text, for reproducers
    seed: int = 0
    program: Program | None = None

    @property
    def X64(self):
        return [np.asarray(a, dtype=np.float64) for a in self.X]

    @property
    def W64(self):
        return [np.asarray(w, dtype=np.float64) for w in self.W]


def subject_of(program: Program, seed: int = 0, torch_oracle: bool = True) -> Subject:
    src = program.model_source("surface")
    src64 = program.model_source("surface64", name="model64") if program.has_casts() else src.replace("def model(", "def model64(", 1)
    torch = _torch() if torch_oracle else None  # without the torch way, PyTorch is never imported
    try:
        tsrc = program.model_source("torch", name="model_torch")
    except NoSpelling:  # some op has no PyTorch spelling: no torch oracle for this program
        tsrc, torch = None, None
    return Subject(
        model=compile_model(src),
        model64=compile_model(src64, "model64"),
        model_torch=compile_model(tsrc, "model_torch", {"torch": torch}) if torch is not None else None,
        X=program.inputs(),
        W=[w.astype(program.nodes[i].dtype) for w, i in zip(program.weights, program.outputs)],
        names=[f"output {n}" for n in program.output_names()] + [f"grad {n}" for n in program.leaf_names()],
        sources={"model": src, "model64": src64, "torch": tsrc},
        seed=seed,
        program=program,
    )


def _diff_from_assertion(way, exc, names, got, expected) -> Difference:
    msg = str(exc)
    what = next((n for n in names if f": {n} " in msg), "value")
    d = Difference(way, what, msg.split(": ", 1)[-1] if ": " in msg else msg)
    if what in names:
        k = names.index(what)
        a, b = got[k], expected[k]
        if a is not None and b is not None and np.shape(a) == np.shape(b):
            d.max_abs, d.max_rel, d.max_ulp = R.differences(a, b)
    return d


def check_subject(s: Subject, ways=None, stop_at_first: bool = False) -> Result:
    ways = tuple(ways or default_ways())
    res = Result(ways=ways, program=s.program, subject=s)

    def fail(d: Difference) -> None:
        res.ok = False
        res.differences.append(d)

    def raised(way, exc) -> Difference:
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (at {tb[-1].filename.split('/')[-1]}:{tb[-1].lineno})" if tb else ""
        return Difference(way, "raised", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{where}")

    # the float64 reference: the judge of validity and of the tolerance
    try:
        if s.program is not None:
            why = _guard(s.program, s.X64)
            if why:
                res.valid, res.reason = False, why
                return res
        ref = R.run_dyngraph(s.model64, s.X64, s.W64)
    except Exception as exc:  # noqa: BLE001 - any exception is a finding
        fail(raised("dyngraph float64", exc))
        return res
    if not all(r is None or (np.all(np.isfinite(r)) and (r.size == 0 or np.max(np.abs(r)) <= 1e8)) for r in ref):
        res.valid, res.reason = False, "the float64 reference gradient is not finite or exceeds 1e8"
        return res
    try:
        plain = R.run_dyngraph(s.model, s.X, s.W)
    except Exception as exc:  # noqa: BLE001
        fail(raised("dyngraph", exc))
        return res
    if not all(p is None or np.all(np.isfinite(p)) for p in plain):
        res.valid, res.reason = False, "the plain run overflows in its own dtype"
        return res
    names = s.names
    err = err64 = None  # how far rounding moves each value (plain dtypes; float64), measured once if needed
    for way in ways:
        if stop_at_first and not res.ok:
            break
        try:
            if way == "finite differences":
                grads = ref[len(ref) - len(s.X):]
                try:
                    R.check_finite_differences(s.model64, s.X64, s.W64, grads, seed=s.seed)
                except AssertionError as exc:
                    fail(Difference(way, "direction", str(exc).split(": ", 1)[-1]))
                continue
            if way == "torch":
                if s.model_torch is None:
                    continue
                got = R.run_torch(s.model_torch, s.X64, s.W64)
                res.worst[way] = _worst(got, ref)
                if err64 is None:
                    err64 = R.rounding_error(s.model64, s.X64, s.W64, ref, seed=s.seed)
                try:
                    R.check_reference(got, ref, names, "torch", rounding=err64)
                except AssertionError as exc:
                    fail(_diff_from_assertion(way, exc, names, got, ref))
                continue
            got = _run_way(way, s)
            res.worst[way] = _worst(got, plain)
            exact = way in BITWISE_WAYS or (way.startswith("pass:") and way[5:] in exact_passes())
            try:
                if exact:
                    R.check_bitwise(got, plain, names, way)
                else:
                    if err is None:
                        err = R.rounding_error(s.model, s.X, s.W, plain, seed=s.seed)
                    res.used[way] = R.check_close(got, plain, ref, names, way, err)
            except AssertionError as exc:
                fail(_diff_from_assertion(way, exc, names, got, plain))
        except Exception as exc:  # noqa: BLE001 - a way that raises disagrees
            fail(raised(way, exc))
    return res


def check_program(program: Program, ways=None, seed: int = 0, stop_at_first: bool = False) -> Result:
    """Run ``program`` every way and compare each way with its reference (see the module docstring).

    Args:
        program: a ``graphcompare.program.Program``.
        ways: the ways to compare; default ``default_ways()``.
        seed: seed of the loss's weights.
        stop_at_first: stop at the first way that disagrees.

    Returns:
        A ``Result``: ``ok``, ``valid``, ``differences``, ``worst``; printing it gives the report.

    Examples:
        >>> from graphcompare.equivalence import check_program
        >>> from graphcompare.program import Leaf, Program, Step
        >>> p = Program([Leaf((2,), "float32", np.array([0.5, 1.0], np.float32)),
        ...              Step("tanh", (0,), {}, (2,), "float32")], outputs=(1,),
        ...             weights=[np.array([1.0, 2.0])])
        >>> check_program(p, ways=["static", "optimized"]).report()
        'all ways agree'
    """
    ways = tuple(ways or default_ways())
    return check_subject(subject_of(program, seed, torch_oracle="torch" in ways), ways, stop_at_first)


def check_model(fn: Callable, inputs, ways=None, seed: int = 0) -> Result:
    """Check a user's model ``fn(*xs)`` (or ``fn(F, *xs)``) on NumPy ``inputs`` every way.

    ``fn`` returns a value or a list, uses the shared surface, and is dtype-generic (the reference runs float64).

    Parameters:
        fn: the model.
        inputs: float arrays, one per parameter of ``fn`` (after ``F``).
        ways: the ways to compare; default ``default_ways()`` (``torch`` has no spelling of ``fn``).
        seed: seed of the loss's weights.

    Returns:
        A ``Result``: ``ok``, ``differences``, ``worst``; printing it gives the report.

    Raises:
        DTypeError: an input is not floating point.

    Examples:
        >>> from graphcompare.equivalence import check_model
        >>> check_model(lambda x: (x * x).tanh().sum(), [np.linspace(-1, 1, 5, dtype=np.float32)]).ok
        True
    """
    X = [np.asarray(a) for a in inputs]
    bad = [i for i, a in enumerate(X) if a.dtype.kind != "f"]
    if bad:
        from shared_ops.errors import DTypeError

        raise DTypeError(f"check_model: input(s) {bad} are not floating point; pass float32 or float64 arrays")
    takes_f = next(iter(inspect.signature(fn).parameters), None) == "F"

    def model(F, *xs):
        out = fn(F, *xs) if takes_f else fn(*xs)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    import dyngraph as dg

    with dg.no_grad():
        outs = model(dg, *[dg.tensor(a) for a in X])
    rng = np.random.default_rng(seed)
    W = [rng.uniform(0.5, 1.5, size=o.shape).astype(o.numpy().dtype) for o in outs]
    names = [f"output {k}" for k in range(len(outs))] + [f"grad input {k}" for k in range(len(X))]
    torch_model = None
    s = Subject(model, model, X, W, names, torch_model, None, seed)
    return check_subject(s, tuple(w for w in (ways or default_ways()) if w != "torch"))


__all__ = [
    "Difference",
    "Result",
    "Subject",
    "check_model",
    "check_program",
    "check_subject",
    "default_ways",
    "exact_passes",
    "pass_names",
    "subject_of",
]
