"""The two sides of ``graphcompare.torchfuzz``: ``Pair`` runs one program line by line on
PyTorch and on dyngraph and compares every tensor alive after each line; ``replay`` runs a
printed program (a reproducer); ``Disagreement`` is what a difference raises."""

from __future__ import annotations

import re
import textwrap
import warnings

import numpy as np

import dyngraph

from .torchfuzz_draws import layout

# Key words of PyTorch's autograd errors: when PyTorch's message holds one, dyngraph's must too.
KEY_PHRASES = (
    "a leaf Variable that requires grad is being used in an in-place operation",
    "a view of a leaf Variable that requires grad",
    "A view was created in no_grad mode",
    "modified by an inplace operation",
    "Trying to backward through the graph a second time",
    "does not require grad",
    "view size is not compatible with input tensor's size and stride",
    "more than one element of the written-to tensor refers to a single memory location",
    "some elements of the input tensor and the written-to tensor refer to a single memory location",
    "can't be cast to the desired output type",
    "grad can be implicitly created only for scalar outputs",
    "step must be greater than zero",
    "appears to not have been used in the graph",
)
_VAR = re.compile(r"^[tg]\d+$")

class Disagreement(AssertionError):
    """dyngraph and PyTorch disagree; the message says where and ends with the program so far,
    written as a ``replay`` call that reproduces it.

    An ``AssertionError``, so pytest reports it as a failed check, not as an error.

    Examples:
        >>> from graphcompare.torchfuzz import Disagreement
        >>> issubclass(Disagreement, AssertionError)
        True
    """


class Pair:
    """The same program on PyTorch and dyngraph, line by line, compared after each line."""

    def __init__(self):
        import torch

        self.torch = torch
        self.ns = {"torch": {"m": torch, "np": np}, "dyngraph": {"m": dyngraph, "np": np}}
        self.lines: list[str] = []
        self.low = False  # a float32 tensor was made: values are compared at float32's tolerance

    # -- running ------------------------------------------------------------------
    def run(self, line: str) -> bool:
        """Run ``line`` on both and compare; True when it ran without error (on both)."""
        self.lines.append(line)
        errors = {}
        for name, ns in self.ns.items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(line, ns)  # noqa: S102  (the program is ours, drawn by the rules)
                errors[name] = None
            except Exception as exc:  # noqa: BLE001  (compared below)
                errors[name] = exc
        self._compare_errors(errors["torch"], errors["dyngraph"])
        self.compare()
        return errors["torch"] is None

    def fail(self, what: str):
        raise Disagreement(f"dyngraph and PyTorch disagree: {what}\n\n{self.source()}")

    def source(self) -> str:
        body = "\n".join(self.lines)
        return f"from graphcompare.torchfuzz import replay\nreplay('''\n{body}\n''')"

    # -- comparing ----------------------------------------------------------------
    def _compare_errors(self, t, d):
        if (t is None) != (d is None):
            self.fail(f"the last line raised on {'PyTorch' if d is None else 'dyngraph'} only: {t or d!r}")
        if t is None:
            return
        if not isinstance(d, type(t)):
            self.fail(f"PyTorch raised {type(t).__name__}, dyngraph {type(d).__name__}: {t} | {d}")
        for phrase in KEY_PHRASES:
            if phrase in str(t) and phrase not in str(d):
                self.fail(f"dyngraph's error lacks PyTorch's words {phrase!r}: {d}")

    def tensors(self, side: str = "torch") -> dict:
        return {k: v for k, v in self.ns[side].items() if _VAR.match(k)}

    def compare(self) -> None:
        torch = self.torch
        mine = self.tensors("dyngraph")
        theirs = self.tensors("torch")
        self.low = self.low or any(isinstance(t, torch.Tensor) and t.dtype in (torch.float32, torch.float16) for t in theirs.values())
        for name, t in theirs.items():
            d = mine.get(name)
            if t is None or d is None:
                if (t is None) != (d is None):
                    self.fail(f"{name} is {t!r} on PyTorch, {d!r} on dyngraph")
                continue
            if not isinstance(t, torch.Tensor):
                continue
            self._same(name, t, d)
            if name[0] == "t" and layout(t) != layout(d):  # a gradient's layout is PyTorch's engine's choice
                self.fail(f"{name}: (stride, storage_offset, is_contiguous) {layout(t)} on PyTorch, {layout(d)} on dyngraph")
            # a gradient's version counts PyTorch's internal accumulation: compared for t's only
            facts = lambda x: (x.requires_grad, x.is_leaf, x._version if name[0] == "t" else 0,  # noqa: E731
                               None if x.grad_fn is None else x.grad_fn.name())
            if facts(t) != facts(d):
                self.fail(f"{name}: (requires_grad, is_leaf, _version, grad_fn) {facts(t)} on PyTorch, {facts(d)} on dyngraph")
            if t.is_leaf:
                tg, dgr = t.grad, d.grad
                if (tg is None) != (dgr is None):
                    self.fail(f"{name}.grad is {tg} on PyTorch, {dgr} on dyngraph")
                if tg is not None:
                    self._same(f"{name}.grad", tg, dgr)

    def _same(self, name, t, d):
        tdt, ddt = str(t.dtype).split(".")[-1], str(d.dtype).split(".")[-1]
        if tdt != ddt or tuple(t.shape) != tuple(d.shape):
            self.fail(f"{name}: {tdt} {tuple(t.shape)} on PyTorch, {ddt} {tuple(d.shape)} on dyngraph")
        a, b = t.detach().numpy(), d.detach().numpy()
        # float32 kernels differ in the last bit (NumPy's float32 exp(1) is one ulp above
        # PyTorch's), and copy_ or x[k] = v carry such a value into a float64 tensor: once the
        # program has made a float32 tensor, every value is compared at float32's tolerance
        tol = 1e-5 if self.low or tdt in ("float32", "float16") else 1e-10
        if not np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True):
            self.fail(f"{name}: values differ\nPyTorch:  {a.tolist()}\ndyngraph: {b.tolist()}")


def replay(program: str) -> Pair:
    """Run a printed program on PyTorch and on dyngraph, line by line, comparing every tensor
    alive after each line (values, dtype, shape, layout, version, ``grad_fn``, ``.grad``).

    Parameters:
        program: Python lines that name the library ``m`` (``m.tensor(...)``) and NumPy ``np``,
            as a disagreement prints them; indentation is removed first.

    Returns:
        The ``Pair``: ``pair.ns["torch"]`` and ``pair.ns["dyngraph"]`` hold each side's names.

    Raises:
        Disagreement: a line raised on one side only, the errors differ in class or in
            PyTorch's key words, or a tensor differs; the message is the program so far.

    Examples:
        >>> from graphcompare.torchfuzz import replay
        >>> pair = replay('''
        ... t0 = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        ... t1 = (t0 * t0).sum()
        ... t1.backward()
        ... ''')
        >>> pair.ns["dyngraph"]["t0"].grad.tolist()
        [2.0, 4.0, 6.0]
    """
    pair = Pair()
    for line in textwrap.dedent(program).strip().splitlines():
        if line.strip():
            pair.run(line)
    return pair


__all__ = ["KEY_PHRASES", "Disagreement", "Pair", "replay"]
