"""``Module``, ``Parameter`` and the containers, as ``torch.nn`` has them, for both front ends.

A module's parameters are the current front end's trainable values (``frontend.current()``):
dyngraph tensors that require grad, or staticgraph variables of the graph being declared. The
module code itself only uses the shared tensor surface, so one class serves both.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator, NamedTuple

import numpy as np

from ..dtypes import dtype_name
from .frontend import current, owner


def Parameter(data, requires_grad: bool = True, name: str | None = None):  # noqa: N802  (torch's name)
    """A parameter of the current front end, initialised to ``data`` (array or tensor).

    ``requires_grad=False`` makes a frozen one, as PyTorch's: still in ``parameters()`` and
    ``state_dict()``, never trained (a dyngraph leaf that does not require grad; a staticgraph
    variable that ``minimize`` leaves out of its default ``var_list``, TF1's ``trainable=False``).

    Parameters:
        data: the initial value; name: a name (staticgraph's variable name).
        requires_grad: ``False`` for a frozen parameter.

    Returns:
        A ``dg.Tensor`` leaf, or an ``sg.variable``.

    Examples:
        >>> dg.nn.Parameter(np.ones(2, np.float32))
        tensor([1., 1.], requires_grad=True)
        >>> dg.nn.Parameter(np.ones(2, np.float32), requires_grad=False).requires_grad
        False
    """
    fe = current()
    if owner(data) is not None:
        data = owner(data).to_numpy(data)
    elif hasattr(data, "numpy") and not isinstance(data, np.ndarray):
        data = data.detach().numpy() if hasattr(data, "detach") else data.numpy()
    return fe.parameter(np.array(data), name, requires_grad=bool(requires_grad))


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` returns (PyTorch's ``_IncompatibleKeys``)."""

    missing_keys: list
    unexpected_keys: list


def _shape_text(shape) -> str:
    return f"torch.Size([{', '.join(str(d) for d in shape)}])"


class Module:
    """Base class of every layer: registers parameters and submodules set as attributes.

    Examples:
        >>> class Net(dg.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc = dg.nn.Linear(3, 2)
        ...     def forward(self, x):
        ...         return self.fc(x).relu()
        >>> Net()(dg.ones(4, 3)).shape, [name for name, _ in Net().named_parameters()]
        ((4, 2), ['fc.weight', 'fc.bias'])
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----------------------------------------------------------------- attributes
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() call (call super().__init__() first)")
        params, modules = self.__dict__["_parameters"], self.__dict__["_modules"]
        for d in (params, modules):
            d.pop(name, None)
        if isinstance(value, Module):
            modules[name] = value
        elif owner(value) is not None:
            params[name] = value
        elif value is None and name in getattr(type(self), "_optional_parameters", ()):
            params[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for key in ("_parameters", "_modules"):
            if key in d and name in d[key]:
                return d[key][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for key in ("_parameters", "_modules"):
            if name in self.__dict__[key]:
                del self.__dict__[key][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Any) -> None:
        self._parameters[name] = param

    def add_module(self, name: str, module: "Module | None") -> None:
        self._modules[name] = module

    # ----------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define it in your subclass")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ----------------------------------------------------------------- traversal
    def named_modules(self, memo=None, prefix: str = "") -> Iterator[tuple]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator["Module"]:
        """This module, then every submodule, depth first (each once).

        Yields:
            The modules.

        Examples:
            >>> [type(m).__name__ for m in dg.nn.Sequential(dg.nn.Linear(2, 2), dg.nn.ReLU()).modules()]
            ['Sequential', 'Linear', 'ReLU']
        """
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple]:
        """The direct submodules with the names they are registered under.

        Yields:
            ``(name, module)`` pairs, in registration order.

        Examples:
            >>> [name for name, _ in dg.nn.Sequential(dg.nn.Linear(2, 2), dg.nn.ReLU()).named_children()]
            ['0', '1']
        """
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator["Module"]:
        """The direct submodules, in registration order.

        Yields:
            The modules.

        Examples:
            >>> [type(m).__name__ for m in dg.nn.Sequential(dg.nn.Linear(2, 2), dg.nn.ReLU()).children()]
            ['Linear', 'ReLU']
        """
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        """``(name, parameter)`` in registration order, submodules depth first (PyTorch's order),
        each parameter once.

        Parameters:
            prefix: prepended to every name; recurse: include the submodules' parameters.

        Yields:
            ``(dotted name, parameter)`` pairs.

        Examples:
            >>> [n for n, _ in dg.nn.Sequential(dg.nn.Linear(2, 2), dg.nn.Linear(2, 1)).named_parameters()]
            ['0.weight', '0.bias', '1.weight', '1.bias']
        """
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mp}.{name}" if mp else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Any]:
        """The parameters, in ``named_parameters``' order (what an optimiser takes).

        Parameters:
            recurse: include the submodules' parameters.

        Yields:
            Each parameter once.

        Examples:
            >>> [tuple(p.shape) for p in dg.nn.Linear(3, 2).parameters()]
            [(2, 3), (2,)]
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    # ----------------------------------------------------------------- state
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

    # ----------------------------------------------------------------- modes and dtypes
    def train(self, mode: bool = True) -> "Module":
        """Set ``training`` on this module and every submodule (dropout acts only in training).

        Parameters:
            mode: ``True`` for training, ``False`` for evaluation.

        Returns:
            ``self``.

        Examples:
            >>> dg.nn.Dropout().train(False).training
            False
        """
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode for this module and its submodules: ``train(False)`` (dropout off).

        Returns:
            This module.

        Examples:
            >>> dg.nn.Dropout(0.5).eval().training
            False
        """
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            owner(p).zero_grad(p)

    def to(self, *args, **kwargs) -> "Module":
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or keywords, as PyTorch: converts the
        parameters' dtype; ``"cpu"`` is the only device a module lives on."""
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

    def double(self) -> "Module":
        """Convert every parameter to float64 (``to("float64")``).

        Returns:
            This module.

        Examples:
            >>> dg.nn.Linear(2, 2).double().weight.dtype
            dyngraph.float64
        """
        return self.to("float64")

    def float(self) -> "Module":
        """Convert every parameter to float32 (``to("float32")``).

        Returns:
            This module.

        Examples:
            >>> dg.nn.Linear(2, 2).double().float().weight.dtype
            dyngraph.float32
        """
        return self.to("float32")

    def apply(self, fn) -> "Module":
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ----------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """The module's own settings, shown inside its ``repr`` (override it in a layer).

        Returns:
            ``""`` here; a layer's settings (``"in_features=2, ..."``).

        Examples:
            >>> dg.nn.Linear(2, 3).extra_repr()
            'in_features=2, out_features=3, bias=True'
        """
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(value)
