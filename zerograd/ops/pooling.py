"""Pooling: max, average and adaptive pooling over 1-D and 2-D windows (``nn.functional``).

Windows are strided views of the (padded) input, never Python loops over pixels:

* **max pooling** runs over the kh*kw kernel offsets, each one strided slice of the
  padded input (rows stay contiguous, which copies fast): a running ``maximum``, then
  the first offset that holds it, kept per window as a small integer. The gradient goes
  back through the same slices (``WindowScatter``): assigned when windows cannot overlap,
  added when they can. Adaptive windows of unequal sizes keep flat input indices
  instead and scatter with one ``bincount``. Each scatter and its gather are each
  other's derivative, so double backward works.
* **average pooling** is linear: the forward sums the kh*kw strided slices (or one
  reshape-sum when stride equals kernel), the backward is its adjoint, and the adjoint's
  backward is the forward again.
* **adaptive average pooling** multiplies by two constant averaging matrices (one per
  spatial axis), so zerograd's matmul provides every derivative.
1-D pooling runs as 2-D pooling over a height of 1.
"""
from zerograd.autograd.function import Function
from zerograd.backend import xp
from zerograd.ops._util import const
from zerograd.tensor import Tensor

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"]

_as_strided = xp.lib.stride_tricks.as_strided


# -- gradient routing through argmax indices -------------------------------------------------
class IndexScatter(Function):
    """(N, C, *out) values -> (N, C, H, W) zeros with each value added at its flat index."""

    @staticmethod
    def forward(ctx, g, idx, plane, unique):
        ctx.idx, ctx.plane, ctx.unique = idx, plane, unique
        N, C = g.shape[:2]
        H, W = plane
        rows = N * C
        flat_idx = idx.reshape(rows, -1)
        if unique:  # every input position wins at most one window: assignment suffices
            out = xp.zeros((rows, H * W), dtype=g.dtype)
            xp.put_along_axis(out, flat_idx, g.reshape(rows, -1), axis=1)
        else:
            offsets = (xp.arange(rows, dtype=xp.int64) * (H * W))[:, None]
            out = xp.bincount((flat_idx + offsets).ravel(), weights=g.ravel(),
                              minlength=rows * H * W).astype(g.dtype, copy=False)
        return out.reshape(N, C, H, W)

    @staticmethod
    def backward(ctx, grad_output):
        return IndexGather.apply(grad_output, ctx.idx, ctx.plane, ctx.unique), None, None, None


class IndexGather(Function):
    """(N, C, H, W) -> the values at ``idx`` (N, C, *out): the adjoint of IndexScatter."""

    @staticmethod
    def forward(ctx, a, idx, plane, unique):
        ctx.idx, ctx.plane, ctx.unique = idx, plane, unique
        rows = a.shape[0] * a.shape[1]
        out = xp.take_along_axis(a.reshape(rows, -1), idx.reshape(rows, -1), axis=1)
        return out.reshape(idx.shape)

    @staticmethod
    def backward(ctx, grad_output):
        return IndexScatter.apply(grad_output, ctx.idx, ctx.plane, ctx.unique), None, None, None


class MaxPool2DWithIndices(Function):
    """Max over the windows that ``plan`` describes; the winners' indices go to ``box``."""

    @staticmethod
    def forward(ctx, x, plan, box):
        y, arg = plan.max_with_arg(x)
        ctx.arg, ctx.plan = arg, plan
        box["arg"] = arg
        return y

    @staticmethod
    def backward(ctx, grad_output):
        return WindowScatter.apply(grad_output, ctx.arg, ctx.plan), None, None


class WindowScatter(Function):
    """Each window's value sent to the position ``arg`` (0..kh*kw-1) names inside the window.

    One pass per kernel offset: ``g * (arg == k)`` lands on the offset's strided slice,
    by assignment when windows cannot overlap, by addition when they can.
    """

    @staticmethod
    def forward(ctx, g, arg, plan):
        ctx.arg, ctx.plan = arg, plan
        p = plan
        buf = xp.zeros(g.shape[:2] + (p.Hb, p.Wb), dtype=g.dtype)
        for k, view in enumerate(p.offset_views(buf)):
            part = g * (arg == k)
            if p.unique:
                view[...] = part
            else:
                view += part
        return buf[:, :, p.ph:p.ph + p.H, p.pw:p.pw + p.W]

    @staticmethod
    def backward(ctx, grad_output):
        return WindowGather.apply(grad_output, ctx.arg, ctx.plan), None, None


class WindowGather(Function):
    """The value at position ``arg`` of each window: the adjoint of WindowScatter."""

    @staticmethod
    def forward(ctx, a, arg, plan):
        ctx.arg, ctx.plan = arg, plan
        out = xp.zeros(arg.shape, dtype=a.dtype)
        for k, view in enumerate(plan.offset_views(plan.padded(a, 0))):
            out += view * (arg == k)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return WindowScatter.apply(grad_output, ctx.arg, ctx.plan), None, None


class _WindowPlan:
    """Regular windows: kernel, stride, padding, dilation and ceil_mode resolved to sizes."""

    def __init__(self, H, W, kernel, stride, padding, dilation, ceil_mode):
        self.H, self.W = H, W
        (self.kh, self.kw), (self.sh, self.sw) = kernel, stride
        (self.ph, self.pw), (self.dh, self.dw) = padding, dilation
        self.Ho = _out_size(H, self.kh, self.sh, self.ph, self.dh, ceil_mode)
        self.Wo = _out_size(W, self.kw, self.sw, self.pw, self.dw, ceil_mode)
        # padded extent the last window needs (ceil_mode can reach past the right pad)
        self.Hb = max(H + 2 * self.ph, (self.Ho - 1) * self.sh + self.dh * (self.kh - 1) + 1)
        self.Wb = max(W + 2 * self.pw, (self.Wo - 1) * self.sw + self.dw * (self.kw - 1) + 1)
        self.unique = (self.sh >= self.dh * (self.kh - 1) + 1
                       and self.sw >= self.dw * (self.kw - 1) + 1)

    def padded(self, x, fill):
        """(N, C, Hb, Wb): ``x`` surrounded by ``fill`` (``x`` itself when nothing is added)."""
        N, C = x.shape[:2]
        if self.Hb == self.H and self.Wb == self.W:
            return x
        buf = xp.full((N, C, self.Hb, self.Wb), fill, dtype=x.dtype)
        buf[:, :, self.ph:self.ph + self.H, self.pw:self.pw + self.W] = x
        return buf

    def offset_views(self, xpad):
        """For each kernel offset (i, j), row-major: the (N, C, Ho, Wo) strided slice of the
        padded input that offset reads. Fast to copy: the inner axis is a row."""
        hs, ws = self.sh * (self.Ho - 1) + 1, self.sw * (self.Wo - 1) + 1
        for i in range(self.kh):
            for j in range(self.kw):
                r, c = i * self.dh, j * self.dw
                yield xpad[:, :, r:r + hs:self.sh, c:c + ws:self.sw]

    def max_with_arg(self, x):
        """The window maxima and, per window, the offset index of the first maximum."""
        fill = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
        views = list(self.offset_views(self.padded(x, fill)))
        best = views[0].copy()
        for v in views[1:]:
            xp.maximum(best, v, out=best)  # NaN propagates, as in torch
        # first offset holding the maximum: scan backwards, earlier matches overwrite
        arg = xp.zeros(best.shape, dtype=xp.int16)
        for k in range(len(views) - 1, -1, -1):
            hit = views[k] == best
            arg -= (arg - k) * hit
        if x.dtype.kind == "f":
            nan = best != best
            if nan.any():  # torch reports the last NaN of a window
                for k, v in enumerate(views):
                    arg[nan & (v != v)] = k
        return best, arg

    def flat_indices(self, arg):
        """``arg`` as torch's indices: the flat position ``h * W + w`` in the input plane."""
        i, j = xp.divmod(arg.astype(xp.int64), self.kw)
        rows = (xp.arange(self.Ho) * self.sh - self.ph)[:, None] + i * self.dh
        cols = xp.arange(self.Wo) * self.sw - self.pw + j * self.dw
        return rows * self.W + cols


def _out_size(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside
        out -= 1
    return out


# -- average pooling -------------------------------------------------------------------------
class _AvgPlan(_WindowPlan):
    def __init__(self, H, W, kernel, stride, padding, ceil_mode, count_include_pad,
                 divisor_override):
        super().__init__(H, W, kernel, stride, padding, (1, 1), ceil_mode)
        if divisor_override:
            self.divisor = divisor_override
        else:
            self.divisor = xp.multiply.outer(
                self._counts(H, self.Ho, self.kh, self.sh, self.ph, count_include_pad),
                self._counts(W, self.Wo, self.kw, self.sw, self.pw, count_include_pad))

    @staticmethod
    def _counts(size, out, k, s, p, include_pad):
        # torch: a window is clipped to the padded input; without include_pad, to the input
        start = xp.arange(out) * s - p
        end = xp.minimum(start + k, size + p)
        if not include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, size)
        return end - start

    def sum_windows(self, x):
        views = self.offset_views(self.padded(x, 0))
        out = next(views).copy()
        for v in views:
            out += v
        return out

    def spread(self, g):
        """The adjoint of ``sum_windows``: every window's value added to its positions."""
        N, C = g.shape[:2]
        buf = xp.zeros((N, C, self.Hb, self.Wb), dtype=g.dtype)
        for view in self.offset_views(buf):
            if self.unique:  # windows do not overlap: plain strided assignment
                view[...] = g
            else:
                view += g
        return buf[:, :, self.ph:self.ph + self.H, self.pw:self.pw + self.W]

    def average(self, x):
        total = self.sum_windows(x)
        if x.dtype.kind != "f":  # integer pooling truncates, as in torch
            return xp.trunc(total / self.divisor).astype(x.dtype)
        return (total / self.divisor).astype(x.dtype, copy=False)


class AvgPool2D(Function):
    @staticmethod
    def forward(ctx, x, plan):
        ctx.plan = plan
        return plan.average(x)

    @staticmethod
    def backward(ctx, grad_output):
        return AvgPool2DTranspose.apply(grad_output, ctx.plan), None


class AvgPool2DTranspose(Function):
    """The adjoint of AvgPool2D (its input gradient); its own adjoint is AvgPool2D."""

    @staticmethod
    def forward(ctx, g, plan):
        ctx.plan = plan
        return xp.ascontiguousarray(plan.spread((g / plan.divisor).astype(g.dtype, copy=False)))

    @staticmethod
    def backward(ctx, grad_output):
        return AvgPool2D.apply(grad_output, ctx.plan), None


# -- argument handling -----------------------------------------------------------------------
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
    plan = _WindowPlan(x.shape[2], x.shape[3], kernel, stride, padding, dilation, ceil_mode)
    _check_out(plan, x, nd)
    box = {}
    out = _unbatch(MaxPool2DWithIndices.apply(x, plan, box), nd, unbatched)
    if not return_indices:
        return out
    return out, _unbatch(const(plan.flat_indices(box["arg"])), nd, unbatched)


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
    plan = _AvgPlan(x.shape[2], x.shape[3], kernel, stride, padding, ceil_mode,
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


def _bounds(size, out):
    """Window i covers [floor(i*size/out), ceil((i+1)*size/out)) — torch's rule."""
    i = xp.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _averaging_matrix(size, out, dtype):
    start, end = _bounds(size, out)
    pos = xp.arange(size)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


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
    if nd == 2:
        out = const(_averaging_matrix(in_size[0], out_size[0], dtype)) @ out
    return out @ const(_averaging_matrix(in_size[-1], out_size[-1], dtype).T.copy())


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of (N, C, L) input to length ``output_size`` (windows sized to fit)."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling of (N, C, H, W) input to ``output_size`` (int, pair, None keeps a dim).

    Window i spans ``[floor(i*H/out), ceil((i+1)*H/out))``, as in torch.
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


class AdaptiveMaxPool2D(Function):
    """Max over windows of different sizes; the gradient goes back by flat input index."""

    @staticmethod
    def forward(ctx, x, plan, box):
        y, idx = plan.max_with_indices(x)
        ctx.idx, ctx.plan = idx, plan
        box["indices"] = idx
        return y

    @staticmethod
    def backward(ctx, grad_output):
        p = ctx.plan
        return IndexScatter.apply(grad_output, ctx.idx, (p.H, p.W), False), None, None


class _AdaptiveMaxPlan:
    """Windows of different lengths, padded to the longest by repeating the window's
    last index (a repeat never wins a tie: argmax keeps the first occurrence)."""

    def __init__(self, H, W, Ho, Wo):
        self.H, self.W, self.Ho, self.Wo = H, W, Ho, Wo
        self.rows, self.cols = self._index(H, Ho), self._index(W, Wo)

    @staticmethod
    def _index(size, out):
        start, end = _bounds(size, out)
        longest = int((end - start).max())
        return xp.minimum(start[:, None] + xp.arange(longest), (end - 1)[:, None])

    def max_with_indices(self, x):
        N, C = x.shape[:2]
        kh, kw = self.rows.shape[1], self.cols.shape[1]
        win = x[:, :, self.rows][:, :, :, :, self.cols]  # (N, C, Ho, kh, Wo, kw)
        win = win.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, self.Ho, self.Wo, kh * kw)
        arg = win.argmax(axis=-1)
        y = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        i, j = xp.divmod(arg, kw)
        oh = xp.arange(self.Ho)[:, None]
        ow = xp.arange(self.Wo)
        return y, self.rows[oh, i] * self.W + self.cols[ow, j]


def _adaptive_max(fn, nd, input, output_size, return_indices):
    if not isinstance(input, Tensor) or input.ndim not in (nd + 1, nd + 2):
        shape = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"{fn}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: {shape}")
    out_size = _adaptive_sizes(fn, output_size, tuple(input.shape[-nd:]), nd)
    if any(o == 0 for o in out_size):
        raise RuntimeError(f"{fn}: output_size must be positive, got {list(out_size)}")
    x, unbatched = _batched(fn, input, nd)
    (H, W), (Ho, Wo) = x.shape[2:], ((1,) + out_size if nd == 1 else out_size)
    box = {}
    if H % Ho == 0 and W % Wo == 0:  # equal windows: plain max pooling
        plan = _WindowPlan(H, W, (H // Ho, W // Wo), (H // Ho, W // Wo), (0, 0), (1, 1), False)
        out = MaxPool2DWithIndices.apply(x, plan, box)
        indices = plan.flat_indices(box["arg"]) if return_indices else None
    else:
        plan = _AdaptiveMaxPlan(H, W, Ho, Wo)
        out = AdaptiveMaxPool2D.apply(x, plan, box)
        indices = box["indices"]
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

