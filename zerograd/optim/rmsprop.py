"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
from zerograd.autograd.grad_mode import no_grad
from zerograd.ops.creation import zeros_like
from zerograd.optim._functional import ema_square_, lerp_, prepare_grad
from zerograd.optim.optimizer import Optimizer, _check_lr, _scalar, _step_tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Implements RMSprop, as ``torch.optim.RMSprop``.

    With ``g`` the gradient (negated if ``maximize``) plus ``weight_decay * p``::

        v   = alpha * v + (1 - alpha) * g**2
        avg = sqrt(v - mean_g**2) + eps      (centered; mean_g: running mean of g)
        avg = sqrt(v) + eps                  (otherwise)
        buf = momentum * buf + g / avg;  p = p - lr * buf     (momentum > 0)
        p   = p - lr * g / avg                                (otherwise)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant (default 0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance instead.
        maximize: maximize the objective instead of minimizing it.
        capturable, foreach: accepted for compatibility; there is one implementation.
        differentiable: must be False (updates happen outside autograd).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        self._check_supported(differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_for(self, p, group):
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _step_tensor()
            state["square_avg"] = zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = zeros_like(p)
        return state

    @no_grad()
    def step(self, closure=None):
        """Perform one optimization step; returns the closure's loss if one is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            momentum, centered = group["momentum"], group["centered"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state_for(p, group)
                state["step"]._data += 1
                self._apply_update(
                    _rmsprop_update, (p._data, p.grad._data, state["square_avg"]._data,
                                      state["grad_avg"]._data if centered else None,
                                      state["momentum_buffer"]._data if momentum > 0 else None),
                    3, lr=_scalar(group["lr"]), alpha=group["alpha"],
                    eps=group["eps"], weight_decay=group["weight_decay"], momentum=momentum,
                    maximize=group["maximize"])
                p._bump_version()
        return loss


def _rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, work, *, xp, lr, alpha,
                    eps, weight_decay, momentum, maximize):
    """One RMSprop step on arrays, in place; ``grad_avg`` is None unless centered."""
    t0, t1, t2 = work
    grad = prepare_grad(xp, param, grad, t2, weight_decay, maximize)
    ema_square_(xp, square_avg, grad, alpha, t0)
    if grad_avg is not None:
        lerp_(xp, grad_avg, grad, 1 - alpha, t0)
        avg = xp.subtract(square_avg, xp.multiply(grad_avg, grad_avg, out=t0), out=t0)
        xp.sqrt(avg, out=avg)
    else:
        avg = xp.sqrt(square_avg, out=t0)
    avg += eps
    if momentum > 0:
        momentum_buffer *= momentum
        momentum_buffer += xp.divide(grad, avg, out=t1)
        param += xp.multiply(momentum_buffer, -lr, out=t1)
    else:
        update = xp.divide(grad, avg, out=t0)
        update *= -lr
        param += update
