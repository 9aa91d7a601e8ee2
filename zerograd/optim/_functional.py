"""Array-level building blocks shared by the optimizers' update functions.

Each works in place with ``out=`` into a caller-provided scratch array, so an update step
allocates nothing: at the sizes of real models the cost is passes over memory, and fresh
temporaries would add page faults on top. ``xp`` is the array module of the parameter's
device (``Optimizer._apply_update`` passes it).
"""


def prepare_grad(xp, param, grad, work, weight_decay, maximize, lr=None, decoupled=False):
    """The gradient with maximize and L2 weight decay applied (written to ``work`` if changed).

    With ``decoupled`` the weights are decayed in place instead: ``p *= 1 - lr * wd``.
    """
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            xp.multiply(param, weight_decay, out=work)
            return (xp.subtract if maximize else xp.add)(work, grad, out=work)
    if maximize:
        return xp.negative(grad, out=work)
    return grad


def lerp_(xp, start, end, weight, work):
    """``start += weight * (end - start)`` in place, with torch's two-sided lerp formula."""
    diff = xp.subtract(end, start, out=work)
    if weight < 0.5:
        start += xp.multiply(diff, weight, out=diff)
    else:
        xp.subtract(end, xp.multiply(diff, 1 - weight, out=diff), out=start)


def ema_square_(xp, avg, grad, decay, work):
    """``avg = decay * avg + (1 - decay) * grad**2`` in place (torch's mul_ then addcmul_)."""
    avg *= decay
    xp.multiply(grad, 1 - decay, out=work)
    avg += xp.multiply(work, grad, out=work)
