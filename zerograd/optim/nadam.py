"""NAdam: Adam with Nesterov momentum and a momentum-decay schedule."""
from zerograd.autograd.grad_mode import no_grad
from zerograd.ops.creation import zeros_like
from zerograd.optim._functional import ema_square_, lerp_, prepare_grad
from zerograd.optim.adam import _check_adam_args
from zerograd.optim.optimizer import Optimizer, _scalar, _step_tensor

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """Implements NAdam, as ``torch.optim.NAdam``.

    With ``g`` the gradient (negated if ``maximize``), ``t`` the step count and
    ``mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))``::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        denom = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - prod(mu_1..mu_t)) * g / denom
              - lr * mu_{t+1} / (1 - prod(mu_1..mu_{t+1})) * m / denom

    State per parameter: ``step``, ``mu_product``, ``exp_avg``, ``exp_avg_sq``.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: decay rates of the moment averages (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay (default 0), L2 unless ``decoupled_weight_decay``.
        momentum_decay: momentum decay psi (default 4e-3).
        decoupled_weight_decay: decay weights directly, as AdamW does (NAdamW).
        maximize: maximize the objective instead of minimizing it.
        capturable, foreach: accepted for compatibility; there is one implementation.
        differentiable: must be False (updates happen outside autograd).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        self._check_supported(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        """Perform one optimization step; returns the closure's loss if one is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, decay = _scalar(group["lr"]), group["momentum_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["mu_product"] = _step_tensor(1.0)
                    state["exp_avg"] = zeros_like(p)
                    state["exp_avg_sq"] = zeros_like(p)
                step_t, mu_product = state["step"]._data, state["mu_product"]._data
                step_t += 1
                step = float(step_t)
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
                mu_product *= mu  # kept in the state's dtype, as torch does
                prod = float(mu_product)
                self._apply_update(
                    _nadam_update, (p._data, p.grad._data, state["exp_avg"]._data,
                                    state["exp_avg_sq"]._data), 3, beta1=beta1, beta2=beta2,
                    bias_correction2=1 - beta2 ** step,
                    grad_coef=-lr * (1.0 - mu) / (1.0 - prod),
                    avg_coef=(-lr * mu_next) / (1.0 - prod * mu_next), lr=lr,
                    weight_decay=group["weight_decay"], eps=group["eps"],
                    maximize=group["maximize"],
                    decoupled_weight_decay=group["decoupled_weight_decay"])
                p._bump_version()
        return loss


def _nadam_update(param, grad, exp_avg, exp_avg_sq, work, *, xp, beta1, beta2, bias_correction2,
                  grad_coef, avg_coef, lr, weight_decay, eps, maximize, decoupled_weight_decay):
    """One NAdam step on arrays, in place: ``p += (grad_coef * g + avg_coef * m) / denom``."""
    t0, t1, t2 = work
    grad = prepare_grad(xp, param, grad, t2, weight_decay, maximize, lr, decoupled_weight_decay)
    lerp_(xp, exp_avg, grad, 1 - beta1, t0)
    ema_square_(xp, exp_avg_sq, grad, beta2, t0)
    denom = xp.sqrt(xp.divide(exp_avg_sq, bias_correction2, out=t0), out=t0)
    denom += eps
    param += xp.multiply(xp.divide(grad, denom, out=t1), grad_coef, out=t1)
    param += xp.multiply(xp.divide(exp_avg, denom, out=t1), avg_coef, out=t1)
