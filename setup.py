"""Builds dyngraph's optional compiled accelerator; the metadata lives in pyproject.toml.

Each ``dyngraph/_c*.c`` is one CPython extension module. They are optional: where no C compiler
or no Python headers are found, the install still succeeds and dyngraph runs its pure-Python
modules, which stay the reference the compiled ones are tested against (``dyngraph/_accel.py``).
Each module is compiled with the hash of its own source, so that ``dyngraph._accel`` can refuse
a module built from an older source (an edited ``.c`` file not rebuilt yet).
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent


def _parts(src: Path) -> list:
    """The files ``src`` includes from its folder ``<name>_parts/`` (a module kept in files under
    400 lines, compiled as one unit); they are part of its hash."""
    return sorted((src.parent / f"{src.stem}_parts").glob("*.h"))


def _extension(src: Path) -> Extension:
    h = hashlib.sha256(src.read_bytes())
    for part in _parts(src):  # the same order and bytes as dyngraph/_accel.py's hash
        h.update(part.read_bytes())
    digest = h.hexdigest()[:16]
    return Extension(f"dyngraph.{src.stem}", [str(src.relative_to(HERE))], optional=True,
                     depends=[str(p.relative_to(HERE)) for p in _parts(src)],
                     define_macros=[("GC_SOURCE_HASH", f'"{digest}"')], extra_compile_args=["-O2"])


setup(ext_modules=[_extension(src) for src in sorted((HERE / "dyngraph").glob("_c*.c"))])
