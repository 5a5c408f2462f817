"""What the op suite left unchecked (a surviving mutant of ``shared_ops/ops/broadcast.py``):
``broadcast_to`` and ``sum_to`` take an optional second input, a value whose run-time shape is
the target (how staticgraph spells a shape with a free dimension); their gradient rules must
return one entry per input with it too, or both front ends refuse the rule."""

from __future__ import annotations

import numpy as np
import pytest

from shared_ops.testing import run_vjp


@pytest.mark.parametrize("op, x, like", [
    ("broadcast_to", np.arange(3.0).reshape(1, 3), np.zeros((4, 3))),
    ("sum_to", np.arange(12.0).reshape(4, 3), np.zeros((1, 3))),
])
def test_a_shape_op_with_a_like_input_gives_one_gradient_entry_per_input(op, x, like):
    out, grads = run_vjp(op, (x, like), {"shape": like.shape})
    assert out.shape == like.shape and len(grads) == 2 and grads[1] is None
    assert np.asarray(grads[0]).shape == x.shape

