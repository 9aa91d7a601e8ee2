"""Adamax: Adam with the infinity norm in place of the second moment."""
from zerograd.autograd.grad_mode import no_grad
from zerograd.ops.creation import zeros_like
from zerograd.optim._functional import lerp_, prepare_grad
from zerograd.optim.adam import _check_adam_args
from zerograd.optim.optimizer import Optimizer, _scalar, _step_tensor

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Implements Adamax, as ``torch.optim.Adamax``.

    With ``g`` the gradient (negated if ``maximize``) plus ``weight_decay * p``, ``t`` the
    step count::

        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    State per parameter: ``step``, ``exp_avg`` (m) and ``exp_inf`` (u).

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: decay rates of the average and of the infinity norm (default (0.9, 0.999)).
        eps: added to the norm for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it.
        capturable, foreach: accepted for compatibility; there is one implementation.
        differentiable: must be False (updates happen outside autograd).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        self._check_supported(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        """Perform one optimization step; returns the closure's loss if one is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["exp_avg"] = zeros_like(p)
                    state["exp_inf"] = zeros_like(p)
                step_t = state["step"]._data
                step_t += 1
                clr = _scalar(group["lr"]) / (1 - beta1 ** float(step_t))
                self._apply_update(
                    _adamax_update, (p._data, p.grad._data, state["exp_avg"]._data,
                                     state["exp_inf"]._data), 2, clr=clr,
                    beta1=beta1, beta2=beta2, eps=group["eps"],
                    weight_decay=group["weight_decay"], maximize=group["maximize"])
                p._bump_version()
        return loss


def _adamax_update(param, grad, exp_avg, exp_inf, work, *, xp, clr, beta1, beta2, eps,
                   weight_decay, maximize):
    """One Adamax step on arrays, in place, with bias-corrected learning rate ``clr``."""
    t0, t1 = work
    grad = prepare_grad(xp, param, grad, t1, weight_decay, maximize)
    lerp_(xp, exp_avg, grad, 1 - beta1, t0)
    exp_inf *= beta2
    norm = xp.abs(grad, out=t0)
    norm += eps
    xp.maximum(exp_inf, norm, out=exp_inf)
    update = xp.divide(exp_avg, exp_inf, out=t0)
    update *= -clr
    param += update
