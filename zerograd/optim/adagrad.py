"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""
from zerograd.autograd.grad_mode import no_grad
from zerograd.ops.creation import full_like
from zerograd.optim._functional import prepare_grad
from zerograd.optim.optimizer import Optimizer, _check_lr, _scalar, _step_tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Implements Adagrad, as ``torch.optim.Adagrad``.

    With ``g`` the gradient (negated if ``maximize``) plus ``weight_decay * p``, ``t`` the
    step count::

        sum = sum + g**2
        p   = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)

    State (``step``, ``sum``) is created for every parameter at construction, like torch.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of ``sum`` (default 0).
        eps: added to the denominator for numerical stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it.
        foreach, fused: accepted for compatibility; there is one implementation.
        differentiable: must be False (updates happen outside autograd).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        self._check_supported(differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p):
        state = self.state[p]
        state["step"] = _step_tensor()
        # torch reads the initial value from the defaults, not the group
        init = self.defaults["initial_accumulator_value"]
        state["sum"] = full_like(p, init)
        return state

    @no_grad()
    def step(self, closure=None):
        """Perform one optimization step; returns the closure's loss if one is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = _scalar(group["lr"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:  # a parameter added with add_param_group
                    state = self._init_state(p)
                step_t = state["step"]._data
                step_t += 1
                clr = lr / (1 + (float(step_t) - 1) * group["lr_decay"])
                self._apply_update(
                    _adagrad_update, (p._data, p.grad._data, state["sum"]._data), 2, clr=clr,
                    weight_decay=group["weight_decay"], eps=group["eps"],
                    maximize=group["maximize"])
                p._bump_version()
        return loss


def _adagrad_update(param, grad, state_sum, work, *, xp, clr, weight_decay, eps, maximize):
    """One Adagrad step on arrays, in place, with decayed learning rate ``clr``."""
    t0, t1 = work
    grad = prepare_grad(xp, param, grad, t1, weight_decay, maximize)
    state_sum += xp.multiply(grad, grad, out=t0)
    std = xp.sqrt(state_sum, out=t0)
    std += eps
    update = xp.divide(grad, std, out=t0)
    update *= -clr
    param += update
