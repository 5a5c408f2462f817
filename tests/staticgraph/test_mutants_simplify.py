"""What the simplify tests left unchecked (surviving mutants of
``staticgraph/passes/simplify.py``): the outer-product rule on a free dimension, constants
recognised in a loaded function, and every spelling of the vector's ``expand_dims`` axis in
the matrix-vector rule. Through ``sg.compile`` and its report, as a user sees them."""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg

ONLY = {"prune": False, "cse": False, "fold": False, "simplify": True, "fuse": False, "memory": False}


def test_the_outer_product_rule_leaves_a_product_whose_inner_dimension_is_free():
    """``a[3,1] @ b[?,4]``: the inner dimension of ``b`` is known only at run time, so the
    rule (which needs it to be 1) leaves the product; it must say no, not fail comparing."""
    with sg.Graph():
        a = sg.placeholder((3, 1), dtype="float64", name="a")
        b = sg.placeholder((None, 4), dtype="float64", name="b")
        y = a @ b
    fn = sg.compile([y], inputs=[a, b], optimize=ONLY)
    assert [n.op for n in fn.program.nodes] == ["placeholder", "placeholder", "matmul"], fn.report()
    av, bv = np.arange(3.0).reshape(3, 1), np.arange(4.0).reshape(1, 4)
    assert fn(av, bv)[0].tobytes() == (av @ bv).tobytes()


def test_a_loaded_function_drops_a_multiplication_by_one_as_the_original(tmp_path):
    """Loading recompiles from the saved graph, whose op names come from JSON (equal strings,
    not the registry's objects): the constant test compares names by value."""
    with sg.Graph():
        x = sg.placeholder((3,), dtype="float64", name="x")
        # the whole-step tier off: with it on, fuse makes even one op a region
        fn = sg.compile((x * 1.0).exp(), inputs=[x], optimize={"whole_step": False})
    sg.save(fn, str(tmp_path / "f.json"))
    back = sg.load(str(tmp_path / "f.json"))
    assert [n.op for n in back.program.nodes] == [n.op for n in fn.program.nodes] == ["placeholder", "exp"]
    xv = np.array([0.5, -1.0, 2.0])
    assert back(xv).tobytes() == fn(xv).tobytes() == np.exp(xv).tobytes()  # one output: not a list


@pytest.mark.parametrize("axis", [-1, 1, (-1,), (1,)], ids=str)
def test_matrix_vector_rule_takes_every_spelling_of_the_vectors_new_axis(axis):
    with sg.Graph():
        A = sg.placeholder((3, 4), dtype="float64", name="A")
        v = sg.placeholder((4,), dtype="float64", name="v")
        y = (A @ sg.apply_op("expand_dims", v, axis=axis)).squeeze(-1)
    fn = sg.compile([y], inputs=[A, v], optimize=ONLY)
    assert "squeeze(matmul(A, v[:, None])) -> matmul(A, v)" in fn.report(), fn.report()
    assert [n.op for n in fn.program.nodes] == ["placeholder", "placeholder", "matmul"]
