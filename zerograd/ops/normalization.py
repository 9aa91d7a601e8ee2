"""Normalization: ``batch_norm``, ``layer_norm``, ``group_norm`` (``zerograd.nn.functional``).

Batch norm and layer norm are each one fused op: statistics, normalization and the affine
transform in a single forward, and a hand-written backward. Group norm is the layer-norm
op applied to (N, groups, -1), then its per-channel affine with ordinary ops. With
x_hat = (x - mean) * invstd over M values and upstream g (times the weight), the input
gradient is the classic

    dx = invstd * (g - mean(g) - x_hat * mean(g * x_hat))

The first-order backward runs that on raw arrays (``backward_array``, the training hot
path). When the graph of the gradient is being recorded (``create_graph=True``), the
engine calls ``backward`` instead: the same formula built from zerograd ops on the saved
input, so second derivatives are exact.
Variance is computed two-pass (mean first, then squared deviations), as in torch.
"""
from zerograd.autograd.function import Function
from zerograd.autograd.grad_mode import no_grad
from zerograd.backend import array_module
from zerograd.ops._norm_passes import batch_norm_backward, batch_norm_forward

__all__ = ["batch_norm", "layer_norm", "group_norm"]


def _threads(ctx):
    """The backend's thread pool module (None: a backend without one)."""
    return getattr(ctx.kernels, "threads", None)


def _compiled(ctx, x3):
    """The backend's compiled batch-norm kernels when they take ``x3`` (the CPU's, with
    numba installed: ``zerograd.backend.cpu.compiled``), else None: the array passes."""
    compiled = getattr(ctx.kernels, "compiled", None)
    return compiled if compiled is not None and compiled.batch_norm_applies(x3) else None


class BatchNorm(Function):
    """Training-mode batch norm of (N, C, *) input over every dim but the channels (1).

    Returns ``(y, mean, var)``: the batch mean and biased variance (outputs without
    gradient) feed the running statistics. Nothing input-sized is kept for backward beyond
    the input itself; both directions walk cache-sized blocks (``_norm_passes``): memory
    traffic is what these ops cost.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        N, C = x.shape[:2]
        x3 = x.reshape(N, C, -1)
        compiled = _compiled(ctx, x3)
        if compiled is not None:
            y3, mean, var, invstd = compiled.batch_norm_forward(x3, weight, bias, eps)
        else:
            y3, mean, var, invstd = batch_norm_forward(ctx.xp, x3, weight, bias, eps,
                                                       _threads(ctx))
        ctx.mark_non_differentiable(mean, var)
        ctx.mean, ctx.invstd, ctx.eps = mean, invstd, eps
        ctx.save_for_backward(x, weight)
        return y3.reshape(x.shape), mean, var

    @staticmethod
    def backward(ctx, grad_output, grad_mean, grad_var):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        w = None if weight is None else weight.reshape(shape)
        return _graph_backward(x, w, grad_output, axes, ctx.eps, need_x, need_w, need_b,
                               param_axes=axes) + (None,)

    @staticmethod
    def backward_array(ctx, g, grad_mean, grad_var):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        N, C = g.shape[:2]
        g3, x3 = g.reshape(N, C, -1), x._data.reshape(N, C, -1)
        w = None if weight is None else weight._data
        compiled = _compiled(ctx, x3)
        if compiled is not None:
            gx, gw, gb = compiled.batch_norm_backward(g3, x3, ctx.mean, ctx.invstd, w, need_x)
        else:
            gx, gw, gb = batch_norm_backward(array_module(g), g3, x3, ctx.mean, ctx.invstd, w,
                                             need_x, _threads(ctx))
        return (None if gx is None else gx.reshape(g.shape), gw if need_w else None,
                gb if need_b else None, None)

    @staticmethod
    def jvp(ctx, t_x, t_w, t_b, *_):
        x, weight, _ = ctx.fw_inputs[:3]
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)

        def per_channel(t):
            return None if t is None else t.reshape(shape)
        return _norm_jvp(x, per_channel(weight), t_x, per_channel(t_w), per_channel(t_b), axes,
                         ctx.eps), None, None


class LayerNorm(Function):
    """Normalization over the last ``k`` dims; weight and bias have those dims' shape."""

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        xp = ctx.xp
        shape = x.shape[x.ndim - k:]
        D = 1
        for s in shape:
            D *= s
        x2 = x.reshape(-1, D)
        mean = x2.mean(axis=1, keepdims=True)
        xhat = x2 - mean
        var = xp.einsum("md,md->m", xhat, xhat)[:, None] / D
        invstd = 1.0 / xp.sqrt(var + eps)
        xhat *= invstd
        ctx.xhat, ctx.invstd, ctx.k, ctx.shape, ctx.eps = xhat, invstd, k, shape, eps
        ctx.save_for_backward(x, weight)
        if weight is None and bias is None:
            return xhat.reshape(x.shape).copy()  # xhat stays private: y may be changed in place
        y = xhat * weight.reshape(D) if weight is not None else xhat.copy()
        if bias is not None:
            y += bias.reshape(D)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        axes = tuple(range(x.ndim - ctx.k, x.ndim))
        lead = tuple(range(x.ndim - ctx.k))
        return _graph_backward(x, weight, grad_output, axes, ctx.eps, need_x, need_w,
                               need_b, param_axes=lead) + (None, None)

    @staticmethod
    def backward_array(ctx, g):
        (_, weight) = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xhat, invstd = ctx.xhat, ctx.invstd
        D = xhat.shape[1]
        xp = array_module(g)
        g2 = g.reshape(-1, D)
        gx = gw = gb = None
        if need_w:
            gw = xp.einsum("md,md->d", g2, xhat).reshape(ctx.shape)
        if need_b:
            gb = g2.sum(axis=0).reshape(ctx.shape)
        if need_x:
            gh = g2 * weight._data.reshape(D) if weight is not None else g2
            dot = xp.einsum("md,md->m", gh, xhat)[:, None] / D
            gx = gh - gh.mean(axis=1, keepdims=True)
            gx -= xhat * dot
            gx *= invstd
            gx = gx.reshape(g.shape)
        return gx, gw, gb, None, None

    @staticmethod
    def jvp(ctx, t_x, t_w, t_b, *_):
        x, weight, _ = ctx.fw_inputs[:3]
        return _norm_jvp(x, weight, t_x, t_w, t_b, tuple(range(x.ndim - ctx.k, x.ndim)), ctx.eps)


def _norm_jvp(x, w, t_x, t_w, t_b, axes, eps):
    """Forward mode of y = xhat * w + b. The normalization's Jacobian is symmetric, so
    d xhat = invstd * (t - mean(t) - xhat * mean(t * xhat)), the backward's own formula."""
    mean = x.mean(axes, keepdim=True)
    xc = x - mean
    invstd = ((xc * xc).mean(axes, keepdim=True) + eps).rsqrt()
    xhat = xc * invstd
    out = None
    if t_x is not None:
        out = invstd * (t_x - t_x.mean(axes, keepdim=True)
                        - xhat * (t_x * xhat).mean(axes, keepdim=True))
        if w is not None:
            out = out * w
    for term in (xhat * t_w if t_w is not None else None, t_b):
        if term is not None:
            out = term if out is None else out + term
    return out


def _graph_backward(x, w, g, axes, eps, need_x, need_w, need_b, param_axes):
    """The normalization backward from zerograd ops: differentiable again (create_graph).

    ``w`` is the weight shaped to broadcast against ``x`` (or None); the weight and bias
    gradients are summed over ``param_axes`` and reshaped by the engine.
    """
    mean = x.mean(axes, keepdim=True)
    xc = x - mean
    invstd = ((xc * xc).mean(axes, keepdim=True) + eps).rsqrt()
    xhat = xc * invstd
    gx = gw = gb = None
    if need_x:
        gh = g * w if w is not None else g
        gx = invstd * (gh - gh.mean(axes, keepdim=True)
                       - xhat * (gh * xhat).mean(axes, keepdim=True))
    if need_w:
        gw = (g * xhat).sum(param_axes)
    if need_b:
        gb = g.sum(param_axes)
    return gx, gw, gb


# -- functional wrappers ---------------------------------------------------------------------
def _check_param(name, t, C):
    if t is not None and t.numel() != C:
        raise RuntimeError(f"{name} should contain {C} elements not {t.numel()}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Batch normalization of (N, C, *) input per channel.

    ``training=True`` normalizes with the batch statistics and, when running buffers are
    given, updates them in place: ``running = (1 - momentum) * running + momentum * batch``
    with the unbiased batch variance. ``training=False`` uses the running statistics.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected at least 2D input (N, C, ...), got "
                         f"{input.ndim}D input")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_param(name, t, C)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        return _batch_norm_eval(input, running_mean, running_var, weight, bias, eps)
    count = input.numel() // C if C else 0
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {input.shape}")
    out, mean, var = BatchNorm.apply(input, weight, bias, eps)
    update_running_stats(running_mean, running_var, mean._data, var._data, count, momentum)
    return out


def update_running_stats(running_mean, running_var, mean, var, count, momentum):
    """torch's running statistics: blend in the batch mean and the unbiased variance of
    ``count`` values per channel (arrays ``mean``, ``var``); nothing without buffers."""
    if running_mean is not None and running_var is not None:
        with no_grad():
            _blend(running_mean, mean, momentum)
            _blend(running_var, var * (count / (count - 1)), momentum)


def _blend(buffer, value, momentum):
    data = buffer._data
    data *= 1 - momentum
    data += (momentum * value).astype(data.dtype, copy=False)
    buffer._bump_version()


def _batch_norm_eval(input, running_mean, running_var, weight, bias, eps):
    # y = x * scale + shift with per-channel scale and shift: two passes over x
    shape = (1, -1) + (1,) * (input.ndim - 2)
    scale = (running_var.detach() + eps).rsqrt()
    if weight is not None:
        scale = scale * weight
    shift = -running_mean.detach() * scale
    if bias is not None:
        shift = shift + bias
    return input * scale.reshape(shape) + shift.reshape(shape)


def _normalized_shape(normalized_shape):
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(s) for s in normalized_shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalize over the trailing ``normalized_shape`` dims of ``input``, then scale and shift.

    ``weight`` and ``bias`` (if given) have shape ``normalized_shape``.
    """
    shape = _normalized_shape(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(shape)}")
    return LayerNorm.apply(input, weight, bias, k, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalize each group of ``C / num_groups`` channels of each sample, then apply
    per-channel ``weight`` and ``bias``."""
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected at least 2D input (N, C, ...), got input of "
                           f"shape {list(input.shape)}")
    N, C = input.shape[:2]
    if num_groups <= 0 or C % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.shape[0] != C):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(t.shape)} "
                               f"and input of shape {list(input.shape)}")
    groups = input.reshape(N, num_groups, -1)
    out = LayerNorm.apply(groups, None, None, 1, eps).reshape(input.shape)
    shape = (1, C) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out
