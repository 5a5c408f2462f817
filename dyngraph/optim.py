"""``dg.optim``: ``SGD``, ``Adam``, ``AdamW`` with ``torch.optim``'s arguments and arithmetic.

The update is ``shared_ops.nn.optim_math`` run on tensors under ``no_grad`` and copied into
each parameter (its version counter moves, as PyTorch's in-place update). The arithmetic is the
same shared ops ``sg.train`` declares, so a training run with ``optimize=False`` is bitwise equal
in both front ends.
"""

from __future__ import annotations

import numpy as np

from shared_ops.nn import optim_math

from .creation import tensor
from .grad_mode import no_grad
from .tensors import Tensor


class Optimizer:
    """Parameter groups, per-parameter state, ``zero_grad``, ``state_dict`` / ``load_state_dict``.

    Parameters:
        params: leaf tensors, or a list of groups ``{"params": [...], "lr": ...}``; a leaf that
            does not require grad (a frozen parameter) is kept and skipped by ``step``, as in PyTorch.
        defaults: each group's settings where the group does not give them.

    Raises:
        ValueError: no parameters, or one that is not a leaf.
        TypeError: a parameter that is not a tensor.

    Examples:
        >>> dg.optim.SGD([dg.ones(2, requires_grad=True) * 2], lr=0.1)
        Traceback (most recent call last):
        ValueError: can't optimize a non-leaf Tensor
    """

    def __init__(self, params, defaults: dict):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        for gr in groups:
            group = {**defaults, **gr, "params": list(gr["params"])}
            for p in group["params"]:  # a frozen leaf (no grad) is kept and skipped by step, as in PyTorch
                if not isinstance(p, Tensor):
                    raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
                if not p.is_leaf:
                    raise ValueError("can't optimize a non-leaf Tensor")
            self.param_groups.append(group)
        self.state: dict = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` before the next backward.

        Parameters:
            set_to_none: ``.grad = None`` (PyTorch's default); ``False`` fills it with zeros.

        Examples:
            >>> w = dg.tensor(1.0, requires_grad=True)
            >>> opt = dg.optim.SGD([w], lr=0.1)
            >>> (w * w).backward(); opt.zero_grad(); w.grad is None
            True
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a ``.grad``, outside the graph.

        Parameters:
            closure: a function that recomputes the loss (and calls backward), run first.

        Returns:
            The closure's loss, or ``None``.

        Examples:
            >>> w = dg.tensor(1.0, requires_grad=True)
            >>> opt = dg.optim.SGD([w], lr=0.25)
            >>> (w * w).backward(); opt.step(); w
            tensor(0.5000, requires_grad=True)
        """
        loss = None
        if closure is not None:
            from .grad_mode import enable_grad

            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        new = self._update(p, p.grad, self.state.setdefault(p, {}), group)
                        p.copy_(new)
        return loss

    def _update(self, p, g, state, group):  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict:
        """``{"state": {index: {name: array}}, "param_groups": [{..., "params": [indices]}]}``, as PyTorch.

        Returns:
            The dict, holding copies (NumPy arrays) of the state.

        Examples:
            >>> w = dg.tensor(1.0, requires_grad=True)
            >>> opt = dg.optim.SGD([w], lr=0.25, momentum=0.5)
            >>> (w * w).backward(); opt.step()
            >>> list(opt.state_dict()["state"][0]), opt.state_dict()["param_groups"][0]["params"]
            (['momentum_buffer'], [0])
        """
        index, groups, k = {}, [], 0
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index[id(p)] = k
                ids.append(k)
                k += 1
            groups.append({**{a: b for a, b in group.items() if a != "params"}, "params": ids})
        state = {index[id(p)]: {n: (v.detach().numpy().copy() if isinstance(v, Tensor) else v) for n, v in s.items()}
                 for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take the settings and state of ``state_dict`` (from ``state_dict()``).

        Parameters:
            state_dict: as ``state_dict()`` returns it, for the same parameter groups.

        Raises:
            ValueError: its groups do not match this optimiser's in number or size.

        Examples:
            >>> w = dg.tensor(1.0, requires_grad=True)
            >>> saved = dg.optim.SGD([w], lr=0.5).state_dict()
            >>> opt = dg.optim.SGD([w], lr=0.1)
            >>> opt.load_state_dict(saved); opt.param_groups[0]["lr"]
            0.5
        """
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)
        ):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")
        params = [p for g in self.param_groups for p in g["params"]]
        for mine, theirs in zip(self.param_groups, groups):
            mine.update({a: b for a, b in theirs.items() if a != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            self.state[params[int(i)]] = {n: (tensor(np.asarray(v)) if isinstance(v, np.ndarray) else v) for n, v in s.items()}


class SGD(Optimizer):
    """``torch.optim.SGD(params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False)``.

    Parameters:
        params: the parameters, or parameter groups.
        lr: the step size.
        momentum: the factor of the momentum buffer.
        dampening: damps the gradient added to the buffer.
        weight_decay: L2 penalty added to the gradient.
        nesterov: Nesterov's momentum.
        maximize: not supported (raises).

    Raises:
        ValueError: a negative setting, Nesterov without momentum or with dampening, or
            ``maximize=True``.

    Examples:
        >>> w = dg.tensor(1.0, requires_grad=True)
        >>> opt = dg.optim.SGD([w], lr=0.25)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (w * w).backward(); opt.step()
        >>> w.item()
        0.25
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *, maximize=False):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"Invalid learning rate, momentum or weight_decay: {lr}, {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if maximize:
            raise ValueError("SGD(maximize=True) is not supported")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _update(self, p, g, state, group):
        buf = state.get("momentum_buffer")
        new, buf = optim_math.sgd(p.detach(), g, buf, lr=group["lr"], momentum=group["momentum"],
                                  dampening=group["dampening"], nesterov=group["nesterov"],
                                  weight_decay=group["weight_decay"], first=buf is None)
        if group["momentum"]:
            state["momentum_buffer"] = buf
        return new


class Adam(Optimizer):
    """``torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)``.

    Parameters:
        params: the parameters, or parameter groups.
        lr: the step size.
        betas: decays of the first and second moments.
        eps: added to the root of the second moment.
        weight_decay: L2 penalty (``AdamW``: decoupled decay; default 0, AdamW's 0.01).
        amsgrad: not supported (raises).

    Raises:
        ValueError: ``amsgrad=True``, or a negative lr or eps or a beta outside [0, 1).

    Examples:
        >>> w = dg.tensor(1.0, requires_grad=True)
        >>> opt = dg.optim.Adam([w], lr=0.1)
        >>> (w * w).backward(); opt.step(); round(w.item(), 4)
        0.9
    """

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=None, amsgrad=False):
        if amsgrad:
            raise ValueError(f"{type(self).__name__}(amsgrad=True) is not supported")
        if weight_decay is None:
            weight_decay = 1e-2 if self.decoupled else 0.0
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0 or lr < 0 or eps < 0:
            raise ValueError(f"Invalid lr, betas or eps: {lr}, {betas}, {eps}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = tensor(np.float64(0.0))
            state["exp_avg"] = tensor(np.zeros(p.shape, p._dtype_name))
            state["exp_avg_sq"] = tensor(np.zeros(p.shape, p._dtype_name))
        state["step"] = state["step"] + 1.0
        b1, b2 = group["betas"]
        new, state["exp_avg"], state["exp_avg_sq"] = optim_math.adam(
            p.detach(), g, state["exp_avg"], state["exp_avg_sq"], state["step"], lr=group["lr"], beta1=b1, beta2=b2,
            eps=group["eps"], weight_decay=group["weight_decay"], decoupled=self.decoupled)
        return new


class AdamW(Adam):
    """``torch.optim.AdamW``: the weight decay multiplies the parameter by ``1 - lr * wd`` first.

    The arguments are ``Adam``'s (``weight_decay`` defaults to 0.01).

    Examples:
        >>> w = dg.tensor(1.0, requires_grad=True)
        >>> opt = dg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).backward(); opt.step(); round(w.item(), 4)
        0.85
    """

    decoupled = True


__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
