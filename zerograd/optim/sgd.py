"""Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""
from zerograd.autograd.grad_mode import no_grad
from zerograd.ops.creation import empty_like
from zerograd.optim._functional import prepare_grad
from zerograd.optim.optimizer import Optimizer, _check_lr, _scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    """Implements stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    With ``g`` the gradient (negated if ``maximize``) plus ``weight_decay * p``::

        buf = g                                    (first step)
        buf = momentum * buf + (1 - dampening) * g (later steps)
        g   = g + momentum * buf if nesterov else buf
        p   = p - lr * g

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening for momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, fused: accepted for compatibility; there is one implementation.
        differentiable: must be False (updates happen outside autograd).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self._check_supported(differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        """Perform one optimization step; returns the closure's loss if one is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, momentum = _scalar(group["lr"]), group["momentum"]
            plain = momentum == 0 and group["weight_decay"] == 0 and not group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if plain and p._data.size <= _DIRECT_ELEMENTS:
                    # p -= lr * g as one product and one add: the general update's scratch
                    # and blocking cost more than the arithmetic on a small parameter
                    p._data += p.grad._data * -lr
                    p._bump_version()
                    continue
                buf, first = None, False
                if momentum != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:  # torch starts it at the gradient
                        state["momentum_buffer"] = empty_like(p)
                        first = True
                    buf = state["momentum_buffer"]._data
                self._apply_update(
                    _sgd_update, (p._data, p.grad._data, buf), 2, first=first, lr=lr,
                    momentum=momentum, dampening=group["dampening"],
                    weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                    maximize=group["maximize"])
                p._bump_version()
        return loss


_DIRECT_ELEMENTS = 1 << 16  # plain SGD updates parameters up to this size directly


def _sgd_update(param, grad, buf, work, *, xp, first, lr, momentum, dampening, weight_decay,
                nesterov, maximize):
    """One SGD update of ``param`` (and the momentum buffer ``buf``) in place.

    ``work`` holds two scratch arrays shaped like ``param``: every operation writes into
    ``param``, the buffer or scratch (``out=``), so the update allocates nothing.
    On the ``first`` step the buffer is set to the gradient.
    """
    t0, t1 = work
    d_p = prepare_grad(xp, param, grad, t0, weight_decay, maximize)
    if momentum != 0:
        if first:
            xp.copyto(buf, d_p)
        else:
            buf *= momentum
            if dampening == 0:
                buf += d_p
            else:
                buf += xp.multiply(d_p, 1 - dampening, out=t1)
        if nesterov:
            d_p = xp.add(d_p, xp.multiply(buf, momentum, out=t1), out=t1)
        else:
            d_p = buf
    param += xp.multiply(d_p, -lr, out=t1 if d_p is buf else t0 if d_p is grad else d_p)
