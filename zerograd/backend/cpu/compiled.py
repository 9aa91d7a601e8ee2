"""Optional compiled CPU kernels (numba): the passes NumPy cannot fuse.

NumPy runs one array pass per call. Batch norm is memory-bound and needs several passes
per direction (statistics, then the normalization; sums, then the input gradient), and
at 2 threads each of its NumPy calls hands the GIL back and forth. With numba installed
(``pip install zerograd[fast]``; never required) batch norm on the CPU runs as one
compiled loop per channel instead, released from the GIL: a channel's rows are read from
memory once and stay in cache for the next pass, and each thread of ``threads.split``
takes its own channels. 2x2 pooling at stride 2 (d2l's LeNet, VGG, the conv stack),
average and max, forward and backward, is one pass instead of NumPy's strided slices
and masks. Float32 sigmoid is one pass forward (its own vectorized exp: see
``_numba_kernels``) and one backward, instead of four and three. The col2im of a stride-1
convolution's input gradient (``conv_kernels._col2im_transpose``) is one call per block
instead of kw + kh strided adds and a copy. The updates of SGD and Adam/AdamW
(``optim_kernels``) are one pass per parameter instead of a chain of NumPy passes. Each
takes 0.2-0.78x its NumPy pass's time (``python benchmarks/bench_compiled.py``,
``bench_optim.py``, BENCHMARKS.md: batch norm on (256, 32, 28, 28)
forward 8.6 -> 3.1 ms, backward 20.6 -> 8.3 at 1 thread, torch 11.2 / 8.1); the
conv/BatchNorm stack's training step went from 1.42x torch's to 1.10x at 1 thread, 1.59x
to 1.30x at 2, d2l's LeNet from 1.30x to 1.07x at 1 thread, 1.9x to 1.5x at 2. numba and
LLVM cost ~115 MB of resident memory.

The NumPy kernels stay the default-tested path: the test suite turns these off and
checks them against the NumPy path and torch in ``tests/backend/test_cpu_compiled.py``.

* ``enabled()``: whether the compiled kernels run (numba importable, not switched off).
* ``enable(flag)``: switch them on or off (returns the previous setting); the
  environment variable ``ZEROGRAD_NUMBA=0`` switches them off from the start.

numba compiles each kernel on its first use per dtype (about a second; ``cache=True``
keeps the machine code on disk for the next process).
"""
import os
import warnings

import numpy as np

from zerograd.backend.cpu import threads

# batch norm's rows shorter than this go to the NumPy path: the compiled loop walks one
# channel at a time, which for (N, C) inputs (BatchNorm1d) strides across every row
MIN_ROW = 16

# the pooling passes are split over threads only from ~2M elements: (256, 6, 28, 28) ran
# 208 -> 233 us forward and 210 -> 272 us backward on 2 threads (the hand-off costs more)
_POOL_SPLIT = 8

# the elementwise kernels take arrays from this many elements on: below it NumPy's few
# passes cost no more than the call into numba
MIN_POINTWISE = 4096

# ... and are split over threads only from ~1M elements: sigmoid on (256, 16, 10, 10)
# took 192 us on one thread and 255 on two (the hand-offs cost more than half the pass)
_POINTWISE_SPLIT = 4

_state = {"on": os.environ.get("ZEROGRAD_NUMBA", "1") != "0", "kernels": None}


def _load():
    from zerograd.backend.cpu import _numba_kernels  # imports numba
    return _numba_kernels


def _kernels():
    """The compiled module, or False when numba is not installed or cannot set it up."""
    if _state["kernels"] is None:
        try:
            _state["kernels"] = _load()
        except ImportError:  # numba not installed: the NumPy kernels, silently
            _state["kernels"] = False
        except Exception as err:  # e.g. no writable cache directory for the machine code
            warnings.warn(f"zerograd: numba is installed but its kernels could not be set "
                          f"up ({type(err).__name__}: {err}); running the NumPy kernels. "
                          f"Set NUMBA_CACHE_DIR to a writable directory, or ZEROGRAD_NUMBA=0 "
                          f"to silence this.", RuntimeWarning, stacklevel=3)
            _state["kernels"] = False
    return _state["kernels"]


def enabled():
    """Whether the compiled kernels run (batch norm, 2x2 pooling, sigmoid, the stride-1
    col2im of a convolution's input gradient, the SGD/Adam updates on the CPU)."""
    return _state["on"] and bool(_kernels())


def enable(flag=True):
    """Run the compiled kernels (``flag=True``, when numba is installed) or the NumPy ones;
    returns the previous setting."""
    previous = _state["on"]
    _state["on"] = bool(flag)
    return previous


def batch_norm_applies(x3):
    """Whether ``batch_norm_forward``/``_backward`` take (N, C, L) ``x3``: kernels on,
    float32/float64, C-contiguous, rows of at least ``MIN_ROW``."""
    return (x3.dtype in (np.float32, np.float64) and x3.flags.c_contiguous and
            x3.shape[2] >= MIN_ROW and x3.size > 0 and enabled())


def pool_2x2_applies(plan, a):
    """Whether the 2x2 pooling kernels take NCHW ``a`` (the input, or the output gradient)
    for the pooling ``plan``: kernels on, 2x2 windows at stride 2 tiling the unpadded
    input (no dilation), float32/float64, C-contiguous."""
    return (plan.kh == plan.kw == plan.sh == plan.sw == 2 and plan.tiles and
            (plan.Hb, plan.Wb) == (plan.H, plan.W) and type(a) is np.ndarray and
            a.dtype in (np.float32, np.float64) and a.flags.c_contiguous and a.size > 0 and
            enabled())


def _on_planes(kernel, work, *args):
    """kernel(*args, r0, r1) on ranges of the N*C planes, split over threads from
    ``work * _POOL_SPLIT`` elements on; NCHW arrays in ``args`` are passed as (N*C, H, W)."""
    args = [a.reshape((-1,) + a.shape[2:]) if isinstance(a, np.ndarray) and a.ndim == 4
            else a for a in args]
    threads.split(args[0].shape[0], work // _POOL_SPLIT, lambda r0, r1: kernel(*args, r0, r1))


def avg_pool_2x2(x, divisor):
    """2x2 average pooling of NCHW ``x`` (even H and W, no padding): window sums / divisor."""
    N, C, H, W = x.shape
    y = np.empty((N, C, H // 2, W // 2), dtype=x.dtype)
    _on_planes(_kernels().avg_pool_2x2, x.size, x, y, x.dtype.type(divisor))
    return y


def avg_pool_2x2_grad(g, divisor):
    """The adjoint of ``avg_pool_2x2``: (N, C, H, W) with g / divisor on every window's
    four positions."""
    N, C, Ho, Wo = g.shape
    gx = np.empty((N, C, 2 * Ho, 2 * Wo), dtype=g.dtype)
    _on_planes(_kernels().avg_pool_2x2_grad, gx.size, g, gx, g.dtype.type(divisor))
    return gx


def max_pool_2x2(x):
    """(maxima, arg) of the 2x2 windows of NCHW ``x`` (even H and W, no padding), arg the
    int16 offset of each window's first maximum, as ``WindowPlan.max_with_arg``."""
    N, C, H, W = x.shape
    y = np.empty((N, C, H // 2, W // 2), dtype=x.dtype)
    arg = np.empty(y.shape, dtype=np.int16)
    _on_planes(_kernels().max_pool_2x2, x.size, x, y, arg)
    return y, arg


def max_pool_2x2_grad(g, arg):
    """The adjoint of ``max_pool_2x2``'s maxima: (N, C, H, W), each window's g at its
    winner, zeros elsewhere."""
    N, C, Ho, Wo = g.shape
    gx = np.empty((N, C, 2 * Ho, 2 * Wo), dtype=g.dtype)
    _on_planes(_kernels().max_pool_2x2_grad, gx.size, g, np.ascontiguousarray(arg), gx,
               g.dtype.type(0))
    return gx


def _per_channel(param, C, fill, dtype):
    return np.full(C, fill, dtype) if param is None else np.ascontiguousarray(param, dtype)


def batch_norm_forward(x3, weight, bias, eps):
    """(y3, mean, var, invstd) of training-mode batch norm over axes 0 and 2 of ``x3``, as
    ``zerograd.ops._norm_passes.batch_norm_forward``."""
    N, C, L = x3.shape
    dtype = x3.dtype
    y3 = np.empty_like(x3)
    mean, var, invstd = np.empty(C), np.empty(C), np.empty(C)
    w = _per_channel(weight, C, 1, dtype)
    b = _per_channel(bias, C, 0, dtype)
    kernel = _kernels().batch_norm_forward

    def run(c0, c1):
        kernel(x3, w, b, float(eps), y3, mean, var, invstd, np.empty(3, dtype), c0, c1)
    threads.split(C, x3.size, run)
    return y3, mean.astype(dtype), var.astype(dtype), invstd.astype(dtype)


def batch_norm_backward(g3, x3, mean, invstd, weight, need_x):
    """(gx3 or None, gw, gb) of training-mode batch norm, as
    ``zerograd.ops._norm_passes.batch_norm_backward``."""
    N, C, L = x3.shape
    dtype = g3.dtype
    g3 = np.ascontiguousarray(g3)
    gx3 = np.empty_like(g3) if need_x else np.empty((1, 1, 1), dtype)
    gw, gb = np.empty(C), np.empty(C)
    w = _per_channel(weight, C, 1, dtype)
    kernel = _kernels().batch_norm_backward
    mean = np.ascontiguousarray(mean)
    invstd = np.ascontiguousarray(invstd)

    def run(c0, c1):
        kernel(g3, x3, mean, invstd, w, need_x, gx3, gw, gb, np.empty(3, dtype), c0, c1)
    threads.split(C, x3.size, run)
    return (gx3 if need_x else None), gw.astype(dtype), gb.astype(dtype)


def _arrays_fit(dtypes, *arrays):
    """Whether ``arrays`` are C-contiguous NumPy arrays of one dtype among ``dtypes``."""
    first = arrays[0]
    return first.dtype in dtypes and all(
        type(a) is np.ndarray and a.flags.c_contiguous and a.dtype == first.dtype
        for a in arrays)


def _pointwise_applies(dtypes, *arrays):
    first = arrays[0]
    return (_arrays_fit(dtypes, *arrays) and all(a.shape == first.shape for a in arrays) and
            first.size >= MIN_POINTWISE and enabled())


def sigmoid_applies(x):
    """Whether ``sigmoid`` takes ``x``: kernels on, float32, C-contiguous, at least
    ``MIN_POINTWISE`` elements (float64 keeps NumPy's exp)."""
    return _pointwise_applies((np.float32,), x)


def sigmoid_grad_applies(y, g):
    """Whether ``sigmoid_grad`` takes the output ``y`` and its gradient ``g``: kernels on,
    one shape, float32 or float64, C-contiguous, at least ``MIN_POINTWISE`` elements."""
    return _pointwise_applies((np.float32, np.float64), y, g)


def _on_slices(kernel, arrays, *scalars):
    """kernel(*slices of arrays, *scalars) on flat slices of the same-shaped, C-contiguous
    ``arrays`` (those it writes included), one slice per thread for large arrays. None
    stands for an unused array: the kernel gets a 1-element array it does not touch."""
    first = next(a for a in arrays if a is not None)
    flat = [np.empty(1, first.dtype) if a is None else a.reshape(-1) for a in arrays]
    present = [a is not None for a in arrays]
    threads.split(first.size, first.size // _POINTWISE_SPLIT, lambda s0, s1: kernel(
        *[f[s0:s1] if use else f for f, use in zip(flat, present)], *scalars))


def sigmoid(x):
    """1 / (1 + exp(-x)) of float32 ``x`` in one pass (``sigmoid_applies``); within 4 ulp
    of torch's, its 0, 1 and NaN where torch has them."""
    y = np.empty_like(x)
    _on_slices(_kernels().sigmoid_float32, (x, y))
    return y


def sigmoid_grad(y, g, out=None):
    """(1 - y) y g in one pass, the NumPy path's bits, into ``out`` (may be ``g``) or a
    new array."""
    out = np.empty_like(g) if out is None else out
    _on_slices(_kernels().sigmoid_grad, (y, g, out), g.dtype.type(1))
    return out


def col2im_applies(dcols, x):
    """Whether ``col2im_wide`` takes the block's columns ``dcols`` and writes NCHW ``x``:
    kernels on, one dtype, float32 or float64, both C-contiguous."""
    return _arrays_fit((np.float32, np.float64), dcols, x) and enabled()


def col2im_wide(dcols, g, bias, x, n0, m, plane=None):
    """x[n0:n0 + m] = col2im of ``dcols`` (C, kh, kw, m*Ho*Wp) on the wide rows of the
    stride-1 geometry ``g`` (``conv_kernels.ConvGeometry``), cropped, plus ``bias`` (C,)
    when given; ``plane`` is the scratch (Hp*Wp + the last row's overrun) to reuse.
    Returns the plane."""
    if plane is None:
        plane = np.empty(g.Hp * g.Wp + g._tail, dtype=x.dtype)
    has_bias = bias is not None
    bias = np.ascontiguousarray(bias, x.dtype) if has_bias else np.zeros(1, x.dtype)
    _kernels().col2im_wide(dcols, g.kh, g.kw, g.dh, g.dw, g.Ho, g.Wp, g.pt, g.pl, bias,
                           has_bias, plane, x, n0, m)
    return plane


def update_applies(*arrays):
    """Whether the optimizer updates take ``arrays`` (the parameter, its gradient and its
    state; None for an absent state): kernels on, one shape, float32 or float64,
    C-contiguous, at least ``MIN_POINTWISE`` elements."""
    return _pointwise_applies((np.float32, np.float64), *[a for a in arrays if a is not None])


def sgd_update(param, grad, buf, *, first, lr, momentum, dampening, weight_decay, nesterov,
               maximize):
    """``zerograd.optim.sgd._sgd_update`` in one pass (``update_applies``), the NumPy
    path's bits: ``param`` and ``buf`` (None without momentum) updated in place."""
    dt = param.dtype.type
    _on_slices(_kernels().sgd_update, (param, grad, buf), weight_decay != 0,
                      dt(weight_decay), bool(maximize), momentum != 0, dt(momentum),
                      bool(first), dampening == 0, dt(1 - dampening), bool(nesterov), dt(-lr))


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, beta1, beta2, lr,
                weight_decay, eps, maximize, decoupled_weight_decay):
    """``zerograd.optim.adam._adam_update`` (Adam, AdamW, amsgrad) in one pass
    (``update_applies``), the NumPy path's bits; the arrays are updated in place."""
    dt = param.dtype.type
    weight = 1 - beta1  # lerp_'s weight, and its two sides
    step_size = lr / (1 - beta1 ** step)
    bc2_sqrt = (1 - beta2 ** step) ** 0.5
    decoupled = bool(decoupled_weight_decay) and weight_decay != 0
    coupled = not decoupled_weight_decay and weight_decay != 0
    _on_slices(
        _kernels().adam_update, (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq),
        max_exp_avg_sq is not None, bool(maximize), decoupled, dt(1 - lr * weight_decay),
        coupled, dt(weight_decay), weight < 0.5, dt(weight if weight < 0.5 else 1 - weight),
        dt(beta2), dt(1 - beta2), dt(eps * bc2_sqrt), dt(-step_size * bc2_sqrt))
