"""The examples in the public API's docstrings run and print what they show (doctest)."""

from __future__ import annotations

import doctest
import inspect

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg

from .api_walk import entries


def _public():
    for alias, module in (("dg", dg), ("sg", sg)):
        for name in module.__all__:
            obj = getattr(module, name)
            yield f"{alias}.{name}", obj
            if inspect.isclass(obj):
                seen = set()
                # the class's own methods and those of the project's mixins it is made of
                for klass in obj.__mro__:
                    if klass.__module__.split(".")[0] not in ("dyngraph", "staticgraph", "shared_ops"):
                        continue
                    for attr, member in vars(klass).items():
                        if not attr.startswith("_") and attr not in seen and inspect.isfunction(member):
                            seen.add(attr)
                            yield f"{alias}.{name}.{attr}", member


def _all():
    """The front ends' names and members, and every entry of the reference (graphcompare, the
    nn modules, the optimisers), each once."""
    seen = set()
    for name, obj in (*_public(), *entries()):
        if id(obj) not in seen:
            seen.add(id(obj))
            yield name, obj


EXAMPLES = [(name, obj) for name, obj in _all() if ">>>" in (inspect.getdoc(obj) or "")]


def test_the_main_entry_points_have_examples():
    names = {n for n, _ in EXAMPLES}
    for wanted in ("dg.tensor", "dg.grad", "dg.backward", "dg.to_dot", "dg.Tensor.backward", "dg.Tensor.retain_grad",
                   "sg.placeholder", "sg.variable", "sg.gradients", "sg.compile", "sg.Session.run", "sg.function"):
        assert wanted in names, wanted


@pytest.mark.parametrize("name,obj", EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_docstring_example_runs(name, obj):
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for test in finder.find(obj, name, globs={"dg": dg, "sg": sg, "np": np}):
        runner.run(test)
    assert runner.failures == 0, f"{name}: its docstring example does not print what it shows"
