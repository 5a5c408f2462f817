"""The dyngraph test modules in ``BOTH`` run twice: on NumPy and on array-api-strict (the array
API standard and nothing more), through ``shared_ops.use_backend``. A test that needs the
backend's name takes the ``backend`` argument."""

import pytest

from shared_ops import use_backend

BOTH = {"test_basics", "test_engine", "test_inplace", "test_torch_parity", "test_overlap"}
NUMPY_ONLY = {
    "test_views_share_the_version_counter": "only NumPy tells whether a result is a view (ndarray.base)",
}


def pytest_generate_tests(metafunc):
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    if module in BOTH and metafunc.function.__name__ not in NUMPY_ONLY:
        metafunc.parametrize("backend", ["numpy", "array_api_strict"], indirect=True)


@pytest.fixture(autouse=True)
def backend(request):
    name = getattr(request, "param", "numpy")
    with use_backend(name):
        yield name
