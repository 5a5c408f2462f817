"""``Module`` and ``Parameter``, as ``torch.nn`` has them, for both front ends (the parameters'
values are handled by ``state.py``, the containers are in ``containers.py``).

A module's parameters are the current front end's trainable values (``frontend.current()``):
dyngraph tensors that require grad, or staticgraph variables of the graph being declared. The
module code itself only uses the shared tensor surface, so one class serves both.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator

import numpy as np

from .frontend import current, owner
from .state import IncompatibleKeys, StateMethods  # noqa: F401 - nn/__init__ imports IncompatibleKeys from here


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


class Module(StateMethods):
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
        """Register ``param`` under ``name`` (what ``self.name = param`` does for a parameter).

        Args:
            name: the attribute name; the parameter's key in ``state_dict`` on this module.
            param: a ``Parameter`` (a front-end trainable value), or ``None`` for an absent one.

        Examples:
            >>> m = dg.nn.Module()
            >>> m.register_parameter("scale", dg.nn.Parameter(np.ones(1, np.float32)))
            >>> [name for name, _ in m.named_parameters()]
            ['scale']
        """
        self._parameters[name] = param

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register ``module`` as a submodule under ``name`` (what ``self.name = module`` does).

        Args:
            name: the attribute name; the prefix of its parameters' keys (``name.weight``).
            module: the submodule, or ``None``.

        Examples:
            >>> m = dg.nn.Module()
            >>> m.add_module("fc", dg.nn.Linear(2, 1))
            >>> list(m.state_dict())
            ['fc.weight', 'fc.bias']
        """
        self._modules[name] = module

    # ----------------------------------------------------------------- calling
    def forward(self, *args, **kwargs):  # pragma: no cover
        """The computation: define it in a subclass. Calling the module (``m(x)``) calls it.

        Args:
            *args: the inputs, as the subclass defines them.
            **kwargs: keyword inputs, likewise.

        Returns:
            What the subclass computes.

        Examples:
            >>> class Double(dg.nn.Module):
            ...     def forward(self, x):
            ...         return 2 * x
            >>> Double()(dg.tensor([1.0, 2.0]))
            tensor([2., 4.])
            >>> dg.nn.Module()(dg.tensor([1.0]))
            Traceback (most recent call last):
            ...
            NotImplementedError: Module has no forward(); define it in your subclass
        """
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define it in your subclass")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ----------------------------------------------------------------- traversal
    def named_modules(self, memo=None, prefix: str = "") -> Iterator[tuple]:
        """This module and every submodule with its dotted name, depth first, each once.

        Args:
            memo: ids of modules already yielded (shared by the recursion; leave it out).
            prefix: prepended to every name (this module's own name is ``prefix``).

        Yields:
            ``(dotted name, module)`` pairs; this module's name is ``""`` by default.

        Examples:
            >>> net = dg.nn.Sequential(dg.nn.Linear(2, 2), dg.nn.Sequential(dg.nn.ReLU()))
            >>> [(name, type(m).__name__) for name, m in net.named_modules()]
            [('', 'Sequential'), ('0', 'Linear'), ('1', 'Sequential'), ('1.0', 'ReLU')]
        """
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

    def apply(self, fn) -> "Module":
        """Call ``fn`` on every submodule (children first, depth first), then on this module:
        how a custom initialisation is applied to a whole model.

        Args:
            fn: a function of one module.

        Returns:
            This module.

        Examples:
            >>> seen = []
            >>> _ = dg.nn.Sequential(dg.nn.Linear(2, 2), dg.nn.ReLU()).apply(lambda m: seen.append(type(m).__name__))
            >>> seen
            ['Linear', 'ReLU', 'Sequential']
        """
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
