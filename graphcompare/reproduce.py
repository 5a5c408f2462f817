"""A failing program as a standalone Python script that fails the same way.

The script uses NumPy and the public API of ``dyngraph``, ``staticgraph`` and
``shared_ops.testing`` only (PyTorch for the ``torch`` way; ``shared_ops.perturb_rounding``
for the ``torch`` way and those held to the tolerance). It inlines the few helpers of ``graphcompare._runners`` it needs, verbatim,
so the check it runs is the checker's own. It raises ``AssertionError`` (or the error the way
raised) while the bug is there, and prints ``no disagreement`` once it is fixed.
"""

from __future__ import annotations

import inspect

from . import _runners as R
from .program import array_literal

_BASE = ("loss", "run_dyngraph", "_as_list", "_np", "ulp_distance", "differences")
_NEEDS = {
    "static": ("run_static", "check_bitwise"),
    "function": ("run_function", "check_bitwise"),
    "exact": ("run_static", "check_bitwise"),
    "close": ("run_static", "_zero_if_none", "rounding_error", "tolerance_bound", "check_close"),
    "finite differences": ("loss_value", "check_finite_differences"),
    "torch": ("run_torch", "rounding_error", "check_reference"),
    "dyngraph": (),
}


def _kind(way: str) -> str:
    from .equivalence import exact_passes

    if way in ("static", "function", "finite differences", "torch"):
        return way
    if way.startswith("pass:") and way[5:] in exact_passes():
        return "exact"
    if way.startswith("pass:") or way == "optimized":
        return "close"
    return "dyngraph"


def _optimize(way: str) -> str:
    return "True" if way == "optimized" else repr([way[5:]])


def _controlflow_source() -> str:
    """``graphcompare.controlflow`` pasted into the script as the namespace ``CF`` (it needs only
    NumPy and the front end it is given), so a reproducer still imports no graphcompare."""
    from . import controlflow

    text = inspect.getsource(controlflow)
    body = text.split("import numpy as np\n", 1)[1].split("\n__all__", 1)[0].strip()
    names = ", ".join(f"{n}={n}" for n in controlflow.__all__)
    return ("# the control-flow steps: sg.cond/while_loop/scan in staticgraph, Python control flow elsewhere\n" + body
            + f"\n\n\nCF = types.SimpleNamespace({names})")


def reproducer(subject, way: str) -> str:
    """The script for ``way`` failing on ``subject`` (an ``equivalence.Subject`` of a program)."""
    kind = _kind(way)
    helpers = "\n\n".join(inspect.getsource(getattr(R, n)).rstrip() for n in _BASE + _NEEDS[kind])
    src = subject.sources
    lines = [
        f'"""graphcompare reproducer: the way {way!r} disagrees. Fails while the bug is there."""',
        "import numpy as np",
        "",
        "import dyngraph as dg",
        "import staticgraph as sg",
        "from shared_ops.testing import check_directional",
        *(["import types"] if "CF." in src["model"] else []),
        "",
        helpers,
        *(["", "", _controlflow_source()] if "CF." in src["model"] else []),
        "",
        "",
        "X = [",
        *[f"    {array_literal(a)}," for a in subject.X],
        "]",
        "W = [",
        *[f"    {array_literal(w)}," for w in subject.W],
        "]",
        "X64 = [a.astype(np.float64) for a in X]",
        "W64 = [w.astype(np.float64) for w in W]",
        f"NAMES = {subject.names!r}",
        "",
        "",
        src["model"].rstrip(),
    ]
    if kind in ("close", "finite differences", "torch", "dyngraph"):
        if src["model64"] != src["model"].replace("def model(", "def model64(", 1):
            lines += ["", "", "# the float64 reference: the same program with its casts dropped", src["model64"].rstrip()]
        else:
            lines += ["", "", "model64 = model  # the float64 reference runs the same model on float64 inputs"]
    if kind == "torch":
        lines += ["", "", "import torch", "", "", src["torch"].rstrip()]
    lines += ["", "", "plain = run_dyngraph(model, X, W)"]
    if kind == "static":
        lines.append("check_bitwise(run_static(model, X, W, optimize=False), plain, NAMES, 'staticgraph optimize=False')")
    elif kind == "function":
        lines.append("check_bitwise(run_function(model, X, W, optimize=False), plain, NAMES, 'sg.function optimize=False')")
    elif kind == "exact":
        lines.append(f"check_bitwise(run_static(model, X, W, optimize={_optimize(way)}), plain, NAMES, {way!r})")
    elif kind == "close":
        lines += [
            "ref = run_dyngraph(model64, X64, W64)",
            f"err = rounding_error(model, X, W, plain, seed={subject.seed})",
            f"check_close(run_static(model, X, W, optimize={_optimize(way)}), plain, ref, NAMES, {way!r}, err)",
        ]
    elif kind == "finite differences":
        lines += [
            "ref = run_dyngraph(model64, X64, W64)",
            f"check_finite_differences(model64, X64, W64, ref[len(ref) - len(X):], seed={subject.seed})",
        ]
    elif kind == "torch":
        lines += [
            "ref = run_dyngraph(model64, X64, W64)",
            f"err64 = rounding_error(model64, X64, W64, ref, seed={subject.seed})",
            "check_reference(run_torch(model_torch, X64, W64), ref, NAMES, 'torch', rounding=err64)",
        ]
    else:
        lines.append("run_dyngraph(model64, X64, W64)")
    lines.append("print('no disagreement')")
    return "\n".join(lines) + "\n"


__all__ = ["reproducer"]
