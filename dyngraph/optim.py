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
    """Parameter groups, per-parameter state, ``zero_grad``, ``state_dict`` / ``load_state_dict``."""

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
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure=None):
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
        """``{"state": {index: {name: array}}, "param_groups": [{..., "params": [indices]}]}``, as PyTorch."""
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
    """``torch.optim.SGD(params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False)``."""

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
    """``torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)``."""

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
    """``torch.optim.AdamW``: the weight decay multiplies the parameter by ``1 - lr * wd`` first."""

    decoupled = True


__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
