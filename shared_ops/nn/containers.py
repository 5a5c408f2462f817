"""The containers of ``nn``: ``Sequential`` (modules applied in order) and ``ModuleList`` (modules
held in a list), both ``Module``s whose children are registered under ``0``, ``1``..."""

from __future__ import annotations

from collections import OrderedDict

from .module import Module


class Sequential(Module):
    """Modules applied in order; ``Sequential(a, b)`` or ``Sequential(OrderedDict(...))``.

    Args:
        *mods: the modules (registered as ``0``, ``1``...), or one ``OrderedDict`` name -> module.

    Examples:
        >>> m = dg.nn.Sequential(dg.nn.Linear(2, 3), dg.nn.ReLU())
        >>> len(m), m(dg.ones(1, 2)).shape
        (2, (1, 3))
    """

    def __init__(self, *mods):
        super().__init__()
        if len(mods) == 1 and isinstance(mods[0], OrderedDict):
            for name, m in mods[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(mods):
                self.add_module(str(i), m)

    def forward(self, x):
        """Apply each module to the previous one's output.

        Args:
            x: the input of the first module.

        Returns:
            The last module's output.

        Examples:
            >>> dg.nn.Sequential(dg.nn.ReLU(), dg.nn.Tanh())(dg.tensor([-1.0, 0.0]))
            tensor([0., 0.])
        """
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, m: Module) -> "Sequential":
        """Add ``m`` at the end (under the next index).

        Args:
            m: the module.

        Returns:
            This ``Sequential``.

        Examples:
            >>> len(dg.nn.Sequential(dg.nn.ReLU()).append(dg.nn.Tanh()))
            2
        """
        self.add_module(str(len(self._modules)), m)
        return self


class ModuleList(Module):
    """A list of modules registered under ``0``, ``1``, ... (no forward of its own).

    Args:
        mods: the modules (an iterable), or ``None``.

    Examples:
        >>> layers = dg.nn.ModuleList([dg.nn.Linear(2, 2), dg.nn.Linear(2, 2)])
        >>> len(layers), len(list(layers.parameters()))
        (2, 4)
    """

    def __init__(self, mods=None):
        super().__init__()
        for m in mods or ():
            self.append(m)

    def append(self, m: Module) -> "ModuleList":
        """Add ``m`` at the end (under the next index).

        Args:
            m: the module.

        Returns:
            This ``ModuleList``.

        Examples:
            >>> len(dg.nn.ModuleList().append(dg.nn.ReLU()))
            1
        """
        self.add_module(str(len(self._modules)), m)
        return self

    def extend(self, mods) -> "ModuleList":
        """Append each of ``mods``.

        Args:
            mods: an iterable of modules.

        Returns:
            This ``ModuleList``.

        Examples:
            >>> len(dg.nn.ModuleList([dg.nn.ReLU()]).extend([dg.nn.Tanh(), dg.nn.Tanh()]))
            3
        """
        for m in mods:
            self.append(m)
        return self

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return ModuleList(mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
