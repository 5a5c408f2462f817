"""dyngraph's optional compiled accelerator, and the switch that turns it off.

The C modules ``dyngraph/_c*.c`` (built by ``setup.py`` when the package is installed, where a C
compiler is found) run dyngraph's hottest loops, recording a node and walking the graph
backward, without the interpreter's per-opcode cost. The Python modules stay the reference: each
compiled function makes what its Python twin makes, bitwise, and the tests run both.

``load(name)`` gives the compiled module, or ``None`` where dyngraph runs its Python twin:
- ``DYNGRAPH_PURE=1`` in the environment (read once, at import) turns every compiled module off;
- a module that is not built (no compiler at install time) is simply absent;
- a module built from another source than the ``.c`` file (and its ``_cNAME_*.h`` headers) beside it
  (edited, not rebuilt) is
  refused with a ``RuntimeWarning`` that says how to rebuild.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import warnings
from pathlib import Path

PURE = os.environ.get("DYNGRAPH_PURE", "").strip() not in ("", "0")
LOADED: dict = {}  # name -> the compiled module in use

_HERE = Path(__file__).parent


def _source_hash(name: str):
    # the .c file, then the headers named after it (``_cwalk_rule.h``), as setup.py hashes them
    src = _HERE / f"{name}.c"
    try:
        h = hashlib.sha256(src.read_bytes())
        for part in sorted(_HERE.glob(f"{name}_*.h")):
            h.update(part.read_bytes())
        return h.hexdigest()[:16]
    except OSError:  # an installed wheel ships the built module without its source
        return None


def load(name: str):
    """The compiled module ``dyngraph.<name>``, or ``None`` (see the module docstring)."""
    if PURE:
        return None
    try:
        mod = importlib.import_module(f"dyngraph.{name}")
    except ImportError:
        return None
    expected = _source_hash(name)
    built = getattr(mod, "SOURCE_HASH", None)
    if expected is not None and built != expected:
        warnings.warn(f"dyngraph.{name} was built from another version of dyngraph/{name}.c (hash {built}, "
                      f"the file now hashes to {expected}); dyngraph runs its pure-Python twin instead. "
                      "Rebuild it with `python -m pip install -e .` (or `python setup.py build_ext --inplace`).",
                      RuntimeWarning, stacklevel=2)
        return None
    LOADED[name] = mod
    return mod


def accelerated() -> tuple:
    """The names of the compiled modules in use, sorted (empty: dyngraph runs pure Python)."""
    return tuple(sorted(LOADED))
