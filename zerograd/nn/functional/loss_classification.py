"""Class-index losses of ``nn.functional``: ``nll_loss`` and ``cross_entropy``.

Class-index cross-entropy is one fused op: log-softmax (max-shifted log-sum-exp, finite
for logits of 1e4) and the weighted, label-smoothed NLL in one pass, with the direct
backward ``softmax - target distribution``. Probability targets compose differentiable ops.
"""
from zerograd.autograd.function import Function
from zerograd.autograd.grad_mode import is_grad_enabled
from zerograd.backend import errstate, xp
from zerograd.nn.functional._loss_util import (
    _check_reduction, _check_tensors, _legacy_reduction, _shape)
from zerograd.ops._util import const
from zerograd.ops import log_softmax, softmax

__all__ = ["cross_entropy", "nll_loss"]


def _class_targets(name, input, target, weight, ignore_index):
    """Validate class-index targets; return (C, flat targets, flat valid mask, weight array)."""
    _check_tensors(name, input, target)
    if input.ndim == 0:
        raise RuntimeError(f"{name}(): input must have at least 1 dimension (classes), got a "
                           "scalar")
    if target._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): expected target of an integer dtype holding class "
                           f"indices (Long), but got {target.dtype}; convert with "
                           "target.long() (floating targets are class probabilities and "
                           "must have the input's shape)")
    batched = input.ndim >= 2
    classes = input.shape[1] if batched else input.shape[0]
    expected = (input.shape[0],) + _shape(input)[2:] if batched else ()
    if _shape(target) != expected:
        if batched and target.ndim >= 1 and target.shape[0] != input.shape[0] \
                and input.ndim == 2:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({target.shape[0]}).")
        raise RuntimeError(f"{name}(): for input of shape {_shape(input)} (classes in dim "
                           f"{1 if batched else 0}) the class-index target must have shape "
                           f"{expected}, got {_shape(target)}")
    t = target._data.reshape(-1).astype(xp.int64, copy=False)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= classes))
    if bad.any():
        raise IndexError(f"Target {int(t[bad][0])} is out of bounds: class indices must lie "
                         f"in [0, {classes - 1}] (or equal ignore_index={ignore_index})")
    w = None
    if weight is not None:
        if _shape(weight) != (classes,):
            raise RuntimeError(f"weight tensor should be defined either for all {classes} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        w = weight._data.astype(input._data.dtype, copy=False)
    return classes, xp.where(valid, t, 0), valid, w


def _class_last(a, batched):
    """(N, C, d1, ...) -> (N*d1*..., C); unbatched (C,) -> (1, C)."""
    if not batched:
        return a.reshape(1, -1)
    return xp.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


class CrossEntropy(Function):
    """Weighted, label-smoothed NLL of log_softmax(x) for class-index targets, fused.

    Forward keeps only ``e = exp(x - max)`` and its row sums ``s``: the softmax the
    backward needs is ``e / s``, and every log-probability used is ``x - max - log s``.
    """

    @staticmethod
    def forward(ctx, x, t, valid, w, reduction, label_smoothing):
        batched = x.ndim >= 2
        x2 = _class_last(x, batched)
        rows, classes = x2.shape
        e = x2 - x2.max(axis=1, keepdims=True)
        eps = label_smoothing
        if eps > 0:  # sum_c w_c log p_c = sum_c w_c (x_c - max) - W log s
            smooth_shifted = e @ w if w is not None else e.sum(axis=1)
        picked = e[xp.arange(rows), t]
        xp.exp(e, out=e)
        s = e.sum(axis=1)
        log_s = xp.log(s)
        w_i = (w[t] if w is not None else xp.ones(rows, x.dtype)) * valid
        loss = (log_s - picked) * w_i
        if eps > 0:
            w_total = w.sum() if w is not None else classes
            smooth = (w_total * log_s - smooth_shifted) * valid
            loss = (1 - eps) * loss + (eps / classes) * smooth
        ctx.meta = (x.shape, batched, reduction, eps, classes)
        ctx.t, ctx.valid, ctx.w, ctx.w_i, ctx.e, ctx.s = t, valid, w, w_i, e, s
        ctx.save_for_backward(x)
        if reduction == "none":
            return loss.astype(x.dtype, copy=False).reshape(x.shape[:1] + x.shape[2:]
                                                            if batched else ())
        if reduction == "sum":
            return xp.asarray(loss.sum(), dtype=x.dtype)
        ctx.denom = w_i.sum()
        dt = x.dtype.type
        with errstate(divide="ignore", invalid="ignore"):  # all targets ignored: nan, as torch
            return xp.asarray(dt(loss.sum()) / dt(ctx.denom), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        shape, batched, reduction, eps, classes = ctx.meta
        w, w_i, valid, t = ctx.w, ctx.w_i, ctx.valid, ctx.t
        rows = t.shape[0]
        dt = ctx.e.dtype
        # d loss_i / d x_i = coef_i * softmax(x_i) - target_i, with target_i the (smoothed,
        # weighted) label distribution and coef_i its total mass
        w_total = w.sum() if w is not None else classes
        coef = ((1 - eps) * w_i + (eps / classes) * w_total * valid).astype(dt)
        smooth_row = (w if w is not None else xp.ones(classes, dt)) * (eps / classes)
        scale = 1
        if reduction == "mean":
            with errstate(divide="ignore", invalid="ignore"):
                scale = 1 / dt.type(ctx.denom)
        if not is_grad_enabled():
            g = grad_output._data.reshape(-1) * scale  # per row, or one value
            g = xp.broadcast_to(g, (rows,)).astype(dt, copy=False)
            grad = ctx.e * (coef * g / ctx.s).astype(dt)[:, None]
            if eps > 0:
                grad -= (g * valid)[:, None] * smooth_row[None, :].astype(dt)
            grad[xp.arange(rows), t] -= ((1 - eps) * w_i * g).astype(dt)
            return const(_class_first(grad, shape, batched)), None, None, None, None, None
        (x,) = ctx.saved_tensors
        target = (smooth_row[None, :] * valid[:, None]).astype(dt)
        target[xp.arange(rows), t] += (1 - eps) * w_i
        x2 = x.reshape(1, -1) if not batched else x.movedim(1, -1).reshape(-1, classes)
        g = grad_output.reshape(-1, 1) if reduction == "none" else grad_output
        grad = (softmax(x2, 1) * const(coef[:, None]) - const(target)) * (g * scale)
        grad = grad.reshape(shape) if not batched else \
            grad.reshape(*(shape[:1] + shape[2:]), classes).movedim(-1, 1)
        return grad, None, None, None, None, None

    @staticmethod
    def jvp(ctx, t_x, *_):
        # each row's loss has gradient coef * softmax(x_i) - target_i: dot it with the tangent
        shape, batched, reduction, eps, classes = ctx.meta
        w, w_i, valid, t = ctx.w, ctx.w_i, ctx.valid, ctx.t
        rows, dt = t.shape[0], ctx.e.dtype
        w_total = w.sum() if w is not None else classes
        coef = ((1 - eps) * w_i + (eps / classes) * w_total * valid).astype(dt)
        target = ((w if w is not None else xp.ones(classes, dt)) * (eps / classes))[None, :] \
            * valid[:, None]
        target = target.astype(dt)
        target[xp.arange(rows), t] += (1 - eps) * w_i

        def rows_of(a):
            return a.reshape(1, -1) if not batched else a.movedim(1, -1).reshape(-1, classes)

        x2 = rows_of(ctx.fw_inputs[0])
        per_row = ((softmax(x2, 1) * const(coef[:, None]) - const(target)) * rows_of(t_x)).sum(1)
        if reduction == "none":
            return per_row.reshape(shape[:1] + shape[2:] if batched else ())
        total = per_row.sum()
        return total / float(ctx.denom) if reduction == "mean" else total


def _class_first(a, shape, batched):
    if not batched:
        return a.reshape(shape)
    return xp.moveaxis(a.reshape(shape[:1] + shape[2:] + shape[1:2]), -1, 1)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """-input[i, target_i] * weight[target_i]; 'mean' divides by the summed weights of the
    targets that are not ``ignore_index``. ``input`` holds log-probabilities."""
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    classes, t, valid, w = _class_targets("nll_loss", input, target, weight, ignore_index)
    batched = input.ndim >= 2
    w_i = (w[t] if w is not None else xp.ones(t.shape, input._data.dtype)) * valid
    index = const(t.reshape(_shape(target) if batched else (1,)))
    picked = input.gather(1 if batched else 0, index.unsqueeze(1) if batched else index)
    picked = picked.squeeze(1) if batched else picked.reshape(())
    loss = -picked * const(w_i.reshape(picked._data.shape).astype(input._data.dtype))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / const(xp.asarray(w_i.sum(), dtype=input._data.dtype))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """log_softmax over dim 1 (dim 0 for an unbatched input) followed by the NLL.

    ``target`` is either class indices (integer, shape ``(N, d1, ...)``) or class
    probabilities (floating, the input's shape). ``weight`` rescales classes;
    ``label_smoothing`` mixes the target with the uniform distribution.
    """
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    _check_tensors("cross_entropy", input, target)
    if target.is_floating_point():
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    if _shape(target) == _shape(input) and input.ndim >= 2:
        raise RuntimeError(f"cross_entropy(): a target of the input's shape {_shape(input)} "
                           f"holds class probabilities and must be floating point, got "
                           f"{target.dtype}; pass class indices of shape {_shape(input)[:1]} "
                           f"+ {_shape(input)[2:]} or convert with target.float()")
    if not input.is_floating_point():
        raise RuntimeError(f"cross_entropy(): input must hold floating-point logits, got "
                           f"{input.dtype}")
    _, t, valid, w = _class_targets("cross_entropy", input, target, weight, ignore_index)
    return CrossEntropy.apply(input, t, valid, w, reduction, float(label_smoothing))


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing):
    if _shape(target) != _shape(input):
        raise RuntimeError(f"cross_entropy(): a floating-point target is read as class "
                           f"probabilities and must have the input's shape {_shape(input)}, "
                           f"got {_shape(target)}; for class indices pass an integer tensor "
                           "(target.long())")
    class_dim = 1 if input.ndim >= 2 else 0
    classes = input.shape[class_dim]
    logp = log_softmax(input, class_dim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    terms = logp * target
    if weight is not None:
        if _shape(weight) != (classes,):
            raise RuntimeError(f"weight tensor should be defined either for all {classes} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        terms = terms * (weight.reshape(-1, *([1] * (input.ndim - 2))) if input.ndim > 1
                         else weight)
    if reduction == "none":
        return -terms.sum(class_dim)
    if reduction == "sum":
        return -terms.sum()
    return -terms.sum() / (input.numel() // classes) if input.numel() else -terms.sum() * \
        float("nan")
