"""Matrix products on the CPU: NumPy's matmul, cut into the pieces OpenBLAS runs fastest.

OpenBLAS (NumPy's BLAS; 0.3.31, DYNAMIC_ARCH, SkylakeX kernels on this AVX-512 Xeon) has a
"small matrix" GEMM kernel that skips the packing of the operands its general kernel does.
It takes a product only when ``M * N * K <= 100**3`` and, for NumPy's C-ordered output,
depending on the operands' layouts (OpenBLAS sees NumPy's row-major call transposed):

* C @ C and F @ C: always;
* C @ F (``x @ W.T``): only when ``M * N <= 1200`` and ``K >= 32`` (its dot-product kernel);
* F @ F: never.

(float64 measured the same bounds. An F-order ``out`` makes BLAS compute the transposed
product, so that one is planned. With another BLAS the pieces are as correct, only not
necessarily faster.)

For *skinny* products (a side or the inner dimension of a few to a few tens, where
``1/M + 1/K + 1/N >= 0.04``) the packing dominates and the small kernel is up to 2-3x
faster per element, so ``matmul`` cuts such a product into pieces that each take it,
and writes them straight into their slice of the output. Of the plans whose every piece
takes the small kernel it picks by shapes and layouts alone (never by timings, so the same
shapes always run the same pieces):

* rows or columns of the output, or the inner dimension (K), as long as ``100**3`` allows,
  in nearly equal pieces;
* not pieces thinner than 8 (16 for a C @ F product or a cut of K): the small kernel runs
  those badly;
* columns only for outputs of at most 32 rows, and not when ``b`` has rows longer than
  64 and is larger than L2 (2 MB): such pieces write or stream too many strided rows;
* for F @ C, a cut of K where one is allowed (both pieces are contiguous blocks); else the
  plan whose pieces are the least skinny.

Measured per product (1 thread, process CPU time, median of 3 interleaved rounds of 7
samples, us; "before" is the previous rule, which cut by shape alone, so some of its
pieces missed the small kernel that the layout rules out; "after" gives the cut):

==============================  ===========================  ====  ======  ==============
product (M x K @ K x N)         where                        one   before  after
                                                             call
==============================  ===========================  ====  ======  ==============
256x784 @ 784x10, C @ F         ``x @ W.T``, Linear 784-10     87      56  57 (rows 88)
10x256 @ 256x784, F @ C         its ``g.T @ x``                71      51  48 (K 88)
256x3136 @ 3136x10, C @ F       the conv stack's Linear       356     396  268 (rows 29)
256x10 @ 10x3136, C @ C         its ``g @ W``                 260     268  189 (rows 29)
6x25 @ 25x41216, C @ C          LeNet's conv 1                432     207  211 (cols 5888)
25x41216 @ 41216x6, C @ F       its weight gradient           522     252  252 (K 5888)
150x16 @ 16x6860, F @ C         LeNet's conv 2, input grad    444     443  358 (rows 9)
150x6860 @ 6860x16, C @ F       its weight gradient (before)  462     526
150x6860 @ 6860x16, C @ C       ... gy channels last (after)  453          351 (K 408)
32x9 @ 9x115920, C @ C          the conv stack's conv 1      1368     767  802 (cols 3416)
9x115920 @ 115920x32, C @ F     its weight gradient          2590    1216  1218 (K 3416)
32x64 @ 64x17444, F @ C         ResNet's 1x1 shortcut, gx     761     766  673 (cols 488)
32x17444 @ 17444x64, C @ F      its weight gradient (before) 1105    1213
32x17444 @ 17444x64, C @ C      ... gy channels last (after)  921          666 (K 488)
32x288 @ 288x3360, C @ C        a 32-channel 3x3 conv         579     583  586 (one call)
==============================  ===========================  ====  ======  ==============

(Column pieces of 2560 to 3416 measured 815-826 us on the conv stack's conv 1: the piece
length within the small kernel's bound does not matter. Pieces of the 32-channel conv,
104 columns, took 808 us: wide products stay one call.)

The pieces depend on nothing but the shapes, so results are bit-identical between runs and
between thread counts: row and column pieces write disjoint slices, and the partial
products of a cut of K are added in piece order whichever thread computed them. At more
than one thread the pieces of a large enough product run on zerograd's pool
(``threads.split``; the small kernel itself is single-threaded); inside a caller's own
split (a convolution's batch slices) they stay on the slice's thread.
"""
import functools

import numpy as np

from zerograd.backend.cpu import threads

_SMALL = 100 ** 3  # OpenBLAS takes its small-matrix kernel for M*N*K up to this
_CF_AREA = 1200  # ... a C-order @ F-order product only for M*N up to this
_CF_MIN_K = 32  # ... and K at least this
_SKINNY = 0.04  # 1/m + 1/k + 1/n from which the general kernel's packing dominates
_MIN_PIECE = 8  # pieces thinner than this run the small kernel badly
_MIN_THIN_PIECE = 16  # ... pieces of the inner dimension, and any of a C @ F product
_MAX_STRIDED_ROWS = 32  # column pieces write this many strided rows of the output at most
_LONG_K, _CACHE_BYTES = 64, 2 << 20  # ... and do not stream a b of long rows past L2


def layout(x):
    """'C' (rows contiguous), 'F' (columns contiguous) or None (NumPy copies it or loops)."""
    s = x.itemsize
    if x.strides[1] == s and x.strides[0] >= x.shape[1] * s:
        return "C"
    if x.strides[0] == s and x.strides[1] >= x.shape[0] * s:
        return "F"
    return None


def _small(m, k, n, la, lb):
    """Whether OpenBLAS runs the product (m, k) @ (k, n) with its small-matrix kernel."""
    if m * k * n > _SMALL or (la, lb) == ("F", "F"):
        return False
    if (la, lb) == ("C", "F"):
        return m * n <= _CF_AREA and k >= _CF_MIN_K
    return True


def _even_piece(length, most):
    """The length of ceil(length / most) nearly equal pieces (a multiple of 8 when long)."""
    count = -(-length // most)
    piece = -(-length // count)
    if piece > 64:
        piece = min(-(-piece // 8) * 8, most // 8 * 8)
    return piece


def _candidates(m, k, n, la, lb):
    """Every plan whose pieces all take the small kernel: (axis, piece length), axis 0 cutting
    the rows of the output, 1 its columns, 2 the inner dimension."""
    plans = []
    for axis, length, rest in ((0, m, k * n), (1, n, m * k), (2, k, m * n)):
        most = _SMALL // rest
        if most < 1 or most >= length:
            continue
        piece = _even_piece(length, most)
        if _small(*_piece_dims((axis, piece), m, k, n), la, lb):
            plans.append((axis, piece))
    return plans


def _admissible(cut, m, k, n, la, lb, itemsize):
    axis, piece = cut
    if axis == 1 and (m > _MAX_STRIDED_ROWS or
                      k > _LONG_K and k * n * itemsize > _CACHE_BYTES):
        return False
    return piece >= (_MIN_PIECE if axis < 2 and (la, lb) != ("C", "F") else _MIN_THIN_PIECE)


def _piece_dims(cut, m, k, n):
    """(m, k, n) of one piece of the product cut as ``cut`` = (axis, piece length)."""
    dims = [m, k, n]
    dims[(0, 2, 1)[cut[0]]] = cut[1]
    return dims


def _piece_skinniness(cut, m, k, n):
    return sum(1 / d for d in _piece_dims(cut, m, k, n))


@functools.lru_cache(maxsize=1024)
def plan(m, k, n, la, lb, itemsize=4):
    """(axis, piece length) to cut (m, k) @ (k, n) into, or None for one NumPy call.

    ``la``/``lb``: the operands' layouts ('C', 'F', or None: not cut). Depends on nothing
    else (``itemsize`` only bounds the bytes streamed), so the same shapes always run the
    same pieces: results are reproducible."""
    if m * k * n <= _SMALL or la is None or lb is None:
        return None
    if 1 / m + 1 / k + 1 / n < _SKINNY:
        return None
    plans = [c for c in _candidates(m, k, n, la, lb)
             if _admissible(c, m, k, n, la, lb, itemsize)]
    if not plans:
        return None
    if (la, lb) == ("F", "C") and plans[-1][0] == 2:
        return plans[-1]  # both pieces of an inner cut are contiguous blocks: the fastest
    return min(plans, key=lambda c: _piece_skinniness(c, m, k, n))


def matmul(a, b, out=None):
    """``a @ b`` for 2-D float arrays (anything else: ``numpy.matmul`` as it is); skinny
    products in pieces, which run on zerograd's threads when large enough."""
    if (a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or
            a.shape[0] * a.shape[1] * b.shape[1] <= _SMALL or a.dtype != b.dtype or
            a.dtype not in (np.float32, np.float64)):
        return np.matmul(a, b, out=out)  # not cut: one call (a small one takes the kernel)
    if out is not None and (out.shape != (a.shape[0], b.shape[1]) or layout(out) != "C"):
        if out.shape == (a.shape[0], b.shape[1]) and layout(out) == "F":
            # BLAS computes an F-order output as out.T = b.T @ a.T: plan that product
            run(b.T, a.T, out.T, _plan_of(b.T, a.T))
            return out
        return np.matmul(a, b, out=out)
    return run(a, b, out, _plan_of(a, b))


def _plan_of(a, b):
    return plan(a.shape[0], a.shape[1], b.shape[1], layout(a), layout(b), a.itemsize)


def run(a, b, out, cut):
    """``a @ b`` computed piece by piece as ``cut`` (a ``plan``) says; the pieces run on
    zerograd's threads when the product is large enough."""
    if cut is None:
        return np.matmul(a, b, out=out)
    m, k = a.shape
    n = b.shape[1]
    axis, piece = cut
    count = -(-(m, n, k)[axis] // piece)
    # the pool pays from ~4M multiply-adds per thread on
    work = m * n * k // 32
    if axis == 2:
        # partial products of consecutive pieces of the sum, stacked, added in piece order
        # whatever the thread count (the same bits at 1 and 2 threads) by one reduction:
        # one call, not one add per piece (at 2 threads, short calls hand the GIL back and
        # forth)
        def partials(lo, hi):
            return _stacked_products(a, b, None, 2, piece, lo, hi)
        stacks = [p for chunk in threads.split(count, work, partials) for p in chunk]
        stack = stacks[0] if len(stacks) == 1 else np.concatenate(stacks)
        return np.add.reduce(stack, axis=0, out=out)
    if out is None:
        out = np.empty((m, n), dtype=a.dtype)
    threads.split(count, work, lambda lo, hi: _stacked_products(a, b, out, axis, piece, lo, hi))
    return out


def _stacked_products(a, b, out, axis, piece, lo, hi):
    """The products of pieces ``lo:hi`` of ``a @ b`` cut along ``axis``, as one batched
    matmul over views of the whole pieces (plus one call for a shorter last piece): rows
    and columns are written into ``out``; for a cut of K the partial products come back as
    a list of stacks (k, m, n), in piece order.

    One call, not one per piece, because NumPy's matmul keeps the GIL for products of
    fewer than ~500 output elements -- a cut of K makes such partials (LeNet's 25x6 weight
    gradient): called one by one from two threads they ran no faster than from one
    (measured 1.00x; stacked, 1.6x). The views split one axis and transpose, which costs
    ~1 us (``as_strided`` cost ~6 us a view: the softmax step's three products took
    45 -> 63 us)."""
    m, k = a.shape
    n = b.shape[1]
    full = min(hi, (m, n, k)[axis] // piece) - lo  # whole pieces in lo:hi
    s0, s1 = lo * piece, (lo + full) * piece
    partials = []
    if full > 0:
        if axis == 2:
            partials.append(np.matmul(a[:, s0:s1].reshape(m, full, piece).transpose(1, 0, 2),
                                      b[s0:s1].reshape(full, piece, n)))
        elif axis == 0:  # b broadcasts over the pieces
            np.matmul(a[s0:s1].reshape(full, piece, k), b,
                      out=out[s0:s1].reshape(full, piece, n))
        else:
            np.matmul(a, b[:, s0:s1].reshape(k, full, piece).transpose(1, 0, 2),
                      out=out[:, s0:s1].reshape(m, full, piece).transpose(1, 0, 2))
    if lo + full < hi:  # the shorter last piece
        if axis == 2:
            partials.append(np.matmul(a[:, s1:], b[s1:])[None])
        elif axis == 0:
            np.matmul(a[s1:], b, out=out[s1:])
        else:
            np.matmul(a, b[:, s1:], out=out[:, s1:])
    return partials
