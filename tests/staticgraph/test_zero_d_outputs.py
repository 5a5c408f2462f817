"""A 0-d output is a NumPy scalar of its dtype (``np.float32``, not a 0-d ``ndarray``) at
every optimisation level and on every tier: the plain kernels of ``optimize=False``, fused
regions on their NumPy and numba tiers, the whole step on its NumPy tier and compiled; through
``fn(...)``'s fast entry, its full path (a feed to cast, a feed dict), ``Session.run`` and
``sg.function``. The bytes agree across the tiers of one level; a literal written into the
compiled step for a 0-d constant keeps its bits (``-0.0``, a float32 subnormal).

The suite runs with ``GRAPHCOMPARE_JIT=off``: numba builds only where a test asks
(``use_tier("numba")``).
"""

import numpy as np
import pytest

import staticgraph as sg


def _program(optimize):
    """Outputs of shapes (), (), (), (), (3,): a reduction of a fused chain, an integer index,
    a 0-d feed passed through, a 0-d product with a constant, and a gradient."""
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        s = sg.placeholder((), name="s")
        total = (sg.tanh(x * 2.0) * s).sum()
        picked = x[1]
        (g,) = sg.gradients(total, [x])
        fn = sg.compile([total, picked, s, s * 3.0, g], inputs=[x, s], optimize=optimize)
    return fn


ARGS = [np.array([0.5, -1.25, 2.0], np.float32), np.array(1.5, np.float32)]
KINDS = ["scalar", "scalar", "scalar", "scalar", "array"]


def _kinds(values) -> list:
    out = []
    for v in values:
        if type(v) is np.float32:
            out.append("scalar")
        elif type(v) is np.ndarray and v.dtype == np.float32 and v.ndim == 1:
            out.append("array")
        else:
            out.append(f"{type(v).__name__} {getattr(v, 'dtype', '')} {np.ndim(v)}-d")
    return out


def _bytes(values) -> list:
    return [np.asarray(v).tobytes() for v in values]


def _runs(fn) -> list:
    """The function's results through its fast entry (twice: the first call may take the full
    path), a feed dict, and a float64 feed it casts (the full path)."""
    calls = [fn(*ARGS), fn(*ARGS), fn({"x": ARGS[0], "s": ARGS[1]}),
             fn(ARGS[0].astype(np.float64), ARGS[1])]
    for values in calls:
        assert _kinds(values) == KINDS
    assert len({tuple(_bytes(v)) for v in calls}) == 1
    return calls[0]


def test_optimize_false_gives_numpy_scalars():
    _runs(_program(False))


@pytest.mark.parametrize("tier", ["numpy", "numba"])
def test_fused_regions_give_numpy_scalars_on_both_tiers(tier):
    fn = _program({"whole_step": False})
    assert fn.whole_step is None and fn.regions()
    fn.use_tier(tier)
    assert set(fn.tiers().values()) == {tier}
    _runs(fn)


def test_the_whole_step_gives_numpy_scalars_on_both_tiers_with_the_same_bytes():
    fn = _program(True)
    assert fn.whole_step is not None
    fn.use_tier("numpy")
    first = _bytes(_runs(fn))
    fn.use_tier("numba")
    assert set(fn.tiers().values()) == {"numba"}
    assert _bytes(_runs(fn)) == first
    assert "_S(" in fn._entry.source  # the entry called the compiled step itself


def test_the_levels_agree_on_types_and_values():
    plain, best = _program(False)(*ARGS), _program(True)(*ARGS)
    assert _kinds(plain) == _kinds(best) == KINDS
    np.testing.assert_allclose(np.array(plain[:4]), np.array(best[:4]), rtol=1e-6)


@pytest.mark.parametrize("optimize", [False, True])
def test_session_run_and_sg_function_give_numpy_scalars(optimize):
    g = sg.Graph()
    with g:
        x = sg.placeholder((3,), name="x")
        total = (x * x).sum()
    got = sg.Session(g, optimize=optimize).run([total, x], {x: ARGS[0]})
    assert _kinds(got) == ["scalar", "array"]
    one = sg.Session(g, optimize=optimize).run(total, {x: ARGS[0]})
    assert type(one) is np.float32
    f = sg.function(lambda v: ((v * 2.0).sum(), v[0]), optimize=optimize)
    assert _kinds(f(ARGS[0])) == ["scalar", "scalar"]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_other_dtypes_give_their_own_scalar_type(dtype):
    with sg.Graph():
        x = sg.placeholder((4,), dtype, name="x")
        fns = [sg.compile([(x * x).sum(), x[2]], inputs=[x], optimize=o) for o in (False, True)]
    a = np.arange(1, 5).astype(dtype)
    for fn in fns:
        if fn.whole_step is not None:
            fn.use_tier("numba")
        got = fn(a)
        assert [type(v) for v in got] == [np.dtype(dtype).type] * 2
        assert [v.item() for v in got] == [30, 3]


def test_literal_constants_of_the_compiled_step_keep_their_bits():
    with sg.Graph():
        x = sg.placeholder((3,), name="x")
        w = sg.placeholder((3,), "float64", name="w")
        outs = [x * sg.constant(np.float32(-0.0)),          # -0.0 * positive: -0.0 in every element
                x * sg.constant(np.float32(1e-40)),         # a float32 subnormal
                x + sg.constant(np.float32(np.inf)),        # a non-finite constant stays an argument
                w * sg.constant(0.1, "float64") + sg.constant(-1e300, "float64")]
        fn = sg.compile(outs, inputs=[x, w])
    assert fn.whole_step is not None
    src = fn.whole_step.source
    assert "_f32(-0.0)" in src and "_f64(0.1)" in src and "_f64(-1e+300)" in src and "step(F0, F1, C0)" in src
    args = [np.array([1.0, 2.0, 3.0], np.float32), np.array([1.0, -2.0, 3.0])]
    fn.use_tier("numpy")
    want = _bytes(fn(*args))
    assert np.signbit(fn(*args)[0]).all()
    fn.use_tier("numba")
    assert _bytes(fn(*args)) == want
