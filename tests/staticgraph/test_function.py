"""sg.function: tracing, caching by shapes and dtypes, retracing, counts."""

import numpy as np
import pytest

import staticgraph as sg


def test_traces_once_per_signature_and_retraces_on_change():
    calls = []

    @sg.function(optimize=False)
    def f(a, b):
        calls.append(1)
        return (a * b).tanh().sum()

    x = np.ones(3, np.float32)
    r1 = f(x, x)
    r2 = f(x * 2, x)
    assert (f.trace_count, f.compile_count) == (1, 1) and len(calls) == 1
    assert r1 != r2 and np.isclose(r1, 3 * np.tanh(1.0))
    f(np.ones(4, np.float32), np.ones(4, np.float32))       # new shape
    f(np.ones(3), np.ones(3))                               # new dtype
    assert (f.trace_count, f.compile_count, f.cache_size) == (3, 3, 3)
    f(x, x)
    assert f.trace_count == 3


def test_tuples_lists_and_numpy_inputs():
    @sg.function(optimize=False)
    def f(a):
        return a * 2.0, [a.exp(), a.sum()]

    two, (e, s) = f(np.array([0.0, 1.0]))
    assert np.array_equal(two, [0.0, 2.0]) and np.allclose(e, np.exp([0.0, 1.0])) and s == 1.0


def test_gradients_inside_a_traced_function():
    @sg.function
    def grad_of_cube(x):
        y = (x * x * x).sum()
        return sg.gradients(y, x)

    assert np.allclose(grad_of_cube(np.array([1.0, 2.0])), [3.0, 12.0])


def test_python_scalars_are_static_arguments():
    @sg.function(optimize=False)
    def f(x, k):
        return x * k

    assert np.array_equal(f(np.ones(2), 3.0), [3.0, 3.0])
    assert np.array_equal(f(np.ones(2), 4.0), [4.0, 4.0])
    assert f.trace_count == 2


def test_input_signature_with_free_dims_traces_once():
    f = sg.function(lambda x: x.sum(axis=0), input_signature=[((None, 2), "float64")])
    f(np.ones((3, 2)))
    f(np.ones((5, 2)))
    assert f.trace_count == 1


def test_data_dependent_control_flow_is_a_tracing_error_that_says_what_to_do():
    @sg.function
    def f(x):
        if x.sum() > 0:
            return x
        return -x

    with pytest.raises(sg.TracingError, match="sg.where"):
        f(np.ones(3))


def test_concrete_function_has_report_and_text():
    f = sg.function(lambda x: (x + 1.0).sum())
    fn = f.get_concrete(np.ones(3))
    assert "placeholder arg0 : f64[3]" in fn.text() and "return %" in fn.text()
    assert "prune:" in fn.report() and fn(np.ones(3)) == 6.0
