"""Write the API reference pages (docs/reference/*.md), organised by public API.

Each page lists the names a user imports (``dg.tensor``, ``sg.compile``...), grouped by what
they are for, each rendered by mkdocstrings from its docstring under the name the user types.
The groups are declared here; every name of ``dyngraph.__all__``, ``staticgraph.__all__`` and
``shared_ops.__all__`` must be in one (``tests/docs/test_reference.py`` checks that, and that the committed pages are
what this script writes)::

    python docs/gen_reference.py
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

DG_GROUPS = {
    "Creating tensors": ["tensor", "Tensor", "zeros", "ones", "empty", "full", "rand", "randn", "arange",
                         "from_numpy", "zeros_like", "ones_like", "rand_like", "randn_like", "manual_seed"],
    "Autograd": ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
                 "is_inference_mode_enabled", "autograd"],
    "Functions with out=": ["add", "sub", "mul", "div"],
    "Models and optimisers": ["nn", "optim"],
    "The recorded graph": ["to_dot", "to_networkx", "stats", "reset_stats", "Node", "AccumulateGrad", "SavedValue"],
    "Errors": ["AutogradError", "FreedGraphError", "InplaceError", "ShapeError", "DTypeError"],
    "Dtypes": ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"],
}

SG_GROUPS = {
    "Declaring a graph": ["Graph", "Node", "SymShape", "placeholder", "variable", "constant", "arange", "assign",
                          "assign_sub", "assign_add", "get_default_graph", "reset_default_graph"],
    "Gradients": ["gradients", "SymbolicOps"],
    "Control flow": ["cond", "while_loop", "scan"],
    "Compiling and running": ["compile", "CompiledFunction", "Session", "function", "Function"],
    "Export and files": ["to_dot", "to_networkx", "save", "load"],
    "Writing a compiler pass": ["Program", "PNode", "PassContext", "PassResult"],
    "Models and training": ["nn", "train"],
    "Errors": ["TracingError", "GraphError", "FeedError", "LoadError"],
}

GC_GROUPS = {
    "Checking a model": ["graphcompare.equivalence.check_model", "graphcompare.equivalence.check_program",
                         "graphcompare.equivalence.Result", "graphcompare.equivalence.Difference"],
    "Programs": ["graphcompare.program.Program", "graphcompare.program.Leaf", "graphcompare.program.Step"],
    "Random programs and recipes": [
        "graphcompare.strategies.programs", "graphcompare.recipes.Recipe", "graphcompare.recipes.register_recipe",
        "graphcompare.recipes.unregister_recipe", "graphcompare.recipes.simple_recipe", "graphcompare.recipes.drawable_ops",
        "graphcompare.recipes.uncovered_ops"],
    "Fuzzing dyngraph against PyTorch": ["graphcompare.torchfuzz.fuzz", "graphcompare.torchfuzz.replay",
                                         "graphcompare.torchfuzz.Disagreement"],
    "The command line": ["graphcompare.cli.main"],
}

SO_GROUPS = {
    "Declaring and finding ops": ["register", "get_op", "all_ops", "OpDef", "Spec", "Registry", "REGISTRY"],
    "The interpreters of gradient rules": ["OpsNamespace", "ArrayOps", "array_ops", "ShapeOnly", "ALL_TRUE"],
    "Backends and devices": ["get_backend", "Backend", "backend_of", "common_backend", "default_backend",
                             "set_default_backend", "use_backend", "parse_device"],
    "Counting, perturbing and wrapping kernels": ["instrument", "Stats", "perturb_rounding", "wrap_kernels", "bind",
                                                  "generation"],
    "Dtypes": ["dtype_name", "is_floating", "result_dtype", "FLOATING"],
    "Errors": ["GraphCompareError", "ShapeError", "DTypeError", "AxisError", "UnknownOpError", "OpAttributeError",
               "BackendError", "DeviceError", "RegistryError"],
    "The tensor surface": ["TensorSurface"],
}
# the public values that are not functions or classes: a line each, instead of an entry
SO_VALUES = {
    "REGISTRY": "the global `Registry`, where `register` declares and `get_op` finds ops.",
    "ALL_TRUE": "the default `needs_input_grad` of an interpreter: every input wants a gradient.",
    "FLOATING": "the floating-point dtype names, `(\"float16\", \"float32\", \"float64\")`.",
    "TensorSurface": "the operators and methods `dg.Tensor` and `sg.Node` share: see "
                     "[the shared tensor surface](surface.md).",
}

INTRO = {
    "dyngraph": ("# dyngraph (`dg`)\n\n`import dyngraph as dg`: the define-by-run front end, with PyTorch's "
                 "names and semantics. The operators and methods a `Tensor` shares with `sg.Node` (`+`, `@`, "
                 "`sum`, `view`, `tanh`...) are on the [shared surface](surface.md); the functions both front "
                 "ends take from `shared_ops` (`dg.where`, `dg.stack`, `dg.conv2d`...) are listed there too."),
    "staticgraph": ("# staticgraph (`sg`)\n\n`import staticgraph as sg`: the define-then-run front end, in the "
                    "manner of TensorFlow 1.x and Theano. A `Node` has the operators and methods of the "
                    "[shared surface](surface.md)."),
    "shared_ops": ("# shared_ops\n\nThe op library both front ends run on: the registry of ops (each op's "
                   "`forward`, `infer` and `vjp`, declared once), the interpreters its gradient rules run on, the "
                   "backends (NumPy, CuPy, array-api-strict), the dispatch point that can count kernel calls "
                   "(`instrument`) or perturb every rounding result (`perturb_rounding`, Monte Carlo arithmetic), "
                   "dtypes and the error classes. [Chapter 9](../tutorial/09-own-op.md) writes an op of its own; "
                   "`shared_ops.testing` checks one as the library checks its own. Every registered op, with its "
                   "gradient rule, is on [the ops page](ops.md)."),
    "graphcompare": ("# graphcompare\n\nThe comparison itself: the equivalence checker "
                     "([chapter 5](../tutorial/05-equivalence.md)) and the command line "
                     "(`graphcompare check`, `graphcompare run`), the random programs it checks, and the recipes that "
                     "let them draw an op of yours (import them from `graphcompare.optable`; "
                     "[extending the op library](../extending.md) adds one)."),
}


# a public submodule whose classes live elsewhere: document them where they are defined
HOMES = {"dyngraph.nn": ["shared_ops.nn.module", "shared_ops.nn.state.IncompatibleKeys", "shared_ops.nn.containers", "shared_ops.nn.layers", "shared_ops.nn.recurrent"],
         "staticgraph.nn": []}  # the same classes as dg.nn: one implementation, documented once
# a layer's forward/extra_repr are Module's, documented once there (as PyTorch's reference does)
FILTERS = {"shared_ops.nn.layers": ["!^_", "!^forward$", "!^extra_repr$", "!^fn$"],
           "shared_ops.nn.recurrent": ["!^_", "!^forward$", "!^extra_repr$"],
           # the example table and its row type are values, described in a line instead
           "shared_ops.testing": ["!^_", "!^EXAMPLES$", "!^Case$"]}
# classes made of a mixin in another file (Module's parameter values, Program's rewrites): show
# the mixin's methods as theirs
INHERITED = {"shared_ops.nn.module", "staticgraph.program.Program"}


def _where(module, name: str) -> str:
    """The defining path of a public name (mkdocstrings documents the object where it lives)."""
    obj = getattr(module, name)
    home = getattr(obj, "__module__", None)
    if isinstance(obj, type(sys)):  # a submodule
        return obj.__name__
    if home is None or not hasattr(sys.modules.get(home), getattr(obj, "__name__", name)):
        return f"{module.__name__}.{name}"
    return f"{home}.{obj.__name__}"


def _found(path: str, obj=None) -> bool:
    """Whether mkdocstrings (griffe, reading the source statically) finds ``path`` as what it is:
    a function made at run time (``zeros = _full_like_fn("zeros")``) reads as an attribute
    without its docstring, so it is written from the live object instead."""
    import inspect

    import griffe

    top = path.split(".")[0]
    if top not in _LOADED:
        _LOADED[top] = griffe.load(top, search_paths=[str(DOCS.parent)])
    try:
        found = _LOADED[top][path[len(top) + 1:]]
    except (KeyError, griffe.AliasResolutionError):
        return False
    return not (inspect.isfunction(obj) and found.kind.value == "attribute")


_LOADED: dict = {}


def _plain(obj, heading: str) -> str:
    """An entry written from the live object: the signature, the summary, and the Google
    sections as mkdocstrings shows them (parameters as a table, the example as code)."""
    import inspect
    import re

    doc = inspect.cleandoc(obj.__doc__ or "")
    summary, _, rest = doc.partition("\n\n")
    sig = inspect.signature(obj)
    sig = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "self"])  # a method, shown as called
    out = [f"### `{heading}`\n\n```text\n{heading}{sig}\n```\n\n{summary}\n"]
    for title, body in re.findall(r"^(\w+):\n((?:    .*\n?|\n)*)", rest, flags=re.M):
        body = inspect.cleandoc(body)
        # an item is "name: text", its continuation lines indented below it
        items = [(m[0], " ".join(m[1].split())) for m in re.findall(r"^([*\w.]+): (.*(?:\n[ \t]+.*)*)", body, flags=re.M)]
        if title in ("Args", "Parameters", "Raises") and items:
            head = "Type" if title == "Raises" else "Name"
            out.append(f"**{'Raises' if title == 'Raises' else 'Parameters'}:**\n\n| {head} | Description |\n| --- | --- |\n"
                       + "".join(f"| `{name}` | {text.replace('|', '&#124;')} |\n" for name, text in items))
        elif title.startswith("Example"):
            out.append(f"**{title}:**\n\n```pycon\n{body}\n```\n")
        else:
            out.append(f"**{title}:** {' '.join(body.split())}\n")
    return "\n".join(out) + "\n"


def _entry(path: str, heading: str, obj=None) -> str:
    if obj is not None and not _found(path, obj):
        return _plain(obj, heading)
    filters = f"      filters: {FILTERS[path]}\n".replace("'", '"') if path in FILTERS else ""
    inherited = "      inherited_members: true\n" if path in INHERITED else ""
    return (f"::: {path}\n    options:\n      heading: \"{heading}\"\n      show_root_heading: true\n"
            f"      heading_level: 3\n{filters}{inherited}")


def front_end_page(module, alias: str, groups: dict) -> str:
    out = [INTRO[module.__name__], ""]
    for title, names in groups.items():
        out += [f"## {title}", ""]
        if title == "Dtypes":
            out += [", ".join(f"`{alias}.{n}`" for n in names) + ": dtype objects; a dtype may also be given "
                    "by name (`\"float64\"`) or as a NumPy dtype.", ""]
            continue
        for n in names:
            path = _where(module, n)
            if HOMES.get(path) == []:
                out.append(f"### `{alias}.{n}`\n\nThe same classes as `dg.{n}` (one implementation, written on the "
                           f"shared surface; here parameters are `sg.variable`s): see "
                           f"[dyngraph](dyngraph.md#models-and-optimisers).\n")
                continue
            for i, home in enumerate(HOMES.get(path, [path])):
                shown = f"{alias}.{n}" if len(HOMES.get(path, [])) < 2 else f"{alias}.{n} ({home.rsplit('.', 1)[1]})"
                out.append(_entry(home, shown, getattr(module, n)))
    return "\n".join(out).rstrip() + "\n"


def shared_ops_page() -> str:
    import shared_ops

    out = [INTRO["shared_ops"], ""]
    for title, names in SO_GROUPS.items():
        out += [f"## {title}", ""]
        for n in names:
            if n in SO_VALUES:
                out.append(f"### `shared_ops.{n}`\n\n`shared_ops.{n}`: {SO_VALUES[n]}\n")
            else:
                out.append(_entry(_where(shared_ops, n), f"shared_ops.{n}"))
    out += ["## Checking an op", "",
            "`shared_ops.testing` checks an op (yours or the library's) the way the library checks its own: "
            "`check_vjp` against finite differences, `check_infer` against what `forward` returns, `check_op` "
            "over the op's example inputs. `EXAMPLES` is the table of example generators (op name -> "
            "`fn(rng, dtype) -> [(inputs, attrs), ...]`; `example` adds to it); a `Case` is one "
            "`(inputs, attrs)` pair.", "",
            _entry("shared_ops.testing", "shared_ops.testing")]
    return "\n".join(out).rstrip() + "\n"


def graphcompare_page() -> str:
    out = [INTRO["graphcompare"], ""]
    for title, paths in GC_GROUPS.items():
        out += [f"## {title}", ""]
        out += [_entry(p, p.replace("graphcompare.equivalence.", "").replace("graphcompare.program.", "")
                       .replace("graphcompare.recipes.", "").replace("graphcompare.strategies.", "")
                       .replace("graphcompare.torchfuzz.", "torchfuzz.")) for p in paths]
    return "\n".join(out).rstrip() + "\n"


def surface_page() -> str:
    from shared_ops._surface_math import MADE
    from shared_ops.functions import FUNCTIONS
    from shared_ops.surface import TensorSurface

    names = ", ".join(f"`{n}`" for n in sorted(FUNCTIONS))
    # methods made at run time from their op's declaration, which griffe (reading the source)
    # sees as attributes: hidden from the entries, written from the live objects at the end
    made = sorted(MADE)
    hide = f'"!^({"|".join(made)})$"'

    return (
        "# The shared tensor surface\n\n"
        "`dg.Tensor` and `sg.Node` take their operators and methods from one class, "
        "`shared_ops.surface.TensorSurface`, each supplying only how an op is applied: so the same "
        "model function runs in both front ends ([chapter 4](../tutorial/04-static.md)), and the two "
        "can never accept different things.\n\n"
        f"Functions, the same in `dg.` and `sg.`: {names}.\n\n"
        + _entry("shared_ops.surface.TensorSurface", "TensorSurface (dg.Tensor, sg.Node)")
        + "      members_order: alphabetical\n      show_bases: false\n"
        # most methods are one line over a registered op: list them all, with their signatures
        + f"      show_if_no_docstring: true\n      inherited_members: true\n      filters: [\"!^_\", {hide}]\n\n"
        # the methods TensorSurface imports into its class body, which griffe reads as aliases
        + _entry("shared_ops._surface_nn", "More TensorSurface methods (x.add, x.masked_fill, x.all...)")
        + f"      members_order: alphabetical\n      show_if_no_docstring: true\n      filters: [\"!^_\", \"!^METHODS$\", {hide}]\n\n"
        + _entry("shared_ops._surface_sort", "TensorSurface methods that reduce, sort and index (x.std, x.sort...)")
        + "      members_order: alphabetical\n      show_if_no_docstring: true\n      filters: [\"!^_\", \"!^METHODS$\"]\n\n"
        + "\n".join(_plain(getattr(TensorSurface, n), f"x.{n}") for n in made)
        + _functions_section(FUNCTIONS)
    )


def _functions_section(functions: dict) -> str:
    """The functions both front ends re-export: an entry for each one of its own, a line for
    the function forms of methods (``dg.exp(x)`` is ``x.exp()``) and for aliases."""
    import inspect

    own, forms, aliases = [], [], []
    for name, fn in sorted(functions.items()):
        if not inspect.isfunction(fn):
            continue  # a namespace (dg.linalg), whose functions are entries
        if "<locals>" in fn.__qualname__ or fn.__name__ == "<lambda>":
            forms.append(name)
        elif fn.__name__ != name:
            aliases.append(f"`dg.{name}` is `dg.{fn.__name__}`")
        else:
            own.append(_entry(f"{fn.__module__}.{name}", f"dg.{name}, sg.{name}"))
    return ("\n## Functions (dg. and sg.)\n\nThe same function in both front ends; each applies its op through "
            "the front end of its first tensor argument. " + "; ".join(aliases) + "; `dg.linalg.vector_norm` is "
            "`dg.vector_norm`.\n\nThe function forms of methods, `dg.exp(x, ...)` being `x.exp(...)`: "
            + ", ".join(f"`{n}`" for n in forms) + ".\n\n" + "\n".join(own))


def pages() -> dict:
    import dyngraph
    import staticgraph

    return {
        "dyngraph.md": front_end_page(dyngraph, "dg", DG_GROUPS),
        "staticgraph.md": front_end_page(staticgraph, "sg", SG_GROUPS),
        "surface.md": surface_page(),
        "shared_ops.md": shared_ops_page(),
        "graphcompare.md": graphcompare_page(),
    }


def main() -> int:
    for name, text in pages().items():
        (DOCS / "reference" / name).write_text(text)
        print(f"docs/reference/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
