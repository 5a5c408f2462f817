"""Declaration: shapes and dtypes inferred at once, errors naming the op, shapes and user line."""

import numpy as np
import pytest

import staticgraph as sg
from shared_ops import DTypeError, ShapeError


def _line_of(marker: str) -> int:
    with open(__file__) as f:
        return next(k for k, line in enumerate(f, 1) if marker in line and "_line_of" not in line)


def test_shapes_and_dtypes_are_inferred_when_declared():
    with sg.Graph() as g:
        x = sg.placeholder((None, 4), name="x")
        w = sg.variable(np.ones((4, 3), np.float32), name="w")
        y = (x @ w).sum(axis=1)
    assert y.shape == (None,) and y.dtype == "float32"
    assert x.shape == (None, 4) and w.shape == (4, 3)
    assert len(g) == 4
    assert "matmul %0 %1" in g.text()


def test_shape_error_names_op_both_shapes_and_user_line():
    with sg.Graph():
        a = sg.placeholder((2, 3), name="a")
        b = sg.placeholder((4, 5), name="b")
        with pytest.raises(ShapeError) as info:
            a + b  # MARK-add-error
    msg = str(info.value)
    assert "add" in msg and "(2, 3)" in msg and "(4, 5)" in msg
    assert f"{__file__}:{_line_of('MARK-add-error')}" in msg


def test_matmul_shape_error_names_both_shapes():
    with sg.Graph():
        a = sg.placeholder((2, 3), name="a")
        b = sg.placeholder((4, 5), name="b")
        with pytest.raises(ShapeError) as info:
            a @ b  # MARK-matmul-error
    msg = str(info.value)
    assert "matmul" in msg and "(2, 3)" in msg and "(4, 5)" in msg
    assert f"test_declare.py:{_line_of('MARK-matmul-error')}" in msg


def test_node_remembers_the_line_that_declared_it():
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        y = x * 2.0  # MARK-trace
    assert y.trace.endswith(f"test_declare.py:{_line_of('MARK-trace')}")


def test_scalars_are_weak_and_constants_keep_rank():
    with sg.Graph() as g:
        x = sg.placeholder((3,), name="x")
        y = x * 2.0
        c = sg.constant(1.5)
    assert y.dtype == "float32" and c.dtype == "float32" and c.shape == ()
    assert "constant 2. : f32[]" in g.text()


def test_if_on_a_node_is_a_tracing_error_saying_what_to_do():
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        with pytest.raises(sg.TracingError) as info:
            if x.sum() > 0:
                pass
        assert "sg.where" in str(info.value) and "dyngraph" in str(info.value)
        with pytest.raises(sg.TracingError):
            float(x.sum())


def test_nodes_of_two_graphs_cannot_be_mixed():
    with sg.Graph():
        a = sg.placeholder((3,), name="a")
    with sg.Graph():
        b = sg.placeholder((3,), name="b")
    with pytest.raises(sg.GraphError, match="different graphs"):
        a + b


def test_names_are_unique_in_a_graph():
    with sg.Graph() as g:
        sg.placeholder((3,), name="x")
        with pytest.raises(sg.GraphError, match="already used"):
            sg.placeholder((3,), name="x")
    with pytest.raises(sg.GraphError, match="no node named"):
        g.get("nope")


def test_assign_checks_shape_and_dtype_at_declaration():
    with sg.Graph():
        w = sg.variable(np.zeros((2, 3), np.float32), name="w")
        with pytest.raises(ShapeError, match=r"\(2, 3\).*\(3, 2\)"):
            sg.assign(w, sg.constant(np.zeros((3, 2), np.float32)))
        with pytest.raises(DTypeError, match="float64"):
            sg.assign(w, sg.constant(np.zeros((2, 3), np.float64)))
        with pytest.raises(sg.GraphError, match="variable"):
            sg.assign(sg.constant(np.zeros((2, 3), np.float32)), w)
        a = sg.assign_sub(w, w * 0.5)
        assert a.op == "assign" and a.shape == (2, 3)


def test_free_dims_resolve_through_gradients_with_like_inputs():
    with sg.Graph() as g:
        x = sg.placeholder((None, 3), name="x")
        b = sg.placeholder((3,), name="b")
        y = (x + b).sum()
        gb, gx = sg.gradients(y, [b, x])
    assert gx.shape == (None, 3) and gb.shape == (3,)
    # the seed's broadcast over a free dimension takes its runtime shape from a `like` input
    fn = sg.compile([gx, gb], optimize=False)
    for n in (1, 5):
        out_x, out_b = fn(np.ones((n, 3), np.float32), np.ones(3, np.float32))
        assert out_x.shape == (n, 3) and np.array_equal(out_b, np.full(3, n, np.float32))
    assert "sum_to" in g.text()
