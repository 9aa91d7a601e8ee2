"""The loops behind ``compiled``: numba-compiled, released from the GIL (``nogil``).

Imported only by ``compiled``, and only when numba is installed. Each kernel works on a
range of channels ``c0:c1`` of (N, C, L) arrays, so ``threads.split`` can hand each thread
its own channels: every channel's result is computed the same way whatever the split,
so results do not depend on the thread count.

Sums run over each row of ``L`` values in the array's own dtype (``cast``, a 3-element
scratch array of that dtype, gives it: assigning a float64 to it rounds, and a row's
accumulator starts as its zeroed element), vectorized by letting LLVM reassociate them,
and the rows' sums are added in float64, as the NumPy path does (a GEMV per row, float64
over the rows). ``fastmath`` allows only reassociation and fused multiply-adds: no
assumptions about inf or nan. The pooling kernels reassociate nothing: their results are
the NumPy path's bit for bit.

The sigmoid's forward computes exp itself (float32): numba has no vectorized ``exp``
without Intel's SVML, and a scalar ``expf`` call per element was 4x slower than NumPy.
``_exp_float32`` is Cephes' ``expf`` (a degree-5 polynomial on |r| <= ln2/2, scaled by
2^k), the method behind SLEEF's and SVML's ``expf``, which LLVM vectorizes: 2^k is built
from its exponent bits by ``_float32_from_bits``, an LLVM bitcast.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_FAST = {"reassoc", "contract"}
_KERNEL = dict(nogil=True, fastmath=_FAST, cache=True)


@njit(**_KERNEL)
def batch_norm_forward(x, weight, bias, eps, y, mean, var, invstd, cast, c0, c1):
    """Per channel c0:c1 of x (N, C, L): the mean, the biased variance (two passes, the
    second over x - mean as the dtype rounds the mean), invstd, and
    y = (x - mean) * (invstd * w) + b. The channel's rows stay in cache between passes."""
    N, _, L = x.shape
    M = N * L
    cast[:] = 0
    zero = cast[2]
    for c in range(c0, c1):
        total = 0.0
        for n in range(N):
            row = zero
            for i in range(L):
                row += x[n, c, i]
            total += row
        m = total / M
        cast[0] = m
        m_x = cast[0]  # the mean rounded to the dtype, as the NumPy path centres with
        total = 0.0
        for n in range(N):
            row = zero
            for i in range(L):
                d = x[n, c, i] - m_x
                row += d * d
            total += row
        v = total / M
        inv = 1.0 / np.sqrt(v + eps)
        cast[0] = inv * weight[c]
        cast[1] = bias[c]
        scale, shift = cast[0], cast[1]
        for n in range(N):
            for i in range(L):
                y[n, c, i] = (x[n, c, i] - m_x) * scale + shift
        mean[c] = m
        var[c] = v
        invstd[c] = inv


@njit(**_KERNEL)
def batch_norm_backward(g, x, mean, invstd, weight, need_x, gx, gw, gb, cast, c0, c1):
    """Per channel c0:c1: gb = sum g, gw = invstd * sum g (x - mean) and, with ``need_x``,
    gx = scale g + b x + c (scale = invstd w, b = -scale invstd gw / M,
    c = -scale gb / M - mean b), its second pass reading the channel from cache."""
    N, _, L = x.shape
    M = N * L
    cast[:] = 0
    zero = cast[2]
    for c in range(c0, c1):
        cast[0] = mean[c]
        m_x = cast[0]
        sum_g = 0.0
        sum_gx = 0.0
        for n in range(N):
            row_g = zero
            row_gx = zero
            for i in range(L):
                v = g[n, c, i]
                row_g += v
                row_gx += (x[n, c, i] - m_x) * v
            sum_g += row_g
            sum_gx += row_gx
        inv = 1.0 * invstd[c]
        gw[c] = sum_gx * inv
        gb[c] = sum_g
        if need_x:
            scale = inv * weight[c]
            b = -scale * inv * gw[c] / M
            shift = -scale * sum_g / M - mean[c] * b
            cast[0], cast[1], cast[2] = scale, b, shift
            scale_x, b_x, shift_x = cast[0], cast[1], cast[2]
            for n in range(N):
                for i in range(L):
                    gx[n, c, i] = g[n, c, i] * scale_x + x[n, c, i] * b_x + shift_x


@njit(nogil=True, cache=True)
def avg_pool_2x2(x, y, divisor, r0, r1):
    """y[r] = the 2x2 windows' sums of x[r] (planes r0:r1 of (R, 2Ho, 2Wo)) / divisor,
    added as the NumPy path adds them: the two rows first, then the two columns (the same
    bits; no reassociation in this kernel)."""
    _, Ho, Wo = y.shape
    for r in range(r0, r1):
        for i in range(Ho):
            for j in range(Wo):
                y[r, i, j] = ((x[r, 2 * i, 2 * j] + x[r, 2 * i + 1, 2 * j]) +
                              (x[r, 2 * i, 2 * j + 1] + x[r, 2 * i + 1, 2 * j + 1])) / divisor


@njit(nogil=True, cache=True)
def avg_pool_2x2_grad(g, gx, divisor, r0, r1):
    """The adjoint: g[r] / divisor written to the four positions of each window (planes
    r0:r1), row by row of gx."""
    _, Ho, Wo = g.shape
    for r in range(r0, r1):
        for i in range(Ho):
            for a in range(2):
                for j in range(Wo):
                    v = g[r, i, j] / divisor
                    gx[r, 2 * i + a, 2 * j] = v
                    gx[r, 2 * i + a, 2 * j + 1] = v


@njit(nogil=True, cache=True)
def max_pool_2x2(x, y, arg, r0, r1):
    """y[r] = the 2x2 windows' maxima of x[r] (planes r0:r1), arg[r] the offset (row-major,
    0..3) of each window's first maximum; a window with a NaN gets that NaN and the offset
    of its last NaN, as the NumPy path and torch."""
    _, Ho, Wo = y.shape
    for r in range(r0, r1):
        for i in range(Ho):
            for j in range(Wo):
                a, b = x[r, 2 * i, 2 * j], x[r, 2 * i, 2 * j + 1]
                c, d = x[r, 2 * i + 1, 2 * j], x[r, 2 * i + 1, 2 * j + 1]
                best, k = a, 0
                if b > best:
                    best, k = b, 1
                if c > best:
                    best, k = c, 2
                if d > best:
                    best, k = d, 3
                if d != d:
                    best, k = d, 3
                elif c != c:
                    best, k = c, 2
                elif b != b:
                    best, k = b, 1
                # (a NaN in a alone already won: every comparison with it is False)
                y[r, i, j] = best
                arg[r, i, j] = k


@njit(nogil=True, cache=True)
def max_pool_2x2_grad(g, arg, gx, zero, r0, r1):
    """The adjoint: each window's g at the offset ``arg`` names, ``zero`` (of gx's dtype)
    on its other three positions (planes r0:r1 of gx, every element written)."""
    _, Ho, Wo = g.shape
    for r in range(r0, r1):
        for i in range(Ho):
            for a in range(2):
                for j in range(Wo):
                    k = arg[r, i, j] - 2 * a  # 0 or 1: this row holds the winner
                    v = g[r, i, j]
                    gx[r, 2 * i + a, 2 * j] = v if k == 0 else zero
                    gx[r, 2 * i + a, 2 * j + 1] = v if k == 1 else zero


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE-754 bits are the int32 ``bits`` (a bitcast, no memory)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


_F = np.float32
# Cephes expf: ln2 split in two so k * ln2 is subtracted exactly, and the polynomial
_LOG2E, _LN2_HI, _LN2_LO = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)
_P0, _P1, _P2 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_P3, _P4, _P5 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
# exp(v) of float32 is finite up to ln(FLT_MAX); inputs past it give inf, as torch
_LN_MAX = _F(88.72283)


@njit(inline="always", fastmath=_FAST, error_model="numpy")
def _exp_float32(v):
    """exp(v) for float32 v in [-80, ln(FLT_MAX)]: within 1 ulp of the correctly rounded
    value (every 3.4e-5 step of the range, against float64's exp; NumPy's float32 exp: 2)."""
    k = np.floor(v * _LOG2E + _F(0.5))
    r = v - k * _LN2_HI - k * _LN2_LO
    p = _P0
    p = p * r + _P1
    p = p * r + _P2
    p = p * r + _P3
    p = p * r + _P4
    p = p * r + _P5
    p = p * r * r + r + _F(1.0)
    # 2 p 2^(k-1): k reaches 128 at ln(FLT_MAX), one past float32's largest exponent
    return (p * _F(2.0)) * _float32_from_bits((np.int32(k) + np.int32(126)) << 23)


@njit(nogil=True, fastmath=_FAST, error_model="numpy", cache=True)
def sigmoid_float32(x, y):
    """y = 1 / (1 + exp(-x)) of 1-D float32 arrays, as torch: exactly 0 where exp(-x)
    overflows float32 (x < -88.72), exactly 1 from x ~ 17 on, NaN for NaN."""
    for i in range(x.size):
        a = x[i]
        # exp's range: y rounds to 1 for a > 80 anyway; a < -ln(FLT_MAX) is set to 0 below
        v = min(max(-a, _F(-80.0)), _LN_MAX)
        s = _F(1.0) / (_F(1.0) + _exp_float32(v))
        s = _F(0.0) if a < -_LN_MAX else s
        y[i] = s if a == a else a


@njit(nogil=True, cache=True)
def sigmoid_grad(y, g, out, one):
    """out = (1 - y) y g of 1-D arrays, the NumPy path's products in its order (the same
    bits; ``one`` is 1 in their dtype)."""
    for i in range(y.size):
        v = y[i]
        out[i] = ((one - v) * v) * g[i]


@njit(nogil=True, cache=True)
def col2im_wide(dcols, kh, kw, dh, dw, Ho, Wp, pt, pl, bias, has_bias, plane, x, n0, m):
    """x[n0 + n] (n < m) = the padded planes that the columns ``dcols`` (C, kh, kw,
    m*Ho*Wp) of a block on wide rows add up to, cropped to x's H x W, plus ``bias[c]``
    with ``has_bias``. One (sample, channel) plane at a time, in the scratch ``plane``
    (Hp*Wp plus the last row's overrun): each kernel offset adds its Ho*Wp run (the rows'
    discarded columns are zero, so a shift never carries into the next row), in cache."""
    C = dcols.shape[0]
    _, _, H, W = x.shape
    span = Ho * Wp
    for n in range(m):
        for c in range(C):
            plane[:] = 0
            for i in range(kh):
                for j in range(kw):
                    src = dcols[c, i, j, n * span:(n + 1) * span]
                    dst = plane[i * dh * Wp + j * dw:i * dh * Wp + j * dw + span]
                    for p in range(span):
                        dst[p] += src[p]
            out = x[n0 + n, c]
            for r in range(H):
                row = plane[(r + pt) * Wp + pl:(r + pt) * Wp + pl + W]
                if has_bias:
                    b = bias[c]
                    for q in range(W):
                        out[r, q] = row[q] + b
                else:
                    for q in range(W):
                        out[r, q] = row[q]


# -- optimizer updates ----------------------------------------------------------------------
# One pass over a parameter instead of NumPy's 3-4 (SGD with momentum or weight decay) to
# ~10 (Adam): each element's
# update is computed in the NumPy path's order with its dtype's scalars (the caller rounds
# them as NumPy rounds a Python float against an array), and nothing is reassociated or
# fused, so the results are the NumPy path's bits. ``error_model="numpy"`` lets LLVM
# vectorize the divisions (no zero-division checks).
@njit(inline="always")
def _decayed_grad(p, g, has_decay, decay, maximize):
    """prepare_grad's gradient: ``p * decay + g`` (``- g`` with maximize), or +-g."""
    if has_decay:
        w = p * decay
        return w - g if maximize else w + g
    return -g if maximize else g


@njit(nogil=True, error_model="numpy", cache=True)
def sgd_update(param, grad, buf, has_decay, decay, maximize, has_momentum, momentum, first,
               keep_all, damp, nesterov, neg_lr):
    """``zerograd.optim.sgd._sgd_update`` on 1-D slices: weight decay ``decay``, momentum
    (``first``: the buffer starts at the gradient; ``keep_all``: dampening 0, else ``damp``
    = 1 - dampening), Nesterov, then ``param += d * neg_lr``. (Whether there is decay or
    momentum is decided on the Python values, as the NumPy path does: a value may round to
    0 in the dtype.) One loop per case: a store under a condition inside the loop keeps
    LLVM from vectorizing it."""
    n = param.size
    if not has_momentum:
        for i in range(n):
            g = _decayed_grad(param[i], grad[i], has_decay, decay, maximize)
            param[i] = param[i] + g * neg_lr
    elif first:
        for i in range(n):
            g = _decayed_grad(param[i], grad[i], has_decay, decay, maximize)
            buf[i] = g
            d = g + g * momentum if nesterov else g
            param[i] = param[i] + d * neg_lr
    else:
        for i in range(n):
            g = _decayed_grad(param[i], grad[i], has_decay, decay, maximize)
            b = buf[i] * momentum
            b = b + g if keep_all else b + g * damp
            buf[i] = b
            d = g + b * momentum if nesterov else b
            param[i] = param[i] + d * neg_lr


@njit(inline="always")
def _adam_moments(param, grad, exp_avg, exp_avg_sq, i, maximize, decoupled, decay, coupled,
                  weight_decay, lerp_low, lerp_weight, beta2, one_minus_beta2):
    """The parameter (decayed when ``decoupled``) and both moments of element ``i``, the
    moments stored."""
    p = param[i]
    if decoupled:
        p = p * decay
    g = _decayed_grad(p, grad[i], coupled, weight_decay, maximize)
    m = exp_avg[i]
    diff = g - m
    m = m + diff * lerp_weight if lerp_low else g - diff * lerp_weight
    exp_avg[i] = m
    v = exp_avg_sq[i] * beta2
    v = v + (g * one_minus_beta2) * g
    exp_avg_sq[i] = v
    return p, m, v


@njit(nogil=True, error_model="numpy", cache=True)
def adam_update(param, grad, exp_avg, exp_avg_sq, max_sq, amsgrad, maximize, decoupled,
                decay, coupled, weight_decay, lerp_low, lerp_weight, beta2, one_minus_beta2,
                eps_term, scale):
    """``zerograd.optim.adam._adam_update`` on 1-D slices: weight decay (``decoupled``:
    ``param *= decay``; ``coupled``: ``g = param * weight_decay + g``), torch's two-sided
    lerp of ``exp_avg`` towards g (``lerp_low``: m + (g - m) w, else g - (g - m) w),
    ``exp_avg_sq * beta2 + (g (1 - beta2)) g``, its running maximum with ``amsgrad``,
    then ``param += m / (sqrt(v) + eps_term) * scale``. One loop per case, as
    ``sgd_update`` (the store of the running maximum made the loop 5x slower)."""
    if amsgrad:
        for i in range(param.size):
            p, m, v = _adam_moments(param, grad, exp_avg, exp_avg_sq, i, maximize, decoupled,
                                    decay, coupled, weight_decay, lerp_low, lerp_weight,
                                    beta2, one_minus_beta2)
            top = max_sq[i]
            v = top if top > v or top != top else v  # np.maximum: NaN wins
            max_sq[i] = v
            param[i] = p + (m / (np.sqrt(v) + eps_term)) * scale
    else:
        for i in range(param.size):
            p, m, v = _adam_moments(param, grad, exp_avg, exp_avg_sq, i, maximize, decoupled,
                                    decay, coupled, weight_decay, lerp_low, lerp_weight,
                                    beta2, one_minus_beta2)
            param[i] = p + (m / (np.sqrt(v) + eps_term)) * scale
