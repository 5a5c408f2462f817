"""The ops, one family a file; importing this package registers them all."""

from . import accumulate, arith, broadcast  # noqa: F401
