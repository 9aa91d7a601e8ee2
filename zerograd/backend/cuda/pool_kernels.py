"""GPU pooling kernels: the plans of ``zerograd.backend.cpu.pool_kernels`` on device arrays.

Same names and interface as the CPU module (``WindowPlan``, ``AvgPlan``,
``AdaptiveMaxPlan``, ``averaging_matrix``), which ``zerograd.ops.pooling`` calls through
``kernels.pool``. A plan's geometry is host arithmetic (the CPU plan's); what changes:

* every array a plan makes or keeps lives where its input lives (the module is taken
  from the input, so the CPU tests run this code on NumPy arrays too); the small
  constant tables (divisors, adaptive window indices) are copied to the device once per
  plan and kept;
* max pooling never asks the host a question: the CPU plan checks ``nan.any()`` before
  its NaN pass, which on a GPU would wait for the kernel; here the NaN pass always runs,
  as kh*kw more elementwise kernels.
"""
import numpy as np

from zerograd.backend.cpu import pool_kernels as _cpu
from zerograd.backend.cuda._xp import module_of

bounds = _cpu.bounds


class WindowPlan(_cpu.WindowPlan):
    def padded(self, x, fill):
        """(N, C, Hb, Wb): ``x`` surrounded by ``fill`` (``x`` itself when nothing is added)."""
        if self.Hb == self.H and self.Wb == self.W:
            return x
        xp = module_of(x)
        N, C = x.shape[:2]
        buf = xp.full((N, C, self.Hb, self.Wb), fill, dtype=x.dtype)
        buf[:, :, self.ph:self.ph + self.H, self.pw:self.pw + self.W] = x
        return buf

    def max_with_arg(self, x):
        """The window maxima and, per window, the offset index of the first maximum."""
        xp = module_of(x)
        floating = x.dtype.kind == "f"
        fill = -np.inf if floating else np.iinfo(x.dtype).min
        views = list(self.offset_views(self.padded(x, fill)))
        best = views[0].copy()
        for v in views[1:]:
            xp.maximum(best, v, out=best)  # NaN propagates, as in torch
        # first offset holding the maximum: scan backwards, earlier matches overwrite
        arg = xp.zeros(best.shape, dtype=np.int16)
        for k in range(len(views) - 1, -1, -1):
            arg = xp.where(views[k] == best, np.int16(k), arg)
        if floating:  # torch reports the last NaN of a window
            for k, v in enumerate(views):
                arg = xp.where(v != v, np.int16(k), arg)
        return best, arg

    def flat_indices(self, arg):
        """``arg`` as torch's indices: the flat position ``h * W + w`` in the input plane."""
        xp = module_of(arg)
        i, j = xp.divmod(arg.astype(np.int64), self.kw)
        rows = (xp.arange(self.Ho) * self.sh - self.ph)[:, None] + i * self.dh
        cols = xp.arange(self.Wo) * self.sw - self.pw + j * self.dw
        return rows * self.W + cols


class AvgPlan(WindowPlan, _cpu.AvgPlan):
    """Average pooling; the divisor table is computed on the host, used on the device."""

    def __init__(self, *args, **kwargs):
        _cpu.AvgPlan.__init__(self, *args, **kwargs)
        self._device_divisor = {}

    def spread(self, g):
        """The adjoint of ``sum_windows``: every window's value added to its positions."""
        xp = module_of(g)
        N, C = g.shape[:2]
        buf = xp.zeros((N, C, self.Hb, self.Wb), dtype=g.dtype)
        for view in self.offset_views(buf):
            if self.unique:  # windows do not overlap: plain strided assignment
                view[...] = g
            else:
                view += g
        return buf[:, :, self.ph:self.ph + self.H, self.pw:self.pw + self.W]

    def _divisor(self, a):
        d = self.divisor
        if isinstance(d, int):
            return d
        key = (module_of(a).__name__, a.dtype.str)
        if key not in self._device_divisor:
            self._device_divisor[key] = module_of(a).asarray(d.astype(a.dtype))
        return self._device_divisor[key]

    def divided(self, a):
        return a / self._divisor(a)

    def average_grad(self, g):
        return module_of(g).ascontiguousarray(self.spread(self.divided(g)))

    def average(self, x):
        total = self.sum_windows(x)
        if x.dtype.kind != "f":  # integer pooling truncates, as in torch
            d = self.divisor if isinstance(self.divisor, int) else \
                module_of(x).asarray(self.divisor)
            return module_of(x).trunc(total / d).astype(x.dtype)
        return self.divided(total)


def averaging_matrix(size, out, dtype):
    """(out, size) averaging matrix of adaptive pooling, on the current GPU."""
    import cupy
    return cupy.asarray(_cpu.averaging_matrix(size, out, dtype))


class AdaptiveMaxPlan(_cpu.AdaptiveMaxPlan):
    """Windows of different lengths (see the CPU plan), with the index tables on the device."""

    def max_with_indices(self, x):
        xp = module_of(x)
        rows, cols = xp.asarray(self.rows), xp.asarray(self.cols)
        N, C = x.shape[:2]
        kh, kw = rows.shape[1], cols.shape[1]
        win = x[:, :, rows][:, :, :, :, cols]  # (N, C, Ho, kh, Wo, kw)
        win = win.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, self.Ho, self.Wo, kh * kw)
        arg = win.argmax(axis=-1)
        y = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
        i, j = xp.divmod(arg, kw)
        oh = xp.arange(self.Ho)[:, None]
        ow = xp.arange(self.Wo)
        return y, rows[oh, i] * self.W + cols[ow, j]
