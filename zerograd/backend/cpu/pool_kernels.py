"""Array-level pooling: window geometry, and max/sum over windows as strided slices.

A *plan* resolves kernel, stride, padding, dilation and ceil_mode into sizes once; the
ops in ``pooling.py`` keep it on their graph node and hand it to their backward.
Every window loop here runs over the kh*kw kernel offsets, never over pixels: each
offset is one (N, C, Ho, Wo) strided slice of the padded input, whose rows copy fast.
"""
import numpy as np

from zerograd.backend.cpu import compiled


class WindowPlan:
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
        # every element of the padded plane lies in exactly one window
        self.tiles = (self.dh == self.dw == 1 and (self.sh, self.sw) == (self.kh, self.kw)
                      and self.Ho * self.sh == self.Hb and self.Wo * self.sw == self.Wb)

    def padded(self, x, fill):
        """(N, C, Hb, Wb): ``x`` surrounded by ``fill`` (``x`` itself when nothing is added)."""
        N, C = x.shape[:2]
        if self.Hb == self.H and self.Wb == self.W:
            return x
        buf = np.full((N, C, self.Hb, self.Wb), fill, dtype=x.dtype)
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

    def compiled_max(self, x):
        """``max_with_arg(x)`` from the compiled 2x2 kernel where it applies, else None."""
        if compiled.pool_2x2_applies(self, x):
            return compiled.max_pool_2x2(x)
        return None

    def max_with_arg(self, x):
        """The window maxima and, per window, the offset index of the first maximum."""
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        views = list(self.offset_views(self.padded(x, fill)))
        best = views[0].copy()
        for v in views[1:]:
            np.maximum(best, v, out=best)  # NaN propagates, as in torch
        # the first offset holding the maximum, k = n0 (1 + n1 (1 + n2 (...))) with
        # n_k = (view k != max): 3 passes an offset (was 4 and a zero-fill; the 2x2 pool of
        # (256, 32, 28, 28) 13.6 -> 10.0 ms, 1 thread)
        hit = np.empty(best.shape, dtype=bool)
        arg = np.zeros(best.shape, dtype=np.int16)
        for k in range(len(views) - 2, -1, -1):
            arg += 1
            arg *= np.not_equal(views[k], best, out=hit)
        if x.dtype.kind == "f":
            nan = best != best
            if nan.any():  # torch reports the last NaN of a window
                for k, v in enumerate(views):
                    arg[nan & (v != v)] = k
        return best, arg

    def compiled_scatter(self, g, arg):
        """The gradient of ``max_with_arg``'s maxima, (N, C, H, W), from the compiled 2x2
        kernel where it applies to ``g``, else None (the op scatters by offsets)."""
        if compiled.pool_2x2_applies(self, g):
            return compiled.max_pool_2x2_grad(g, arg)
        return None

    def flat_indices(self, arg):
        """``arg`` as torch's indices: the flat position ``h * W + w`` in the input plane."""
        i, j = np.divmod(arg.astype(np.int64), self.kw)
        rows = (np.arange(self.Ho) * self.sh - self.ph)[:, None] + i * self.dh
        cols = np.arange(self.Wo) * self.sw - self.pw + j * self.dw
        return rows * self.W + cols


def _out_size(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside
        out -= 1
    return out


class AvgPlan(WindowPlan):
    def __init__(self, H, W, kernel, stride, padding, ceil_mode, count_include_pad,
                 divisor_override):
        super().__init__(H, W, kernel, stride, padding, (1, 1), ceil_mode)
        if divisor_override:
            self.divisor = divisor_override
        else:
            self.divisor = np.multiply.outer(
                self._counts(H, self.Ho, self.kh, self.sh, self.ph, count_include_pad),
                self._counts(W, self.Wo, self.kw, self.sw, self.pw, count_include_pad))

    @staticmethod
    def _counts(size, out, k, s, p, include_pad):
        # torch: a window is clipped to the padded input; without include_pad, to the input
        start = np.arange(out) * s - p
        end = np.minimum(start + k, size + p)
        if not include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, size)
        return end - start

    def sum_windows(self, x):
        if self.tiles and (self.Hb, self.Wb) == (self.H, self.W):
            return self._sum_tiles(x)
        return _sum_of(self.offset_views(self.padded(x, 0)))

    def _sum_tiles(self, x):
        """``sum_windows`` where the windows tile the input exactly: the kh rows of each band
        of windows added as whole rows first, then the kw strided columns of that sum
        (2x2 of (256, 6, 28, 28): 922 -> 616 us; the kh*kw strided slices one by one read
        every element at stride kw)."""
        N, C = x.shape[:2]
        bands = x.reshape(N * C * self.Ho, self.kh, self.W)  # copies only a strided x
        rows = _sum_of(bands[:, i] for i in range(self.kh))
        out = _sum_of(rows[:, j::self.kw] for j in range(self.kw))
        return out.reshape(N, C, self.Ho, self.Wo)

    def spread(self, g, buf=None):
        """The adjoint of ``sum_windows``: every window's value added to its positions
        (of ``buf``, an (N, C, Hb, Wb) array to fill, if given)."""
        N, C = g.shape[:2]
        if buf is None:
            buf = np.empty((N, C, self.Hb, self.Wb), dtype=g.dtype)
        if not self.tiles:  # positions no window reaches stay 0
            buf[...] = 0
        for view in self.offset_views(buf):
            if self.unique:  # windows do not overlap: plain strided assignment
                view[...] = g
            else:
                view += g
        return buf[:, :, self.ph:self.ph + self.H, self.pw:self.pw + self.W]

    def average_grad(self, g):
        """The adjoint of ``average``: each window's g / divisor on its positions, (N, C, H, W)."""
        divisor = self._compiled_divisor(g)
        if divisor is not None:
            return compiled.avg_pool_2x2_grad(g, divisor)
        return np.ascontiguousarray(self.spread(self.divided(g)))

    def divided(self, a, out=None):
        """``a / divisor`` in ``a``'s float dtype (an int64 divisor would promote to float64)."""
        d = self.divisor
        return np.divide(a, d if isinstance(d, int) else d.astype(a.dtype), out=out)

    def _compiled_divisor(self, a):
        """The one divisor of every window when the compiled 2x2 kernels take ``a``, else
        None (windows that tile an unpadded input all count kh*kw elements)."""
        if not compiled.pool_2x2_applies(self, a):
            return None
        return self.divisor if isinstance(self.divisor, int) else int(self.divisor.flat[0])

    def compiled_average(self, x):
        """``average(x)`` from the compiled 2x2 kernel where it applies, else None."""
        divisor = self._compiled_divisor(x)
        return None if divisor is None else compiled.avg_pool_2x2(x, divisor)

    def average(self, x):
        total = self.sum_windows(x)
        if x.dtype.kind != "f":  # integer pooling truncates, as in torch
            return np.trunc(total / self.divisor).astype(x.dtype)
        return self.divided(total, out=total)  # the sum is ours: no second array


def _sum_of(arrays):
    """The elementwise sum of equally shaped arrays, in their order, in one new array (of
    their own module: the GPU plan inherits ``sum_windows``)."""
    arrays = iter(arrays)
    first = next(arrays)
    second = next(arrays, None)
    if second is None:
        return first.copy()
    total = first + second
    for a in arrays:
        total += a
    return total


def bounds(size, out):
    """Window i covers [floor(i*size/out), ceil((i+1)*size/out)) — torch's rule."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def averaging_matrix(size, out, dtype):
    """(out, size) matrix whose row i averages window i: adaptive pooling along one axis."""
    start, end = bounds(size, out)
    pos = np.arange(size)
    inside = (pos >= start[:, None]) & (pos < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveMaxPlan:
    """Windows of different lengths, padded to the longest by repeating the window's
    last index (a repeat never wins a tie: argmax keeps the first occurrence)."""

    def __init__(self, H, W, Ho, Wo):
        self.H, self.W, self.Ho, self.Wo = H, W, Ho, Wo
        self.rows, self.cols = self._index(H, Ho), self._index(W, Wo)

    @staticmethod
    def _index(size, out):
        start, end = bounds(size, out)
        longest = int((end - start).max())
        return np.minimum(start[:, None] + np.arange(longest), (end - 1)[:, None])

    def max_with_indices(self, x):
        N, C = x.shape[:2]
        kh, kw = self.rows.shape[1], self.cols.shape[1]
        win = x[:, :, self.rows][:, :, :, :, self.cols]  # (N, C, Ho, kh, Wo, kw)
        win = win.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, self.Ho, self.Wo, kh * kw)
        arg = win.argmax(axis=-1)
        y = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        i, j = np.divmod(arg, kw)
        oh = np.arange(self.Ho)[:, None]
        ow = np.arange(self.Wo)
        return y, self.rows[oh, i] * self.W + self.cols[ow, j]
