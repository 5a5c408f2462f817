"""The entry ``fn(*arrays)`` runs: one generated Python function per ``CompiledFunction``.

A call of a small compiled program is mostly Python: checking the feeds, finding the
executable, calling it, putting the results in the caller's structure. The entry does the
common case in one frame of straight-line code written for this function's inputs and
outputs:

- each feed passes the fast test: an exact ``ndarray`` of its placeholder's dtype (NumPy's
  builtin dtypes are singletons, so ``is`` decides) and fixed sizes;
- ``shared_ops.generation()`` has not moved and the NumPy executable still runs the ``run``
  the entry was made for (instrumentation, perturbation, ``wrap_kernels`` or a tier switch
  change them);
- the run: the executable's ``run``, or in whole-step mode, once numba has built the step and
  the program has no variables, the compiled step itself (``WholeStep.call_code``);
- the results in the caller's structure, a 0-d output as a NumPy scalar (``[()]``).

Anything else (keyword or feed-dict calls, another number of arguments, a feed needing the
full check or a cast, another backend, a step refusing its arguments) takes
``CompiledFunction._call``, the full path, which raises the same errors and makes a new entry
when this one went stale. ``python benchmarks/bench_entry.py`` measures the entry against the
full path.
"""

from __future__ import annotations

import numpy as np

from shared_ops import generation

from .graph import Node


def make(fn):
    """The entry of ``fn`` (a ``CompiledFunction``) for its NumPy executable as it runs now."""
    exe, p = fn._numpy_exe, fn.program
    g = {"_slow": fn._call, "_fn": fn, "_exe": exe, "_nd": np.ndarray, "_gen": generation, "_g": generation()}
    L = ["def entry(*args, **kwargs):"]
    if exe is None:  # no NumPy executable (a function pinned to another backend): the full path
        L.append("    return _slow(args, kwargs)")
        return _compile(L, g, None)
    g["_run"] = run = exe.run
    names = [f"a{j}" for j in range(len(fn._fast))]
    L += [f"    if kwargs or len(args) != {len(names)}:", "        return _slow(args, kwargs)"]
    if names:
        L.append(f"    {''.join(a + ', ' for a in names)}= args")
    conds = _feed_test(fn._fast, g) + ["_gen() != _g", "_exe.run is not _run"]
    L += [f"    if {' or '.join(conds)}:", "        return _slow(args, kwargs)"]
    ws = exe.whole_step
    if ws is not None and run is not exe.python_run and not p.variables:
        step_globals, call, outs, _ = ws.call_code(names, [])
        g.update(step_globals)
        # a step refusing its arguments (another layout): the full path runs its NumPy tier
        L += ["    try:", f"        r = {call}", "    except Exception:", "        return _slow(args, kwargs)",
              "    _fn.calls += 1"]
    else:
        V = "V" if p.variables else "()"
        if p.variables:
            g["_current"] = fn._current
            L.append("    V = _current(_exe)")
        g.update(_annotate=fn._annotate, _store=fn._store)
        L += ["    try:", f"        r, assigned = _run(args, {V})", "    except Exception as exc:",
              "        _annotate(_exe, exc, args)", "        raise", "    _fn.calls += 1"]
        if p.assigns:
            L.append(f"    _store(assigned, args, {V})")
        outs = [f"r[{k}]" + ("" if p[i].shape else "[()]") for k, i in enumerate(p.outputs)]
    L.append(f"    return {_structure(fn, outs, g)}")
    return _compile(L, g, run)


def _feed_test(fast: list, g: dict) -> list:
    """The conditions under which feeds ``a0, a1...`` need the full check (``check_feeds``):
    one not exactly an ``ndarray``, not of its placeholder's dtype object (NumPy's builtin
    dtypes are singletons: another instance of an equal dtype takes the full check), or of
    other fixed sizes. ``fast``: per input, ``(dtype, ndim, ((axis, size), ...))``."""
    conds = []
    for j, (dtype, ndim, fixed) in enumerate(fast):
        g[f"_dt{j}"] = dtype
        conds += [f"a{j}.__class__ is not _nd", f"a{j}.dtype is not _dt{j}"]
        if len(fixed) == ndim:  # every size known: one tuple comparison
            g[f"_sh{j}"] = tuple(d for _, d in fixed)
            conds.append(f"a{j}.shape != _sh{j}")
        else:
            conds.append(f"len(a{j}.shape) != {ndim}")
            conds += [f"a{j}.shape[{k}] != {d}" for k, d in fixed]
    return conds


def plain_checker(fast: list):
    """``check(*arrays) -> bool``: True when the feeds need no full check, the entry's own
    test (``_feed_test``) for the full path's feeds given by name."""
    g = {"_nd": np.ndarray}
    conds = _feed_test(fast, g) or ["False"]
    args = "".join(f"a{j}, " for j in range(len(fast)))
    source = f"def check({args}):\n    return not ({' or '.join(conds)})\n"
    exec(compile(source, "<staticgraph feed check>", "exec"), g)  # our own generated code
    return g["check"]


def _structure(fn, outs: list, g: dict) -> str:
    """The expression giving the results in the caller's structure."""
    if isinstance(fn.structure, Node):
        return outs[0]
    if fn._rebuild is list:
        return "[" + ", ".join(outs) + "]"
    if fn._rebuild is tuple:
        return "(" + "".join(o + ", " for o in outs) + ")"
    g["_rebuild"] = fn._rebuild
    return f"_rebuild([{', '.join(outs)}])"


def _compile(lines: list, g: dict, run):
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<staticgraph entry>", "exec"), g)  # our own generated code
    entry = g["entry"]
    entry.run, entry.generation, entry.source = run, g["_g"], source
    return entry


def stale(fn) -> bool:
    """Whether ``fn``'s entry was made for another executable ``run`` or generation."""
    entry, exe = fn._entry, fn._numpy_exe
    return entry.run is not (exe.run if exe is not None else None) or entry.generation != generation()


__all__ = ["make", "stale", "plain_checker"]
