"""Fused losses: binary cross-entropy of probabilities, and class-index cross-entropy.

Class-index cross-entropy is one op: log-softmax (max-shifted log-sum-exp, finite for
logits of 1e4) and the weighted, label-smoothed NLL in one pass, with the direct backward
``softmax - target distribution`` (on arrays in ``backward_array``, with zerograd ops in
``backward`` for gradients of gradients). Both wrappers trust their arguments
(``nn.functional`` checks shapes, dtypes and class indices first).
"""
from zerograd.autograd.function import Function
from zerograd.backend import errstate
from zerograd.ops._util import const
from zerograd.ops.activation import softmax
from zerograd.ops.selection import clamp
from zerograd.ops.unary import log, log1p
from zerograd.tensor import Tensor

__all__ = ["binary_cross_entropy", "cross_entropy_loss"]


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


# -- binary cross-entropy -------------------------------------------------------------------
class BinaryCrossEntropy(Function):
    """-(t log x + (1 - t) log(1 - x)) elementwise, logs clamped at -100 as torch does."""

    @staticmethod
    def forward(ctx, x, t):
        if x.size and (x.min() < 0 or x.max() > 1):
            raise RuntimeError("all elements of input should be between 0 and 1 (binary "
                               "cross-entropy takes probabilities; for raw scores use "
                               "binary_cross_entropy_with_logits / BCEWithLogitsLoss)")
        xp = ctx.xp
        with errstate(x, divide="ignore"):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        ctx.save_for_backward(x, t)
        return -(t * log_x + (1 - t) * log_1mx)

    @staticmethod
    def backward(ctx, grad_output):
        x, t = ctx.saved_tensors
        grad_x = grad_t = None
        with errstate(x._data, divide="ignore", invalid="ignore"):
            if ctx.needs_input_grad[0]:
                grad_x = grad_output * (x - t) / clamp(x * (1 - x), min=1e-12)
            if ctx.needs_input_grad[1]:
                grad_t = grad_output * (log1p(-x) - log(x))
        return grad_x, grad_t

    @staticmethod
    def jvp(ctx, t_x, t_t):
        x, t = (a if isinstance(a, Tensor) else const(a) for a in ctx.fw_inputs)
        out = None
        with errstate(x._data, divide="ignore", invalid="ignore"):
            if t_x is not None:
                out = t_x * (x - t) / clamp(x * (1 - x), min=1e-12)
            if t_t is not None:
                term = t_t * (log1p(-x) - log(x))
                out = term if out is None else out + term
        return out


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """BCE of probabilities ``input`` against ``target`` (same shape and dtype), times
    ``weight``, reduced by ``reduction`` ('none' | 'mean' | 'sum')."""
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# -- class-index cross-entropy --------------------------------------------------------------
def _class_last(xp, a, batched):
    """(N, C, d1, ...) -> (N*d1*..., C); unbatched (C,) -> (1, C)."""
    if not batched:
        return a.reshape(1, -1)
    if a.ndim == 2:  # already rows of classes
        return a
    return xp.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _class_first(xp, a, shape, batched):
    if not batched or len(shape) == 2:
        return a.reshape(shape)
    return xp.moveaxis(a.reshape(shape[:1] + shape[2:] + shape[1:2]), -1, 1)


def _row_reductions(ctx):
    """Max and sum over each row of class scores: the device's row kernels where it has
    them (the CPU's beat NumPy's reduce along a short axis), else the array module's."""
    rows = getattr(ctx.kernels, "rows", None)
    if rows is not None:
        return rows.row_max, rows.row_sum
    return (lambda a: a.max(axis=1, keepdims=True)), (lambda a: a.sum(axis=1))


class CrossEntropy(Function):
    """Weighted, label-smoothed NLL of log_softmax(x) for class-index targets, fused.

    Forward keeps only ``e = exp(x - max)`` and its row sums ``s``: the softmax the
    backward needs is ``e / s``, and every log-probability used is ``x - max - log s``.
    """

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, label_smoothing):
        xp = ctx.xp
        t = target.reshape(-1).astype(xp.int64, copy=False)
        valid = t != ignore_index
        # The plain case (no class weights, no smoothing, no ignored target: a training
        # step's loss) skips the per-row weights: every row counts 1.
        plain = weight is None and label_smoothing == 0 and bool(valid.all())
        if not plain:
            t = xp.where(valid, t, 0)
        w = None if weight is None else weight.astype(x.dtype, copy=False)
        batched = x.ndim >= 2
        x2 = _class_last(xp, x, batched)
        rows, classes = x2.shape
        row_max, row_sum = _row_reductions(ctx)
        e = x2 - row_max(x2)
        eps = label_smoothing
        if eps > 0:  # sum_c w_c log p_c = sum_c w_c (x_c - max) - W log s
            smooth_shifted = e @ w if w is not None else row_sum(e)
        picked = e[xp.arange(rows), t]
        xp.exp(e, out=e)
        s = row_sum(e)
        log_s = xp.log(s)
        if plain:
            w_i = None
            loss = log_s - picked
        else:
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
        ctx.denom = xp.asarray(rows, dtype=x.dtype) if plain else w_i.sum()
        with errstate(x, divide="ignore", invalid="ignore"):  # all targets ignored: nan
            return xp.asarray(loss.sum() / ctx.denom, dtype=x.dtype)

    @staticmethod
    def _row_weights(ctx):
        """Each row's weight (0 for an ignored target): ones in the plain case."""
        if ctx.w_i is None:
            ctx.w_i = ctx.xp.ones(ctx.t.shape[0], ctx.e.dtype)
        return ctx.w_i

    @staticmethod
    def _coefficients(ctx):
        """d loss_i / d x_i = scale * g_i * (coef_i * softmax(x_i) - target_i): target_i is
        the (smoothed, weighted) label distribution of row i and coef_i its total mass;
        scale is 1 / (sum of weights) for 'mean'. Returns (coef, smooth_row, scale)."""
        _, _, reduction, eps, classes = ctx.meta
        w, w_i, valid = ctx.w, CrossEntropy._row_weights(ctx), ctx.valid
        dt = ctx.e.dtype
        w_total = w.sum() if w is not None else classes
        coef = ((1 - eps) * w_i + (eps / classes) * w_total * valid).astype(dt)
        smooth_row = (w if w is not None else ctx.xp.ones(classes, dt)) * (eps / classes)
        scale = 1
        if reduction == "mean":
            with errstate(ctx.e, divide="ignore", invalid="ignore"):
                scale = (1 / ctx.denom).astype(dt)
        return coef, smooth_row, scale

    @staticmethod
    def _targets(ctx, smooth_row):
        """Every row's target distribution, as a (rows, classes) array."""
        eps, dt = ctx.meta[3], ctx.e.dtype
        target = (smooth_row[None, :] * ctx.valid[:, None]).astype(dt)
        target[ctx.xp.arange(ctx.t.shape[0]), ctx.t] += (1 - eps) * CrossEntropy._row_weights(ctx)
        return target

    @staticmethod
    def backward(ctx, grad_output):
        shape, batched, reduction, _, classes = ctx.meta
        coef, smooth_row, scale = CrossEntropy._coefficients(ctx)
        target = CrossEntropy._targets(ctx, smooth_row)
        x2 = _rows_of(ctx.saved_tensors[0], batched, classes)
        g = grad_output.reshape(-1, 1) if reduction == "none" else grad_output
        grad = (softmax(x2, 1) * const(coef[:, None]) - const(target)) * (g * scale)
        grad = grad.reshape(shape) if not batched else \
            grad.reshape(*(shape[:1] + shape[2:]), classes).movedim(-1, 1)
        return grad, None, None, None, None, None

    @staticmethod
    def backward_array(ctx, grad_output):
        # the same formula on the kept exp(x - max) and row sums: softmax = e / s
        shape, batched, reduction, eps, classes = ctx.meta
        xp, t, dt = ctx.xp, ctx.t, ctx.e.dtype
        rows = t.shape[0]
        if ctx.w_i is None and reduction != "none":  # plain: (softmax - onehot) * g / rows
            g = grad_output.astype(dt, copy=False)
            if reduction == "mean":
                g = g / dt.type(rows)
            factor = (g / ctx.s)[:, None]
            if ctx.keeps_saved:  # another backward will read e again
                grad = ctx.e * factor
            else:  # e is this op's own and is released after this call: reuse its memory
                grad, ctx.e = ctx.e, None
                grad *= factor
            grad[xp.arange(rows), t] -= g
            return _class_first(xp, grad, shape, batched), None, None, None, None, None
        coef, smooth_row, scale = CrossEntropy._coefficients(ctx)
        g = grad_output.reshape(-1) * scale  # per row, or one value
        g = xp.broadcast_to(g, (rows,)).astype(dt, copy=False)
        grad = ctx.e * (coef * g / ctx.s).astype(dt)[:, None]
        if eps > 0:
            grad -= (g * ctx.valid)[:, None] * smooth_row[None, :].astype(dt)
        grad[xp.arange(rows), t] -= ((1 - eps) * ctx.w_i * g).astype(dt)
        return _class_first(xp, grad, shape, batched), None, None, None, None, None

    @staticmethod
    def jvp(ctx, t_x, *_):
        # each row's loss has gradient coef * softmax(x_i) - target_i: dot it with the tangent
        shape, batched, reduction, _, classes = ctx.meta
        coef, smooth_row, scale = CrossEntropy._coefficients(ctx)
        target = CrossEntropy._targets(ctx, smooth_row)
        x2 = _rows_of(ctx.fw_inputs[0], batched, classes)
        per_row = ((softmax(x2, 1) * const(coef[:, None]) - const(target))
                   * _rows_of(t_x, batched, classes)).sum(1)
        if reduction == "none":
            return per_row.reshape(shape[:1] + shape[2:] if batched else ())
        return per_row.sum() * scale


def _rows_of(x, batched, classes):
    """A tensor (N, C, d1, ...) as (N*d1*..., C) rows; unbatched (C,) as (1, C)."""
    return x.reshape(1, -1) if not batched else x.movedim(1, -1).reshape(-1, classes)


def cross_entropy_loss(input, target, weight=None, reduction="mean", ignore_index=-100,
                       label_smoothing=0.0):
    """Cross-entropy of logits ``input`` (classes in dim 1, or dim 0 unbatched) against class
    indices ``target``; ``weight`` rescales classes, targets equal to ``ignore_index`` count
    for nothing, ``label_smoothing`` mixes the target with the uniform distribution."""
    return CrossEntropy.apply(input, target, weight, ignore_index, reduction,
                              float(label_smoothing))
