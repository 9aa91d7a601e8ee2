"""Synchronized batch norm: batch statistics over every rank of a process group.

The op behind ``nn.SyncBatchNorm``. Each rank holds a slice of the global batch; the
forward needs the global per-channel mean and variance, the backward the global sums of
``g`` and ``g * x_hat``. Both travel in one all-reduce of a packed buffer each, as in
torch's sync BN (``batch_norm_gather_stats_with_counts`` / ``batch_norm_backward_reduce``):

    forward:   [sum x, sum x^2, count] over ranks  ->  mean = S / M,  var = Q / M - mean^2
    backward:  dx = invstd * w * (g - sum(g) / M - x_hat * sum(g * x_hat) / M)

with M the global count and the two sums global. The weight and bias gradients stay local
(sums over this rank's batch only): DDP averages them afterwards, as it does in torch.
Each rank's ``sum x^2`` is assembled from its own centred second moment in float64, so the
``Q / M - mean^2`` difference loses nothing to cancellation for float32 data.

``group=None`` means one process (no communication): the op is then plain batch norm,
which is what the single-process oracle tests compare with torch. The all-reduces go
through ``zerograd.distributed``. With ``create_graph=True`` the backward is built from
zerograd ops and the differentiable ``AllReduceSum`` (its adjoint is itself), so second
derivatives include the other ranks' terms.
"""
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.dtypes import float64 as _float64
from zerograd.ops.normalization import update_running_stats
from zerograd.tensor import Tensor

__all__ = ["sync_batch_norm", "all_reduce_sum"]


def _all_reduce_(array, group):
    """Sum ``array`` over the ranks of ``group`` in place (nothing to do for one process)."""
    if group is not None:
        from zerograd.distributed import all_reduce
        all_reduce(Tensor._make(array), group=group)
    return array


def _channels(x):
    """(x viewed as (N, C, L), the per-channel element count on this rank)."""
    N, C = x.shape[:2]
    x3 = x.reshape(N, C, -1)
    return x3, N * x3.shape[2]


class AllReduceSum(Function):
    """``y = sum over ranks of a``: linear, and its own adjoint (the gradient of every
    rank's output reaches every rank's input), so backward and jvp are all-reduces too."""

    @staticmethod
    def forward(ctx, a, group):
        ctx.group = group
        return _all_reduce_(a.copy(), group)

    @staticmethod
    def backward(ctx, grad_output):
        return AllReduceSum.apply(grad_output, ctx.group), None

    @staticmethod
    def jvp(ctx, t_a, _):
        return AllReduceSum.apply(t_a, ctx.group)


def all_reduce_sum(tensor, group):
    """Differentiable sum of ``tensor`` over the ranks of ``group`` (None: one process)."""
    return AllReduceSum.apply(tensor, group)


class SyncBatchNorm(Function):
    """Training-mode batch norm of (N, C, *) input with statistics over all ranks.

    Returns ``(y, mean, var, count)``: the global per-channel mean and biased variance and
    the global number of values per channel (outputs without gradient) feed the running
    statistics.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps, group):
        xp = ctx.xp
        C = x.shape[1]
        x3, n = _channels(x)
        # this rank's mean and centred second moment, packed as global sums need them
        local_mean = x3.sum(axis=(0, 2)) / max(n, 1)
        centred = x3 - local_mean.reshape(C, 1)
        m2 = xp.einsum("ncl,ncl->c", centred, centred)
        stats = xp.empty(2 * C + 1, dtype=_float64.np)
        local_mean = local_mean.astype(stats.dtype)
        stats[:C] = local_mean * n
        stats[C:2 * C] = m2 + local_mean ** 2 * n
        stats[2 * C] = n
        _all_reduce_(stats, group)
        count = float(stats[2 * C])
        mean64 = stats[:C] / count
        var64 = xp.maximum(stats[C:2 * C] / count - mean64 ** 2, 0.0)
        mean, var = mean64.astype(x.dtype), var64.astype(x.dtype)
        invstd = (1.0 / xp.sqrt(var64 + eps)).astype(x.dtype)
        ctx.mean, ctx.invstd, ctx.count, ctx.eps, ctx.group = mean, invstd, count, eps, group
        ctx.save_for_backward(x, weight)
        y = x3 - mean.reshape(C, 1)
        y *= (invstd if weight is None else invstd * weight).reshape(C, 1)
        if bias is not None:
            y += bias.reshape(C, 1)
        count_out = xp.asarray(count, dtype=stats.dtype)
        ctx.mark_non_differentiable(mean, var, count_out)
        return y.reshape(x.shape), mean, var, count_out

    @staticmethod
    def backward_array(ctx, g, *_):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xp = array_module(g)
        C = g.shape[1]
        g3, _ = _channels(g)
        xc = x._data.reshape(g3.shape) - ctx.mean.reshape(C, 1)
        sum_g = g3.sum(axis=(0, 2))
        sum_g_xc = xp.einsum("ncl,ncl->c", g3, xc)
        gw = sum_g_xc * ctx.invstd if need_w else None  # local: DDP averages it
        gb = sum_g if need_b else None
        gx = None
        if need_x:
            sums = _all_reduce_(xp.concatenate([sum_g, sum_g_xc]), ctx.group) / ctx.count
            mean_g, mean_g_xc = sums[:C].astype(g.dtype), sums[C:].astype(g.dtype)
            scale = ctx.invstd if weight is None else ctx.invstd * weight._data
            # dx = scale * (g - mean(g) - xc * invstd^2 * mean(g * xc))
            xc *= (-scale * ctx.invstd ** 2 * mean_g_xc).reshape(C, 1)
            xc += (g3 - mean_g.reshape(C, 1)) * scale.reshape(C, 1)
            gx = xc.reshape(g.shape)
        return gx, gw, gb, None, None

    @staticmethod
    def backward(ctx, grad_output, *_):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        axes, shape = _axes(x)
        xhat, invstd = _global_xhat(x, ctx.eps, ctx.group, ctx.count)
        gx = gw = gb = None
        if need_x:
            gh = grad_output if weight is None else grad_output * weight.reshape(shape)
            means = _global_means([gh, gh * xhat], axes, ctx.group, ctx.count)
            gx = invstd * (gh - means[0] - xhat * means[1])
        if need_w:
            gw = (grad_output * xhat).sum(axes)
        if need_b:
            gb = grad_output.sum(axes)
        return gx, gw, gb, None, None

    @staticmethod
    def jvp(ctx, t_x, t_w, t_b, *_):
        x, weight = ctx.fw_inputs[:2]
        axes, shape = _axes(x)
        xhat, invstd = _global_xhat(x, ctx.eps, ctx.group, ctx.count)
        out = None
        if t_x is not None:  # the normalization's Jacobian is symmetric: backward's formula
            means = _global_means([t_x, t_x * xhat], axes, ctx.group, ctx.count)
            out = invstd * (t_x - means[0] - xhat * means[1])
            if weight is not None:
                out = out * weight.reshape(shape)
        for term in (None if t_w is None else xhat * t_w.reshape(shape),
                     None if t_b is None else t_b.reshape(shape)):
            if term is not None:
                out = term if out is None else out + term
        return out, None, None, None


def _axes(x):
    """The reduced dims of (N, C, *) input and the shape that broadcasts a (C,) tensor."""
    return (0,) + tuple(range(2, x.ndim)), (1, -1) + (1,) * (x.ndim - 2)


def _global_means(tensors, axes, group, count):
    """Per-channel means over every rank of each tensor, in one differentiable all-reduce."""
    C = tensors[0].shape[1]
    from zerograd.ops.join import cat
    total = all_reduce_sum(cat([t.sum(axes) for t in tensors]), group) / count
    shape = (1, -1) + (1,) * (tensors[0].ndim - 2)
    return [total[i * C:(i + 1) * C].reshape(shape) for i in range(len(tensors))]


def _global_xhat(x, eps, group, count):
    """x_hat and invstd from the global statistics, rebuilt with differentiable ops."""
    axes, _ = _axes(x)
    (mean,) = _global_means([x], axes, group, count)
    xc = x - mean
    (var,) = _global_means([xc * xc], axes, group, count)
    invstd = (var + eps).rsqrt()
    return xc * invstd, invstd


def sync_batch_norm(input, running_mean, running_var, weight=None, bias=None, momentum=0.1,
                    eps=1e-5, group=None):
    """Training-mode batch norm with statistics over the ranks of ``group`` (None: this
    process only); updates the running buffers with the global mean and the unbiased
    global variance, ``running = (1 - momentum) * running + momentum * batch``."""
    if input.ndim < 2:
        raise ValueError(f"sync_batch_norm: expected at least 2D input (N, C, ...), got "
                         f"{input.ndim}D input")
    out, mean, var, count = SyncBatchNorm.apply(input, weight, bias, eps, group)
    total = float(count.item())
    if total <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {input.shape} on each rank ({total:.0f} in all)")
    update_running_stats(running_mean, running_var, mean._data, var._data, total, momentum)
    return out
