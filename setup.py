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


def _extension(src: Path) -> Extension:
    # a module's source: its .c file and the headers named after it (``_cwalk_rule.h``), hashed
    # in that order, as ``dyngraph._accel`` hashes them
    headers = sorted(src.parent.glob(f"{src.stem}_*.h"))
    h = hashlib.sha256(src.read_bytes())
    for part in headers:
        h.update(part.read_bytes())
    return Extension(f"dyngraph.{src.stem}", [str(src.relative_to(HERE))], optional=True,
                     depends=[str(p.relative_to(HERE)) for p in headers],
                     define_macros=[("GC_SOURCE_HASH", f'"{h.hexdigest()[:16]}"')], extra_compile_args=["-O2"])


setup(ext_modules=[_extension(src) for src in sorted((HERE / "dyngraph").glob("_c*.c"))])
