"""Adadelta: step sizes from running averages of squared gradients and squared updates."""
from zerograd.autograd.grad_mode import no_grad
from zerograd.ops.creation import zeros_like
from zerograd.optim._functional import ema_square_, prepare_grad
from zerograd.optim.optimizer import Optimizer, _check_lr, _scalar, _step_tensor

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Implements Adadelta, as ``torch.optim.Adadelta``.

    With ``g`` the gradient (negated if ``maximize``) plus ``weight_decay * p``::

        v     = rho * v + (1 - rho) * g**2
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u     = rho * u + (1 - rho) * delta**2
        p     = p - lr * delta

    State per parameter: ``step``, ``square_avg`` (v) and ``acc_delta`` (u).

    Args:
        params: parameters or parameter groups to optimize.
        lr: coefficient scaling delta before it is applied (default 1.0).
        rho: decay rate of the running averages (default 0.9).
        eps: added inside the square roots for numerical stability (default 1e-6).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it.
        capturable, foreach: accepted for compatibility; there is one implementation.
        differentiable: must be False (updates happen outside autograd).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        self._check_supported(differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        """Perform one optimization step; returns the closure's loss if one is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["square_avg"] = zeros_like(p)
                    state["acc_delta"] = zeros_like(p)
                state["step"]._data += 1
                self._apply_update(
                    _adadelta_update, (p._data, p.grad._data, state["square_avg"]._data,
                                       state["acc_delta"]._data), 3,
                    lr=_scalar(group["lr"]), rho=group["rho"], eps=group["eps"],
                    weight_decay=group["weight_decay"], maximize=group["maximize"])
                p._bump_version()
        return loss


def _adadelta_update(param, grad, square_avg, acc_delta, work, *, xp, lr, rho, eps, weight_decay,
                     maximize):
    """One Adadelta step on arrays, in place."""
    t0, t1, t2 = work
    grad = prepare_grad(xp, param, grad, t2, weight_decay, maximize)
    ema_square_(xp, square_avg, grad, rho, t0)
    std = xp.sqrt(xp.add(square_avg, eps, out=t0), out=t0)
    delta = xp.sqrt(xp.add(acc_delta, eps, out=t1), out=t1)
    delta /= std
    delta *= grad
    ema_square_(xp, acc_delta, delta, rho, t0)
    param += xp.multiply(delta, -lr, out=delta)
