"""Batch norm's array passes over (N, C, L), split into batch slices and cache-sized blocks.

Batch norm is memory-bound: what it costs is how often the input-sized arrays go through
memory. The backward walks blocks of ~256 KB, so the per-block temporaries (the centred
input times g) stay in cache and only the real traffic reaches memory: x and g are read
twice and gx written once (was 7 full passes and two input-sized temporaries). Measured
on (256, 32, 28, 28), 1 thread: 26 -> 18 ms. The forward keeps whole-slice passes (mean;
centre into y while summing squares; scale and shift y in place): blocking it measured
no faster, einsum's per-call cost eating the gain.

The input gradient is ``g * a + x * b + c`` with per-channel ``a``, ``b``, ``c``.
Per-channel sums are taken with a GEMV against ones and accumulated in float64.

Threads: the blocks are grouped into batch slices, one per thread (``threads.split``, the
CPU backend's pool; None runs inline). Each slice returns its partial sums and the caller
adds them in slice order, so a given thread count always gives the same bits. Split into
slices, the backward walks larger blocks (``_SPLIT_BLOCK_BYTES``): every block costs a
dozen NumPy calls whose Python side holds the GIL, and with 256 KB blocks the two threads
queued for it -- (256, 32, 784) float32, 2 threads: 14.6 ms with 256 KB blocks, 9.8 ms
with 2 MB (1 thread: 18.0 ms with 256 KB, 20.0 ms with 2 MB).
"""
from zerograd.backend import backend_of

_BLOCK_BYTES = 256 << 10  # backward's blocks on one thread (measured best of 0.1-1 MB)
_SPLIT_BLOCK_BYTES = 2 << 20  # ... and per thread when split (measured best of 0.25-8 MB)


def _slices(threads, N, work, fn):
    return [fn(0, N)] if threads is None else threads.split(N, work, fn)


def _blocks(n0, n1, nb):
    for b0 in range(n0, n1, nb):
        yield b0, min(b0 + nb, n1)


class _Passes:
    def __init__(self, xp, x3, threads, block_bytes=None):
        self.xp, self.x3, self.threads = xp, x3, threads
        N, C, L = x3.shape
        if block_bytes is None:
            split = threads is not None and threads.threads_for(N, x3.size) > 1
            block_bytes = _SPLIT_BLOCK_BYTES if split else _BLOCK_BYTES
        if not backend_of(x3).cache_blocking:  # a GPU: one kernel over the batch per pass
            block_bytes = x3.nbytes
        self.N, self.C, self.L = N, C, L
        self.nb = max(1, min(N, block_bytes // max(C * L * x3.itemsize, 1)))
        self.ones = xp.ones(L, dtype=x3.dtype)

    def _row_sums(self, a3):
        return (a3 @ self.ones).sum(axis=0, dtype=self.xp.float64)

    def channel_sums(self, fn, scratch=True):
        """sum over slices (in order) of fn(n0, n1, tmp) partial per-channel sums; ``tmp``
        a block-sized scratch array (None without ``scratch``)."""
        xp, C, L = self.xp, self.C, self.L

        def one_slice(n0, n1):  # n1 > n0: split never makes an empty slice
            tmp = xp.empty((min(self.nb, n1 - n0), C, L), dtype=self.x3.dtype) \
                if scratch else None
            total = None
            for b0, b1 in _blocks(n0, n1, self.nb):
                part = fn(b0, b1, None if tmp is None else tmp[:b1 - b0])
                total = part if total is None else total + part
            return total
        parts = _slices(self.threads, self.N, self.x3.size, one_slice)
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return total

    def scale_shift(self, y3, a, c):
        """y3 = y3 * a + c in place (c may be None), slice by slice."""
        def one_slice(n0, n1):
            y = y3[n0:n1]
            y *= a
            if c is not None:
                y += c
        _slices(self.threads, self.N, y3.size, one_slice)

    def affine(self, terms, out):
        """out = sum of a3 * per-channel column over ``terms`` [(a3, col), ...] + const."""
        xp, C, L = self.xp, self.C, self.L
        (first, a), rest, const = terms[0], terms[1:-1], terms[-1]

        def one_slice(n0, n1):
            tmp = xp.empty((min(self.nb, n1 - n0), C, L), dtype=out.dtype)
            for b0, b1 in _blocks(n0, n1, self.nb):
                o = out[b0:b1]
                xp.multiply(first[b0:b1], a, out=o)
                for arr, col in rest:
                    t = tmp[:b1 - b0]
                    xp.multiply(arr[b0:b1], col, out=t)
                    o += t
                if const is not None:
                    o += const
        _slices(self.threads, self.N, out.size, one_slice)
        return out


def batch_norm_forward(xp, x3, weight, bias, eps, threads=None):
    """(y3, mean, var, invstd) of training-mode batch norm over axes 0 and 2 of ``x3``.

    y is centred in place block by block, its squares summed while the block is in cache,
    then scaled and shifted in place: (x - mean) * (invstd * w) + b. Whole slices, not
    blocks: blocking measured no faster here (einsum's per-call cost eats the gain)."""
    p = _Passes(xp, x3, threads, block_bytes=x3.nbytes)
    C, M = p.C, p.N * p.L
    dtype = x3.dtype
    mean = p.channel_sums(lambda b0, b1, tmp: p._row_sums(x3[b0:b1]), scratch=False) / M
    mean_col = mean.astype(dtype).reshape(C, 1)
    y3 = xp.empty_like(x3)

    def centre(b0, b1, tmp):
        y = xp.subtract(x3[b0:b1], mean_col, out=y3[b0:b1])
        return xp.einsum("ncl,ncl->c", y, y).astype(xp.float64)
    var = p.channel_sums(centre, scratch=False) / M
    invstd = 1.0 / xp.sqrt(var + eps)
    a = invstd if weight is None else invstd * weight
    p.scale_shift(y3, a.astype(dtype).reshape(C, 1),
                  None if bias is None else bias.astype(dtype).reshape(C, 1))
    return y3, mean.astype(dtype), var.astype(dtype), invstd.astype(dtype)


def batch_norm_backward(xp, g3, x3, mean, invstd, weight, need_x, threads=None):
    """(gx3 or None, gw, gb): gb = sum g, gw = sum g * xhat and
    gx = scale * (g - gb/M) - (x - mean) * scale * invstd * gw / M, scale = invstd * w."""
    p = _Passes(xp, x3, threads)
    C, M = p.C, p.N * p.L
    dtype = g3.dtype
    mean_col = mean.astype(dtype).reshape(C, 1)

    def sums(b0, b1, tmp):
        xp.subtract(x3[b0:b1], mean_col, out=tmp)
        tmp *= g3[b0:b1]
        return xp.concatenate([p._row_sums(tmp), p._row_sums(g3[b0:b1])])
    both = p.channel_sums(sums)
    gw = both[:C] * invstd
    gb = both[C:]
    gx3 = None
    if need_x:
        scale = invstd if weight is None else invstd * weight
        b = -scale * invstd * gw / M
        c = -scale * gb / M - mean * b
        gx3 = p.affine([(g3, scale.astype(dtype).reshape(C, 1)),
                        (x3, b.astype(dtype).reshape(C, 1)), c.astype(dtype).reshape(C, 1)],
                       xp.empty_like(g3))
    return gx3, gw.astype(dtype), gb.astype(dtype)
