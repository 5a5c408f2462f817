"""A module's parameter values: ``state_dict``/``load_state_dict`` (PyTorch's keys and
errors), ``to``/``double``/``float`` (dtype conversion), ``zero_grad``. A mixin of
``Module`` (``shared_ops.nn.module``), which registers the parameters these walk.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple, Self

import numpy as np

from ..dtypes import dtype_name
from .frontend import owner


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` returns (PyTorch's ``_IncompatibleKeys``): the
    module's parameters the state dict had no value for, and the state dict's names the module
    has no parameter for.

    Attributes:
        missing_keys: the dotted names of parameters left as they were.
        unexpected_keys: the names in the state dict that were not used.

    Examples:
        >>> keys = dg.nn.Linear(2, 1).load_state_dict({"bias": np.zeros(1, np.float32), "w": 0}, strict=False)
        >>> keys.missing_keys, keys.unexpected_keys
        (['weight'], ['w'])
    """

    missing_keys: list
    unexpected_keys: list


def _shape_text(shape) -> str:
    return f"torch.Size([{', '.join(str(d) for d in shape)}])"



def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(value)


class StateMethods:
    """The methods of ``Module`` that read, load and convert its parameters' values."""

    __slots__ = ()

    def state_dict(self) -> "OrderedDict[str, Any]":
        """Name -> value, PyTorch's keys (``0.weight``, ``layers.1.bias``): detached tensors in
        dyngraph, the variables themselves in staticgraph (``sess.run`` reads them).

        Returns:
            An ``OrderedDict`` of dotted names to values.

        Examples:
            >>> list(dg.nn.Sequential(dg.nn.Linear(2, 2)).state_dict())
            ['0.weight', '0.bias']
        """
        out = OrderedDict()
        for mp, m in self.named_modules():
            for name, p in m._parameters.items():
                if p is not None:
                    out[f"{mp}.{name}" if mp else name] = owner(p).state_value(p)
        return out

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values (front-end tensors, variables' values or NumPy arrays) into the parameters.

        With ``strict`` a missing or unexpected key raises ``RuntimeError`` listing them all, as
        PyTorch does; a shape mismatch always raises, and nothing is copied when anything fails.

        Parameters:
            state_dict: dotted names to values; strict: refuse missing and unexpected keys.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError: a shape mismatch, or (with ``strict``) a missing or unexpected key.

        Examples:
            >>> dg.nn.Linear(2, 1).load_state_dict({"bias": np.zeros(1, np.float32)}, strict=False)
            IncompatibleKeys(missing_keys=['weight'], unexpected_keys=[])
        """
        own = OrderedDict()
        for mp, m in self.named_modules():
            for name, p in m._parameters.items():
                if p is not None:
                    own[f"{mp}.{name}" if mp else name] = p
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, staged = [], []
        if strict:
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        for k, p in own.items():
            if k not in state_dict:
                continue
            fe = owner(p)
            value = state_dict[k]
            arr = owner(value).to_numpy(value) if owner(value) is not None else _to_numpy(value)
            have = tuple(fe.to_numpy(p).shape)
            if tuple(arr.shape) != have:
                errors.append(f"size mismatch for {k}: copying a param with shape {_shape_text(arr.shape)} from "
                              f"checkpoint, the shape in current model is {_shape_text(have)}.")
                continue
            staged.append((fe, p, arr))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for fe, p, arr in staged:
            fe.load(p, arr)
        return IncompatibleKeys(missing, unexpected)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient before the next backward (as ``optimizer.zero_grad``).

        In dyngraph a parameter's ``.grad`` becomes ``None``; staticgraph variables hold no
        gradient (``sg.gradients`` computes it in the graph), so nothing changes there.

        Args:
            set_to_none: accepted for PyTorch's signature; gradients are always set to ``None``.

        Examples:
            >>> m = dg.nn.Linear(2, 1)
            >>> m(dg.ones(1, 2)).sum().backward()
            >>> m.weight.grad is None, m.zero_grad(), m.weight.grad is None
            (False, None, True)
        """
        for p in self.parameters():
            owner(p).zero_grad(p)

    def to(self, *args, **kwargs) -> Self:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or keywords, as PyTorch: converts the
        parameters' dtype; ``"cpu"`` is the only device a module lives on.

        Args:
            *args: a dtype (``dg.float64``, ``"float64"``, a NumPy dtype) and/or a device
                (``"cpu"``).
            **kwargs: ``dtype=`` and ``device=``, the same.

        Returns:
            This module, its parameters converted.

        Raises:
            ValueError: a device other than the CPU.

        Examples:
            >>> dg.nn.Linear(2, 2).to("cpu", dg.float64).weight.dtype
            dyngraph.float64
            >>> dg.nn.Linear(2, 2).to("cuda")
            Traceback (most recent call last):
            ...
            ValueError: Module.to: modules keep their parameters on the CPU (NumPy) backend; got device 'cuda'. ...
        """
        dtype, device = kwargs.get("dtype"), kwargs.get("device")
        for a in args:
            if isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
                device = a
            elif a is not None:
                dtype = a
        if device is not None and not str(device).startswith("cpu"):
            raise ValueError(f"Module.to: modules keep their parameters on the CPU (NumPy) backend; got device "
                             f"{device!r}. Build the model on the CPU, or write the step with dg tensors on {device!r}")
        if dtype is None:
            return self
        name = dtype_name(dtype)
        for m in self.modules():
            for k, p in list(m._parameters.items()):
                if p is not None:
                    m._parameters[k] = owner(p).convert(p, name)
        return self

    def double(self) -> Self:
        """Convert every parameter to float64 (``to("float64")``).

        Returns:
            This module.

        Examples:
            >>> dg.nn.Linear(2, 2).double().weight.dtype
            dyngraph.float64
        """
        return self.to("float64")

    def float(self) -> Self:
        """Convert every parameter to float32 (``to("float32")``).

        Returns:
            This module.

        Examples:
            >>> dg.nn.Linear(2, 2).double().float().weight.dtype
            dyngraph.float32
        """
        return self.to("float32")
