"""The ops, one family a file; importing this package registers them all."""

from . import accumulate, arith, binary, broadcast, creation, linalg, nn, reduce, shape, unary, views  # noqa: F401
from . import einsum, logical, norm, pool, random, scatter, special  # noqa: F401  (ops added for models)
