"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""
from zerograd.autograd.grad_mode import no_grad
from zerograd.ops.creation import zeros_like
from zerograd.optim._functional import ema_square_, lerp_, prepare_grad
from zerograd.optim.optimizer import Optimizer, _check_lr, _scalar, _step_tensor
from zerograd.tensor import Tensor

__all__ = ["Adam", "AdamW"]


def _check_adam_args(lr, betas, eps, weight_decay):
    _check_lr(lr)
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= _scalar(betas[0]) < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= _scalar(betas[1]) < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    """Implements Adam (and AMSGrad), as ``torch.optim.Adam``.

    With ``g`` the gradient (negated if ``maximize``), ``t`` the step count::

        g = g + weight_decay * p          (or p *= 1 - lr * weight_decay if decoupled)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr / (1 - beta1**t) * m / (sqrt(v / (1 - beta2**t)) + eps)

    with ``v`` replaced by its running maximum when ``amsgrad``. State per parameter:
    ``step``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``), named as in torch.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the first and second moment averages (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        amsgrad: use the AMSGrad variant.
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: decay the weights directly (AdamW) instead of adding an L2
            term to the gradient.
        foreach, fused, capturable: accepted for compatibility; there is one implementation.
        differentiable: must be False (updates happen outside autograd).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        if not (all(isinstance(b, float) for b in betas)
                or all(isinstance(b, Tensor) for b in betas)):
            raise ValueError("betas must be either both floats or both Tensors")
        self._check_supported(differentiable)
        defaults = dict(lr=lr, betas=tuple(_scalar(b) for b in betas), eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _state_for(self, p, amsgrad):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _step_tensor()
            state["exp_avg"] = zeros_like(p)
            state["exp_avg_sq"] = zeros_like(p)
            if amsgrad:
                state["max_exp_avg_sq"] = zeros_like(p)
        return state

    @no_grad()
    def step(self, closure=None):
        """Perform one optimization step; returns the closure's loss if one is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = (_scalar(b) for b in group["betas"])
            amsgrad = group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state_for(p, amsgrad)
                step_t = state["step"]._data
                step_t += 1
                self._apply_update(
                    _adam_update, (p._data, p.grad._data, state["exp_avg"]._data,
                                   state["exp_avg_sq"]._data,
                                   state["max_exp_avg_sq"]._data if amsgrad else None), 2,
                    step=float(step_t), beta1=beta1, beta2=beta2,
                    lr=_scalar(group["lr"]), weight_decay=group["weight_decay"],
                    eps=group["eps"], maximize=group["maximize"],
                    decoupled_weight_decay=group["decoupled_weight_decay"])
                p._bump_version()
        return loss


class AdamW(Adam):
    """Implements AdamW: Adam with decoupled weight decay (``p *= 1 - lr * weight_decay``
    before the Adam update), as ``torch.optim.AdamW``. Default ``weight_decay`` is 1e-2."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:  # loading any state keeps AdamW decoupled
            group["decoupled_weight_decay"] = True


def _adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, work, *, xp, step, beta1,
                 beta2, lr, weight_decay, eps, maximize, decoupled_weight_decay):
    """One Adam step on arrays, in place; ``work`` holds two scratch arrays like ``param``."""
    t0, t1 = work
    grad = prepare_grad(xp, param, grad, t1, weight_decay, maximize, lr, decoupled_weight_decay)
    lerp_(xp, exp_avg, grad, 1 - beta1, t0)
    ema_square_(xp, exp_avg_sq, grad, beta2, t0)
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        exp_avg_sq = max_exp_avg_sq
    step_size = lr / (1 - beta1 ** step)
    bc2_sqrt = (1 - beta2 ** step) ** 0.5
    # torch: p -= step_size * m / (sqrt(v) / bc2_sqrt + eps). Multiplying through by
    # bc2_sqrt gives the same value with two fewer passes over the arrays.
    denom = xp.sqrt(exp_avg_sq, out=t0)
    denom += eps * bc2_sqrt
    update = xp.divide(exp_avg, denom, out=t0)
    update *= -step_size * bc2_sqrt
    param += update
