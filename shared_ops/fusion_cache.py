"""The on-disk cache of compiled fused kernels, safe for processes sharing it.

One folder per machine, Python and numba version under ``$GRAPHCOMPARE_CACHE`` (default
``~/.cache/graphcompare/fusion``). A kernel is a generated module ``gc_fused_<hash>.py`` whose
machine code numba caches beside it (``__pycache__``). Every file is written under a temporary
name and renamed into place (numba does the same for its own), so a reader never sees half a
file. Before a module is loaded, its text is compared with the text it must have, and numba's
files with the SHA-256 sums recorded in ``gc_fused_<hash>.ok`` after they were last written: a
truncated, corrupt or foreign entry is deleted (numba then compiles it again), never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import threading

STATS = {"rebuilt": 0}


def cache_dir() -> str | None:
    """The on-disk kernel folder of this machine, Python and numba (``None``: not writable)."""
    from importlib.metadata import version

    base = os.environ.get("GRAPHCOMPARE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "graphcompare", "fusion")
    tag = f"{platform.machine()}-py{sys.version_info[0]}{sys.version_info[1]}-numba{version('numba')}"
    d = os.path.join(base, tag)
    try:
        os.makedirs(d, exist_ok=True)
        return d if os.access(d, os.W_OK) else None
    except OSError:
        return None


def write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _numba_files(d: str, stem: str) -> list:
    pyc = os.path.join(d, "__pycache__")
    try:
        return sorted(os.path.join(pyc, f) for f in os.listdir(pyc) if f.startswith(stem + ".") and not f.endswith(".tmp"))
    except FileNotFoundError:
        return []


def _checksums(files) -> dict:
    out = {}
    for f in files:
        with open(f, "rb") as fh:
            out[os.path.basename(f)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def verify(d: str, stem: str, body: str) -> None:
    """Delete what does not match: the module if its text is not ``body``, numba's cache
    files if they are not exactly those recorded in ``<stem>.ok``."""
    path = os.path.join(d, stem + ".py")
    try:
        with open(path) as f:
            ok = f.read() == body
    except (FileNotFoundError, UnicodeDecodeError):
        ok = False
    if not ok:
        write_atomic(path, body.encode())
    files = _numba_files(d, stem)
    try:
        with open(os.path.join(d, stem + ".ok")) as f:
            recorded = json.load(f)
    except (FileNotFoundError, ValueError):
        recorded = None
    if files and (not ok or recorded != _checksums(files)):
        for f in files:
            try:
                os.remove(f)
            except FileNotFoundError:
                pass
        STATS["rebuilt"] += 1


def record(d: str, stem: str) -> None:
    """Record the checksums of numba's cache files for the module (after it compiled)."""
    write_atomic(os.path.join(d, stem + ".ok"), json.dumps(_checksums(_numba_files(d, stem))).encode())



__all__ = ["cache_dir", "verify", "record", "write_atomic", "STATS"]
