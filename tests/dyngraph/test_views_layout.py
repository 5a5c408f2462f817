"""Views' layouts against PyTorch 2.13: ``stride()``, ``storage_offset()``, ``is_contiguous()``
and whether ``view`` is allowed, over random chains of view ops from a fresh tensor.

dyngraph keeps no strides; it replays each view op's ``strides`` rule (ATen's, declared on the
op in ``shared_ops/ops/_strides.py``). PyTorch's conventions for size-1 dimensions differ
from NumPy's (``x[None]`` has stride ``size * stride`` there, 0 in NumPy), and ``diagonal``
is a strided view, not a copy.
"""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import shared_ops as so
from shared_ops.ops import _strides

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def _options(shape, rng):
    nd = len(shape)
    out = ["[...]", "[None]", f".unsqueeze({nd})"]
    if nd:
        d = int(rng.integers(nd))
        n = shape[d]
        out += [f".unsqueeze({d})", f".select({d}, {n - 1})" if n else "[...]", f"[{':, ' * d}1:]",
                f"[{':, ' * d}::2]", f"[{':, ' * d}None]", f".narrow({d}, {min(1, n)}, {max(n - 1, 0) // 2})",
                ".view(-1)", ".reshape(-1)", ".squeeze()", f".squeeze({d})", "[0:1]" if shape[0] else "[...]"]
        if n == 1:
            out.append(".expand(" + ", ".join("3" if k == d else "-1" for k in range(nd)) + ")")
            out.append(".expand(2, " + ", ".join("3" if k == d else "-1" for k in range(nd)) + ")")
    if nd >= 2:
        perm = ", ".join(map(str, rng.permutation(nd)))
        off = int(rng.integers(-1, 2))
        out += [".transpose(0, 1)", f".permute({perm})", ".diagonal()", f".diagonal({off}, {nd - 2}, {nd - 1})",
                f".view({shape[0] * shape[1]}{''.join(f', {s}' for s in shape[2:])})"]
        if nd == 2:
            out.append(".t()")
    return out


def _chains(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        shape = tuple(int(s) for s in rng.choice([1, 2, 3, 4], size=int(rng.integers(1, 4))))
        steps = []
        t = torch.arange(float(np.prod(shape))).reshape(shape)
        for _ in range(int(rng.integers(1, 6))):
            step = rng.choice(_options(tuple(t.shape), rng))
            try:
                nxt = eval(f"t{step}", {"t": t})  # noqa: S307  (our own step)
            except RuntimeError:
                steps.append(step)  # PyTorch refuses it: dyngraph must too, then the chain ends
                break
            steps.append(step)
            t = nxt
        yield shape, steps


CHAINS = list(_chains(600, 0))


@pytest.mark.parametrize("k", range(0, len(CHAINS), 50))
def test_strides_offsets_and_contiguity_agree_with_pytorch(k):
    for shape, steps in CHAINS[k:k + 50]:
        t = torch.arange(float(np.prod(shape)), dtype=torch.float64).reshape(shape)
        d = dg.arange(float(np.prod(shape)), dtype=dg.float64).reshape(*shape)
        for step in steps:
            where = f"{shape} {''.join(steps)} at {step}"
            try:
                t = eval(f"t{step}", {"t": t})  # noqa: S307
            except RuntimeError as exc:
                with pytest.raises(RuntimeError, match="view size is not compatible"):
                    eval(f"d{step}", {"d": d})  # noqa: S307
                assert "view size is not compatible" in str(exc), where
                break
            d = eval(f"d{step}", {"d": d})  # noqa: S307
            assert d.stride() == tuple(t.stride()), where
            assert d.storage_offset() == t.storage_offset(), where
            assert d.is_contiguous() == t.is_contiguous(), where
            assert d.tolist() == t.tolist(), where
            if d.ndim:
                assert d.stride(-1) == t.stride(-1), where


def test_the_examples_of_the_difference_page():
    x = dg.arange(12.0).reshape(3, 4)
    assert not x.diagonal().is_contiguous() and x.diagonal().stride() == (5,)
    assert x[None].stride() == (12, 4, 1) and x[:, None].stride() == (4, 4, 1)
    assert x[1:, ::2].storage_offset() == 4


def test_every_view_op_declares_its_layout_rule():
    missing = [op.name for op in so.all_ops() if op.view_of and op.strides is None]
    assert not missing, f"view ops without a strides rule (shared_ops/ops/_strides.py): {missing}"


def test_the_contiguity_rule_ignores_size_1_dimensions():
    assert _strides.is_contiguous((2, 1, 3), (3, 99, 1))
    assert not _strides.is_contiguous((3,), (5,))
    assert _strides.is_contiguous((0, 3), (7, 2))  # no elements: contiguous, as PyTorch's
    assert _strides.contiguous((2, 0, 3)) == (3, 3, 1)
