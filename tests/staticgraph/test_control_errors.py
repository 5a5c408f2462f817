"""Control flow declaration errors name both shapes and the user's line; Python `if`/`for`
over traced values names sg.cond/sg.scan."""

import re

import numpy as np
import pytest

import staticgraph as sg
from shared_ops import DTypeError, ShapeError


def _line(pattern: str) -> str:
    """``file:line`` of the line of this file containing ``pattern``."""
    with open(__file__) as f:
        for k, text in enumerate(f, 1):
            if pattern in text and "_line(" not in text:
                return f"{__file__}:{k}"
    raise AssertionError(pattern)


def test_branch_shape_mismatch_names_both_shapes_and_line():
    with sg.Graph():
        x = sg.placeholder((3,), "float64")
        with pytest.raises(ShapeError) as e:
            sg.cond(x.sum() > 0, lambda a: a, lambda a: a[:2], x)  # mismatch-here
    msg = str(e.value)
    assert "(3,)" in msg and "(2,)" in msg and "true_fn" in msg and "false_fn" in msg
    assert _line("# mismatch-here") in msg


def test_carry_shape_change_is_an_error_with_line():
    with sg.Graph():
        xs = sg.placeholder((None, 3), "float64")
        with pytest.raises(ShapeError) as e:
            sg.scan(lambda c, x: (c.sum(), x), sg.constant(np.zeros(3)), xs)  # carry-here
    assert "(3,)" in str(e.value) and "()" in str(e.value) and _line("# carry-here") in str(e.value)
    with sg.Graph():
        v = sg.placeholder((2,), "float64")
        with pytest.raises(ShapeError) as e:
            sg.while_loop(lambda a: a.sum() < 1.0, lambda a: sg.concatenate([a, a]), (v,))  # while-here
    assert "(2,)" in str(e.value) and "(4,)" in str(e.value) and _line("# while-here") in str(e.value)


def test_non_scalar_predicate():
    with sg.Graph():
        x = sg.placeholder((3,), "float64")
        with pytest.raises(ShapeError, match=r"predicate must be a scalar, got shape \(3,\)") as e:
            sg.cond(x > 0, lambda a: a, lambda a: -a, x)  # pred-here
        assert _line("# pred-here") in str(e.value)
        with pytest.raises(ShapeError, match="cond_fn must return one scalar bool"):
            sg.while_loop(lambda a: a > 0, lambda a: a - 1.0, x)
        with pytest.raises(DTypeError, match="predicate must be bool"):
            sg.cond(x.sum(), lambda a: a, lambda a: -a, x)


def test_dtype_change_and_wrong_structure():
    with sg.Graph():
        x = sg.placeholder((3,), "float64")
        with pytest.raises(ShapeError, match="float32"):
            sg.cond(x.sum() > 0, lambda a: a, lambda a: a.astype("float32"), x)
        with pytest.raises(ShapeError, match="returns a tuple of 2 but false_fn returns one value"):
            sg.cond(x.sum() > 0, lambda a: (a, a), lambda a: a, x)
        with pytest.raises(sg.GraphError, match="must return a pair"):
            sg.scan(lambda c, x: c, x, sg.placeholder((None, 3), "float64"))


def test_placeholder_or_variable_inside_body_is_refused():
    with sg.Graph():
        x = sg.placeholder((3,), "float64")
        with pytest.raises(sg.GraphError, match="sg.placeholder inside the true_fn"):
            sg.cond(x.sum() > 0, lambda a: a + sg.placeholder((3,), "float64"), lambda a: a, x)
        with pytest.raises(sg.GraphError, match="sg.variable inside the fn"):
            sg.scan(lambda c, x: (c + sg.variable(np.zeros(3)), x), x, sg.placeholder((None, 3), "float64"))


def test_python_if_and_for_in_sg_function_name_cond_and_scan():
    @sg.function
    def branchy(x):
        if x.sum() > 0:
            return x
        return -x

    with pytest.raises(sg.TracingError, match=r"sg\.cond\(pred, true_fn, false_fn"):
        branchy(np.ones(3))

    @sg.function(input_signature=[((None, 3), "float64")])
    def loop(xs):
        h = xs[0] * 0.0
        for x in xs:
            h = h + x
        return h

    with pytest.raises(sg.TracingError, match=r"sg\.scan\(fn, init, xs\)"):
        loop(np.ones((4, 3)))


def test_report_shows_every_body():
    with sg.Graph():
        xs = sg.placeholder((None, 3), "float64", name="xs")
        W = sg.variable(np.eye(3), name="W")
        hT, _ = sg.scan(lambda h, x: ((h @ W + x).tanh(), h.sum()), sg.constant(np.zeros(3)), xs)
        fn = sg.compile([hT, sg.gradients(hT.sum(), W)])
    report = fn.report()
    assert re.search(r"= scan .*declared at .*test_control_errors.py", report)
    assert "scan body (keeping 1 residuals a step):" in report and "scan_grad mid step:" in report and "tanh" in report
