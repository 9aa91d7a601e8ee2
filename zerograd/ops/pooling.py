"""Pooling: max, average and adaptive pooling over 1-D and 2-D windows (``nn.functional``).

Windows are strided views of the (padded) input, never Python loops over pixels. The
window geometry and its array work are the device's pooling kernels (``kernels.pool`` of
the input's backend; ``zerograd.backend.cpu.pool_kernels`` on the CPU): a *plan* made
for the input's device, kept on the graph node and handed to backward:

* **max pooling** runs over the kh*kw kernel offsets, each one strided slice of the
  padded input (rows stay contiguous, which copies fast): a running ``maximum``, then
  the first offset that holds it, kept per window as a small integer. The gradient goes
  back through the same slices (``WindowScatter``): assigned when windows cannot overlap,
  added when they can. Adaptive windows of unequal sizes keep flat input indices
  instead and scatter with one ``bincount``. Each scatter and its gather are each
  other's derivative, so double backward works.
* **average pooling** is linear: the forward sums the kh*kw strided slices (a
  reshape-and-sum over small axes is many times slower in NumPy), the backward is its
  adjoint, and the adjoint's backward is the forward again.
* **adaptive average pooling** multiplies by two constant averaging matrices (one per
  spatial axis), so zerograd's matmul provides every derivative.
1-D pooling runs as 2-D pooling over a height of 1.
"""
from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import backend_of
from zerograd.ops._util import const
from zerograd.tensor import Tensor

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"]


def _per_batch(ctx, fn, x, *rest, work=None):
    """fn(x, *rest) on batch slices, one per thread of the backend's pool when ``x`` is
    large (``threads.split``; arrays in ``rest`` are sliced alike, so outputs passed there
    are filled in place); returned arrays are joined in slice order. ``work``: what the
    split weighs (``x.size`` by default)."""
    threads = getattr(ctx.kernels, "threads", None)
    N = x.shape[0]
    work = x.size if work is None else work
    if threads is None or threads.threads_for(N, work) == 1:
        return fn(x, *rest)
    parts = threads.split(N, work, lambda s0, s1: fn(x[s0:s1], *[r[s0:s1] for r in rest]))
    if parts[0] is None:
        return None
    if isinstance(parts[0], tuple):
        return tuple(ctx.xp.concatenate(p) for p in zip(*parts))
    return ctx.xp.concatenate(parts)


# -- gradient routing through argmax indices -------------------------------------------------
class IndexScatter(Function):
    """(N, C, *out) values -> (N, C, H, W) zeros with each value added at its flat index.

    One ``bincount`` over plane-offset indices does the accumulation (indices repeat
    where windows overlap), vectorized, with no ``add.at``.
    """

    jvp_linear = True  # linear in the values; the indices are fixed

    @staticmethod
    def forward(ctx, g, idx, plane):
        ctx.idx, ctx.plane = idx, plane
        xp = ctx.xp
        N, C = g.shape[:2]
        H, W = plane
        rows = N * C
        offsets = (xp.arange(rows, dtype=dtypes.int64.np) * (H * W))[:, None]
        out = xp.bincount((idx.reshape(rows, -1) + offsets).ravel(), weights=g.ravel(),
                          minlength=rows * H * W)
        return out.astype(g.dtype, copy=False).reshape(N, C, H, W)

    @staticmethod
    def backward(ctx, grad_output):
        return IndexGather.apply(grad_output, ctx.idx, ctx.plane), None, None


class IndexGather(Function):
    """(N, C, H, W) -> the values at ``idx`` (N, C, *out): the adjoint of IndexScatter."""

    jvp_linear = True  # linear in the values; the indices are fixed

    @staticmethod
    def forward(ctx, a, idx, plane):
        ctx.idx, ctx.plane = idx, plane
        rows = a.shape[0] * a.shape[1]
        out = ctx.xp.take_along_axis(a.reshape(rows, -1), idx.reshape(rows, -1), axis=1)
        return out.reshape(idx.shape)

    @staticmethod
    def backward(ctx, grad_output):
        return IndexScatter.apply(grad_output, ctx.idx, ctx.plane), None, None


class MaxPool2DWithIndices(Function):
    """Max over the windows that ``plan`` describes: ``(values, arg)``, ``arg`` being each
    winner's position inside its window (an integer output, without gradient)."""

    @staticmethod
    def forward(ctx, x, plan):
        fast = getattr(plan, "compiled_max", None)
        out = None if fast is None else fast(x)  # the CPU's compiled kernel (2x2 windows)
        y, arg = out if out is not None else _per_batch(ctx, plan.max_with_arg, x)
        ctx.arg, ctx.plan = arg, plan
        return y, arg

    @staticmethod
    def backward(ctx, grad_output, grad_arg):
        return WindowScatter.apply(grad_output, ctx.arg, ctx.plan), None

    @staticmethod
    def jvp(ctx, tangent, _):
        return WindowGather.apply(tangent, ctx.arg, ctx.plan), None  # the winners' tangents


class WindowScatter(Function):
    """Each window's value sent to the position ``arg`` (0..kh*kw-1) names inside the window.

    One pass per kernel offset: ``g * (arg == k)`` lands on the offset's strided slice,
    by assignment when windows cannot overlap, by addition when they can.
    """

    jvp_linear = True  # linear in the values; the indices are fixed

    @staticmethod
    def forward(ctx, g, arg, plan):
        ctx.arg, ctx.plan = arg, plan
        xp, p = ctx.xp, plan
        fast = getattr(p, "compiled_scatter", None)
        gx = None if fast is None else fast(g, arg)
        if gx is not None:  # the CPU's compiled kernel (2x2 windows; splits itself)
            return gx
        shape = g.shape[:2] + (p.Hb, p.Wb)
        # windows that tile the plane write every element: no zero-fill needed
        buf = xp.empty(shape, dtype=g.dtype) if p.tiles else xp.zeros(shape, dtype=g.dtype)

        def scatter(g, arg, buf):
            hit = xp.empty(arg.shape, dtype=bool)
            part = None if p.unique else xp.empty(g.shape, dtype=g.dtype)
            for k, view in enumerate(p.offset_views(buf)):
                if p.unique:  # straight into the strided slice, no temporary
                    xp.multiply(g, xp.equal(arg, k, out=hit), out=view)
                else:
                    view += xp.multiply(g, xp.equal(arg, k, out=hit), out=part)
        _per_batch(ctx, scatter, g, arg, buf)
        return buf[:, :, p.ph:p.ph + p.H, p.pw:p.pw + p.W]

    @staticmethod
    def backward(ctx, grad_output):
        return WindowGather.apply(grad_output, ctx.arg, ctx.plan), None, None


class WindowGather(Function):
    """The value at position ``arg`` of each window: the adjoint of WindowScatter."""

    jvp_linear = True  # linear in the values; the indices are fixed

    @staticmethod
    def forward(ctx, a, arg, plan):
        ctx.arg, ctx.plan = arg, plan
        xp = ctx.xp
        out = xp.zeros(arg.shape, dtype=a.dtype)
        hit, part = xp.empty(arg.shape, dtype=bool), xp.empty(arg.shape, dtype=a.dtype)
        for k, view in enumerate(plan.offset_views(plan.padded(a, 0))):
            out += xp.multiply(view, xp.equal(arg, k, out=hit), out=part)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return WindowScatter.apply(grad_output, ctx.arg, ctx.plan), None, None


# -- average pooling -------------------------------------------------------------------------
class AvgPool2D(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, x, plan):
        ctx.plan = plan
        fast = getattr(plan, "compiled_average", None)
        out = None if fast is None else fast(x)  # the CPU's compiled kernel (2x2 windows)
        if out is not None:
            return out
        # a few fast passes: split over threads only from ~2.5M elements (2 threads, 2x2
        # windows: (256, 6, 28, 28) 709 -> 772 us split, (256, 32, 28, 28) 4160 -> 2721)
        return _per_batch(ctx, plan.average, x, work=x.size // 16)

    @staticmethod
    def backward(ctx, grad_output):
        return AvgPool2DTranspose.apply(grad_output, ctx.plan), None


class AvgPool2DTranspose(Function):
    """The adjoint of AvgPool2D (its input gradient); its own adjoint is AvgPool2D."""

    jvp_linear = True

    @staticmethod
    def forward(ctx, g, plan):
        ctx.plan = plan
        # one thread: strided writes, which a second thread hardly sped up (2x2 windows,
        # 2 threads: (256, 6, 28, 28) 1015 -> 1130 us, (256, 32, 28, 28) 5211 -> 4863)
        return plan.average_grad(g)

    @staticmethod
    def backward(ctx, grad_output):
        return AvgPool2D.apply(grad_output, ctx.plan), None


# -- argument handling -----------------------------------------------------------------------
def _pool_kernels(x):
    """The pooling kernels (plans, averaging matrices) of tensor ``x``'s device."""
    return backend_of(x._data).kernels.pool


def _pair(value, n, fn, name):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(f"{fn}: {name} must either be a single int, or a tuple of {n} ints")
    return value


def _batched(fn, input, nd):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{fn}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for "
                           f"input, but got: {list(input.shape)}")
    if input.dtype.name == "bool":
        raise RuntimeError(f"{fn}: bool tensors are not supported; convert to float first")
    x = input.unsqueeze(0) if input.ndim == nd + 1 else input
    return (x.unsqueeze(2) if nd == 1 else x), input.ndim == nd + 1


def _unbatch(out, nd, unbatched):
    if nd == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def _window_args(fn, nd, kernel_size, stride, padding, dilation):
    kernel = _pair(kernel_size, nd, fn, "kernel_size")
    stride = kernel if stride is None or stride == [] or stride == () else \
        _pair(stride, nd, fn, "stride")
    padding, dilation = _pair(padding, nd, fn, "padding"), _pair(dilation, nd, fn, "dilation")
    if any(k <= 0 for k in kernel) or any(s <= 0 for s in stride):
        raise RuntimeError(f"{fn}: kernel_size and stride must be positive, got kernel_size="
                           f"{list(kernel)}, stride={list(stride)}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{fn}: dilation should be greater than zero, but got "
                           f"dilation={list(dilation)}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{fn}: pad must be non-negative, but got pad={list(padding)}")
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    if nd == 1:
        return (1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation
    return kernel, stride, padding, dilation


def _check_out(plan, x, nd):
    if plan.Ho < 1 or plan.Wo < 1:
        size = "x".join(map(str, x.shape[1:] if nd == 2 else (x.shape[1], x.shape[3])))
        out = (x.shape[1], plan.Ho, plan.Wo) if nd == 2 else (x.shape[1], plan.Wo)
        raise RuntimeError(f"Given input size: ({size}). Calculated output size: "
                           f"({'x'.join(map(str, out))}). Output size is too small")


def _max_pool(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched = _batched(fn, input, nd)
    kernel, stride, padding, dilation = _window_args(fn, nd, kernel_size, stride, padding,
                                                     dilation)
    plan = _pool_kernels(x).WindowPlan(x.shape[2], x.shape[3], kernel, stride, padding,
                                       dilation, ceil_mode)
    _check_out(plan, x, nd)
    out, arg = MaxPool2DWithIndices.apply(x, plan)
    out = _unbatch(out, nd, unbatched)
    if not return_indices:
        return out
    return out, _unbatch(const(plan.flat_indices(arg._data)), nd, unbatched)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over sliding windows of (N, C, L) input; ``stride`` defaults to ``kernel_size``.

    Padding counts as -inf. ``return_indices=True`` also returns each maximum's position
    along L (what ``MaxUnpool1d`` expects).
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over sliding kH x kW windows of (N, C, H, W) input; ``stride`` defaults to the kernel.

    ``ceil_mode`` keeps a last partial window; ``return_indices=True`` also returns each
    maximum's flat position ``h * W + w`` in its input plane.
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_pool(fn, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    x, unbatched = _batched(fn, input, nd)
    kernel, stride, padding, _ = _window_args(fn, nd, kernel_size, stride, padding, 1)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    plan = _pool_kernels(x).AvgPlan(x.shape[2], x.shape[3], kernel, stride, padding, ceil_mode,
                                    count_include_pad, divisor_override)
    _check_out(plan, x, nd)
    return _unbatch(AvgPool2D.apply(x, plan), nd, unbatched)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over sliding windows of (N, C, L) input; ``stride`` defaults to ``kernel_size``."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over sliding kH x kW windows of (N, C, H, W) input.

    ``count_include_pad`` decides whether zero padding counts in the divisor;
    ``divisor_override`` replaces the divisor altogether.
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


# -- adaptive pooling ------------------------------------------------------------------------
def _adaptive_sizes(fn, output_size, in_size, nd):
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise RuntimeError(f"{fn}: output_size must be {nd}")
    out = tuple(s if o is None else int(o) for o, s in zip(output_size, in_size))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{fn}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(out)}")
    return out


def _adaptive_avg(fn, nd, input, output_size):
    if not isinstance(input, Tensor) or input.ndim not in (nd + 1, nd + 2):
        shape = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"{fn}(): Expected {nd + 1}D or {nd + 2}D tensor, but got {shape}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{fn}: expected a floating point input, got {input.dtype}")
    in_size = tuple(input.shape[-nd:])
    out_size = _adaptive_sizes(fn, output_size, in_size, nd)
    dims = tuple(range(input.ndim - nd, input.ndim))
    if all(o == 1 for o in out_size):  # global average pooling
        return input.mean(dims, keepdim=True)
    if all(o > 0 and s % o == 0 for s, o in zip(in_size, out_size)):
        k = tuple(s // o for s, o in zip(in_size, out_size))
        pool = avg_pool1d if nd == 1 else avg_pool2d
        return pool(input, k, k)
    # y = A_h @ x @ A_w^T: linear with constant matrices, so matmul gives every derivative
    out = input
    dtype = input._data.dtype
    averaging_matrix = _pool_kernels(input).averaging_matrix
    if nd == 2:
        out = const(averaging_matrix(in_size[0], out_size[0], dtype)) @ out
    return out @ const(averaging_matrix(in_size[-1], out_size[-1], dtype).T.copy())


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of (N, C, L) input to length ``output_size`` (windows sized to fit)."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling of (N, C, H, W) input to ``output_size`` (int, pair, None keeps a dim).

    Window i spans ``[floor(i*H/out), ceil((i+1)*H/out))``, as in torch.
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


class AdaptiveMaxPool2D(Function):
    """Max over windows of different sizes: ``(values, flat input indices)``; the gradient
    goes back by those indices."""

    @staticmethod
    def forward(ctx, x, plan):
        y, idx = plan.max_with_indices(x)
        ctx.idx, ctx.plan = idx, plan
        return y, idx

    @staticmethod
    def backward(ctx, grad_output, grad_indices):
        p = ctx.plan
        return IndexScatter.apply(grad_output, ctx.idx, (p.H, p.W)), None

    @staticmethod
    def jvp(ctx, tangent, _):
        p = ctx.plan
        return IndexGather.apply(tangent, ctx.idx, (p.H, p.W)), None  # the winners' tangents


def _adaptive_max(fn, nd, input, output_size, return_indices):
    if not isinstance(input, Tensor) or input.ndim not in (nd + 1, nd + 2):
        shape = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"{fn}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: {shape}")
    out_size = _adaptive_sizes(fn, output_size, tuple(input.shape[-nd:]), nd)
    if any(o == 0 for o in out_size):
        raise RuntimeError(f"{fn}: output_size must be positive, got {list(out_size)}")
    x, unbatched = _batched(fn, input, nd)
    (H, W), (Ho, Wo) = x.shape[2:], ((1,) + out_size if nd == 1 else out_size)
    kernels = _pool_kernels(x)
    if H % Ho == 0 and W % Wo == 0:  # equal windows: plain max pooling
        plan = kernels.WindowPlan(H, W, (H // Ho, W // Wo), (H // Ho, W // Wo), (0, 0), (1, 1),
                                  False)
        out, arg = MaxPool2DWithIndices.apply(x, plan)
        indices = plan.flat_indices(arg._data) if return_indices else None
    else:
        plan = kernels.AdaptiveMaxPlan(H, W, Ho, Wo)
        out, indices = AdaptiveMaxPool2D.apply(x, plan)
        indices = indices._data
    out = _unbatch(out, nd, unbatched)
    if not return_indices:
        return out
    return out, _unbatch(const(indices), nd, unbatched)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of (N, C, L) input to length ``output_size``."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling of (N, C, H, W) input to ``output_size``, windows as in adaptive_avg_pool2d."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)

