"""The text forms of the compiled program's pieces: a value's type (``f32[?,4]``), a node's
attributes and a constant's values, shared by ``Program.text`` and the exporters."""

from __future__ import annotations

from typing import Any

import numpy as np

from shared_ops.registry import Spec

_SHORT = {"float32": "f32", "float64": "f64", "float16": "f16", "int64": "i64", "int32": "i32",
          "int8": "i8", "int16": "i16", "uint8": "u8", "bool": "bool"}


def type_str(spec: Spec) -> str:
    """``f32[?,4]`` for a float32 value whose first dimension is free."""
    dims = ",".join("?" if d is None else str(d) for d in spec.shape)
    return f"{_SHORT.get(spec.dtype, spec.dtype)}[{dims}]"


def attrs_str(attrs: dict) -> str:
    if not attrs:
        return ""
    return " {" + ", ".join(f"{k}={v!r}" for k, v in attrs.items()) + "}"


def value_str(value: Any, limit: int = 6) -> str:
    arr = np.asarray(value)
    if arr.size <= limit:
        return np.array2string(arr, separator=",", threshold=limit).replace("\n", "")
    return f"<{arr.size} values>"
