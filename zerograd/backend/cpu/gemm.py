"""Matrix products on the CPU: NumPy's matmul, cut into pieces OpenBLAS runs fastest.

OpenBLAS (NumPy's BLAS) has a separate "small matrix" GEMM kernel, chosen when
``M * N * K <= 100**3``: it skips the packing of the operands that the general kernel does.
For *skinny* products, where one side is a handful of rows (a 784-10 Linear layer, the
6 output channels of LeNet's first convolution), the packing dominates and the general
kernel is two to three times slower per element than the small one (1 thread, AVX-512):

=====================================  =========  ================
product (M x K @ K x N)                one call   pieces <= 0.9M
=====================================  =========  ================
256x784 @ 784x10 (``x @ W.T``)         85 us      43 us
10x256 @ 256x784 (``g.T @ x``)         65 us      44 us
6x25 @ 25x41216 (LeNet conv 1)         608 us     197 us
32x9 @ 9x30000 (a 3x3 conv on 1 ch.)   352 us     188 us
=====================================  =========  ================

So ``matmul`` cuts the long side of such a product into pieces of at most ``_SMALL``
multiply-adds, written straight into their slice of the output. Products that are not
skinny (both sides wide, or a long inner dimension) go to NumPy in one call: the general
kernel is the faster one there. The pieces cut the rows or the columns of the output, never
the inner dimension, so every output element is the same dot product in the same order
whatever the thread count. At more than one thread the pieces run on zerograd's pool
(the small kernel is single-threaded).
"""
import numpy as np

from zerograd.backend.cpu import threads

_SMALL = 900_000  # multiply-adds per piece: under OpenBLAS's 100**3, with a margin
_MIN_PIECE = 64  # shorter pieces than this cost more in calls than they save
_SKINNY = 10  # a side of at most this many rows/columns is "skinny" ...
_SKINNY_AREA = 1200  # ... or one whose rows/columns times K are at most this
_MIN_INNER_PIECE = 128  # pieces of the inner dimension: at least this long


def _pieces(m, k, n):
    """(axis, piece length) to cut the product (m, k) @ (k, n) along, or None.

    Axis 0 cuts the rows of the output, 1 its columns, 2 the inner dimension (a small
    output over a long sum: a weight gradient over a batch of pixels)."""
    if m * n * k <= _SMALL:
        return None
    long_axis, long_len, short = (0, m, n) if m >= n else (1, n, m)
    if short <= _SKINNY or short * k <= _SKINNY_AREA:
        piece = _SMALL // (k * short) // 8 * 8
        if _MIN_PIECE <= piece < long_len:
            return long_axis, piece
    piece = _SMALL // (m * n) // 8 * 8
    if _MIN_INNER_PIECE <= piece < k:
        return 2, piece
    return None


def matmul(a, b, out=None):
    """``a @ b`` for 2-D float arrays (anything else: ``numpy.matmul`` as it is)."""
    if a.ndim != 2 or b.ndim != 2 or a.dtype.kind != "f" or a.dtype != b.dtype:
        return np.matmul(a, b, out=out)
    m, k = a.shape
    n = b.shape[1]
    plan = _pieces(m, k, n)
    if plan is None:
        return np.matmul(a, b, out=out)
    axis, piece = plan
    starts = range(0, (m, n, k)[axis], piece)
    work = m * n * k // 32  # the pool pays from ~4M multiply-adds per thread on
    if axis == 2:
        # partial products over consecutive pieces of the sum, added in piece order
        def partial(lo, hi):
            acc = None
            for s in starts[lo:hi]:
                p = np.matmul(a[:, s:s + piece], b[s:s + piece])
                acc = p if acc is None else np.add(acc, p, out=acc)
            return acc
        parts = threads.split(len(starts), work, partial)
        if out is None:
            out = parts[0]
        else:
            out[...] = parts[0]
        for p in parts[1:]:
            out += p
        return out
    if out is None:
        out = np.empty((m, n), dtype=a.dtype)

    def run(lo, hi):
        for s in starts[lo:hi]:
            if axis == 0:
                np.matmul(a[s:s + piece], b, out=out[s:s + piece])
            else:
                np.matmul(a, b[:, s:s + piece], out=out[:, s:s + piece])

    threads.split(len(starts), work, run)
    return out
