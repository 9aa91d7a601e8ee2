"""3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3), with its adjoint.

For a 4x4 tile ``d`` of the (padded) input and a 3x3 filter ``g``, the 2x2 outputs of the
correlation are ``A^T [(G g G^T) * (B^T d B)] A`` (``*`` elementwise): 16 multiplications
where im2col's GEMM spends 36. Over channels the 16 products become 16 GEMMs,
``M[p] = U[p] @ V[p]`` with ``U = (G x G) w`` (O, C per position p) and ``V = (B^T x B^T) d``
(C, tiles): the multiply-adds are 4/9 of im2col's, and the transforms are small GEMMs
over the tiles (16x16, 4x16) that cost about what im2col's copies cost. Where the channel
counts make the GEMM the bulk, the conv runs faster: 1.3-1.6x forward and 1.0-1.7x
backward for 64-512 channels (BENCHMARKS.md, issue 16 session 4).

The backward is the exact adjoint of those steps, in one pass per block of samples:
``dM = (A x A) dY`` from the output gradient's 2x2 tiles, then ``dU += dM @ V^T`` (the weight
gradient, ``(G x G)^T dU`` at the end) and ``dV = U^T @ dM`` (the input gradient: its
4x4 tiles ``(B x B) dV`` added back where they overlap).

Numerically the transforms add and subtract a few values with weights 1 and 1/2: float32
results differ from im2col's by ~1e-6 relative (tests/backend/test_cpu_winograd.py).

Blocks of samples keep each block's tiles in cache; large batches split into one slice
per thread (``threads.split``), weight-gradient partials added in slice order, so the
same thread count gives the same bits.
"""
import numpy as np

from zerograd.backend.cpu import gemm, threads

_as_strided = np.lib.stride_tricks.as_strided
_BLOCK_TILES = 384  # tiles per block of samples: the GEMMs' width (measured best ~400)
_SPLIT_BLOCK_TILES = 768  # ... per thread when split: fewer NumPy calls queue for the GIL
_MIN_BLOCK_BYTES = 1 << 20  # ... or at least this much of transformed tiles (16 x C x tiles)
_BLOCK_BYTES = 4 << 20  # ... and at most this much
_CHUNK_BYTES = 4 << 20  # the weight gradient's per-block products, this much at a time
_TWO_PASS_BYTES = 4 << 20  # U and dU larger than this: gx and gw in separate passes
MIN_CHANNELS, MIN_WIDER = 32, 64  # channels (narrower side; wider side for the backward)

_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
_G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]], dtype=np.float64)
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)
# the transforms of flattened row-major tiles: V = TB @ d, U = TG @ g, Y = TA @ M
_TB, _TG, _TA = np.kron(_BT, _BT), np.kron(_G, _G), np.kron(_AT, _AT)


def applies(x, w, g, backward=False):
    """Whether conv(x, w) with geometry ``g`` runs here: 3x3, stride 1, no dilation, one
    group, float, and enough channels for the GEMMs to outweigh the transforms: 32 both
    sides, and 64 on one side for the backward or when the batch is split over threads
    (measured against im2col, 32 -> 32 channels at 28x28, batch 256: 1 thread forward
    68 -> 58 ms, backward 114 -> 118 ms; 2 threads forward 34 -> 39 ms -- the transforms'
    many small NumPy calls queue for the GIL)."""
    C, O = x.shape[1], w.shape[0]
    wider = backward or threads.threads_for(x.shape[0], x.size * 9) > 1
    return (g.kh == g.kw == 3 and g.sh == g.sw == 1 and g.dh == g.dw == 1 and
            g.groups == 1 and x.dtype in (np.float32, np.float64) and w.dtype == x.dtype and
            min(C, O) >= MIN_CHANNELS and (not wider or max(C, O) >= MIN_WIDER) and
            g.Ho >= 2 and g.Wo >= 2)


class _Tiles:
    """The tiling of one convolution: ``th x tw`` tiles of 2x2 outputs per sample, read
    from 4x4 windows at stride 2 of a zero-padded (.., Hq, Wq) plane."""

    def __init__(self, g, N, channels, dtype, slices):
        self.g = g
        self.th, self.tw = -(-g.Ho // 2), -(-g.Wo // 2)
        self.T = self.th * self.tw
        self.Hq, self.Wq = 2 * self.th + 2, 2 * self.tw + 2
        self.even = g.Ho % 2 == 0 and g.Wo % 2 == 0  # the tiles cover the output exactly
        self.dtype = dtype
        per_sample = 16 * channels * self.T * np.dtype(dtype).itemsize
        # enough tiles for wide GEMMs or 1 MB of them, whichever is more, within 4 MB
        tiles = _SPLIT_BLOCK_TILES if slices > 1 else _BLOCK_TILES
        most = _BLOCK_BYTES
        if slices > 1 and tiles * per_sample > self.T * most:
            # many channels: the 4 MB shared by the batch's slices, one per thread. A
            # block's transformed tiles and products are alive at once on every thread, at
            # the forward's end with all the activations (ResNet-18-small, 2 threads: peak
            # RSS +19 MB over im2col with 4 MB each, +6 MB with 2 MB; the step no slower).
            # Fewer channels keep the wide blocks: their many short NumPy calls queue for
            # the GIL (the conv stack's step 1% slower with 2 MB)
            most //= slices
        self.nb = max(1, min(N, max(1, tiles // self.T, min(_MIN_BLOCK_BYTES, most) // per_sample),
                             max(1, most // per_sample)))
        self.TB, self.TA = _TB.astype(dtype), _TA.astype(dtype)

    def input_transform(self, x, n0, n1, buf, positions=slice(None)):
        """V (16, C, m*T) = (B^T x B^T) d for the 4x4 windows of samples n0:n1 of x;
        ``buf`` the zeroed padded plane buffer (m, C, Hq, Wq), only its inner part written;
        only the rows ``positions`` of V when given.

        The windows are copied out (as im2col does, 16 offsets at stride 2) and transformed
        by one 16x16 GEMM (``gemm`` cuts it for OpenBLAS's small kernel). (B^T d B as 20
        adds of strided views, once per padded row and then down the tiles, measured
        1.45-2x slower: NumPy's stride-2 loops.)"""
        g = self.g
        m, C = n1 - n0, x.shape[1]
        buf[:, :, g.pt:g.pt + g.H, g.pl:g.pl + g.W] = x[n0:n1]
        sm, sc, sh, sw = buf.strides
        windows = _as_strided(buf, (4, 4, C, m, self.th, self.tw),
                              (sh, sw, sc, sm, 2 * sh, 2 * sw), writeable=False)
        d = np.ascontiguousarray(windows).reshape(16, -1)
        return gemm.matmul(self.TB[positions], d).reshape(-1, C, m * self.T)

    def padded_buffer(self, m, C):
        return np.zeros((m, C, self.Hq, self.Wq), dtype=self.dtype)

    def output_grad_transform(self, gy, n0, n1, buf, positions=slice(None)):
        """dM (16, O, m*T) = (A x A) dY from the 2x2 tiles of gy's samples n0:n1; ``buf`` a
        zeroed (2, 2, O, m, th, tw) buffer (the tiles past an odd edge stay 0); only the
        rows ``positions`` of dM when given."""
        O, m, th, tw = gy.shape[1], n1 - n0, self.th, self.tw
        if self.even:  # the four parities in one copy
            buf[...] = gy[n0:n1].reshape(m, O, th, 2, tw, 2).transpose(3, 5, 1, 0, 2, 4)
        else:
            for i in range(2):
                for j in range(2):
                    part = gy[n0:n1, :, i::2, j::2].transpose(1, 0, 2, 3)
                    buf[i, j, :, :, :part.shape[2], :part.shape[3]] = part
        dM = gemm.matmul(self.TA.T[positions], buf.reshape(4, -1))
        return dM.reshape(-1, O, m * self.T)

    def write_output(self, M, y, n0, n1, bias):
        """y[n0:n1] = A^T M A (+ bias), the 2x2 tiles cropped to (Ho, Wo)."""
        O, m = y.shape[1], n1 - n0
        Y = gemm.matmul(self.TA, M.reshape(16, -1)).reshape(2, 2, O, m, self.th, self.tw)
        # (one pass over all four parities through a 6-D view measured 1.5x slower: its
        # innermost axis is the column parity, 2 elements long)
        for i in range(2):
            for j in range(2):
                out = y[n0:n1, :, i::2, j::2]
                part = Y[i, j, :, :, :out.shape[2], :out.shape[3]].transpose(1, 0, 2, 3)
                if bias is None:
                    out[...] = part
                else:
                    np.add(part, bias, out=out)

    def add_input_grad(self, dV, gx, n0, n1):
        """gx[n0:n1] = the 4x4 tiles (B x B) dV added where they overlap, cropped to x.

        Tile (a, b) puts its offset (i, j) on padded pixel (2a + i, 2b + j), so a pixel of
        row parity i' takes offset i' of tile a and offset i' + 2 of tile a - 1: the rows
        are summed first as two shifted adds per parity (contiguous arrays), then the
        columns likewise, and each of the four parities is written to its strided quarter of
        gx (was 16 adds into strided slices of a padded buffer: 1.35x slower)."""
        g = self.g
        C, m, th, tw = gx.shape[1], n1 - n0, self.th, self.tw
        dd = gemm.matmul(self.TB.T, dV.reshape(16, -1)).reshape(4, 4, C, m, th, tw)
        # both row parities at once: rows[i] = dd[i] + dd[i + 2] shifted down one tile
        rows = np.empty((2, 4, C, m, th + 1, tw), dtype=self.dtype)
        rows[..., :th, :] = dd[:2]
        rows[..., th, :] = 0
        rows[..., 1:, :] += dd[2:]
        # then the columns: quarters[i, j] holds the padded pixels of parity (i, j)
        quarters = np.empty((2, 2, C, m, th + 1, tw + 1), dtype=self.dtype)
        quarters[..., :tw] = rows[:, :2]
        quarters[..., tw] = 0
        quarters[..., 1:] += rows[:, 2:]
        for i in range(2):
            h0 = (i - g.pt) % 2  # the first row of x with this parity in the padded plane
            a0 = (h0 + g.pt) // 2
            for j in range(2):
                w0 = (j - g.pl) % 2
                b0 = (w0 + g.pl) // 2
                out = gx[n0:n1, :, h0::2, w0::2]
                out[...] = quarters[i, j, :, :, a0:a0 + out.shape[2],
                                    b0:b0 + out.shape[3]].transpose(1, 0, 2, 3)


def _accumulate_products(acc, a, b):
    """acc += a @ b (batched over the 16 positions), a few positions at a time: the
    product of all 16 is a temporary as large as ``acc`` (16 MB for 512 x 512 channels),
    which raised ResNet-18-small's peak memory; chunks keep it near _CHUNK_BYTES."""
    per_position = acc[0].nbytes
    step = max(1, min(16, _CHUNK_BYTES // per_position))
    for p in range(0, 16, step):
        acc[p:p + step] += np.matmul(a[p:p + step], b[p:p + step])


def _filter_transform(w):
    """U (16, O, C) = (G x G) w."""
    O, C = w.shape[:2]
    return np.matmul(_TG.astype(w.dtype), w.reshape(O * C, 9).T).reshape(16, O, C)


def conv_forward(x, w, b, g):
    """y = conv2d(x, w) + b (3x3, stride 1, one group: ``applies``)."""
    N, C = x.shape[:2]
    O = w.shape[0]
    U = _filter_transform(w)
    work = x.size * 9
    tiles = _Tiles(g, N, max(C, O), x.dtype, threads.threads_for(N, work))
    y = np.empty((N, O, g.Ho, g.Wo), dtype=x.dtype)
    bias = None if b is None else b.reshape(O, 1, 1)

    def run(s0, s1):
        m_prev = None
        for n0 in range(s0, s1, tiles.nb):
            n1 = min(n0 + tiles.nb, s1)
            if n1 - n0 != m_prev:
                buf, m_prev = tiles.padded_buffer(n1 - n0, C), n1 - n0
            V = tiles.input_transform(x, n0, n1, buf)
            tiles.write_output(np.matmul(U, V), y, n0, n1, bias)
    threads.split(N, work, run)
    return y


def conv_backward(x, w, gy, g, need_x, need_w):
    """``(gx, gw)`` of y = conv2d(x, w) for upstream ``gy`` (None where not needed)."""
    if not need_x:
        return None, _weight_grad(x, gy, g) if need_w else None
    N, C = x.shape[:2]
    O = w.shape[0]
    if need_w and 16 * O * C * x.itemsize > _TWO_PASS_BYTES:
        # two passes over the blocks (the output gradient's tiles transformed twice): the
        # transformed filters U and the weight gradient's accumulator dU, each 16 x O x C,
        # are then never held at once (ResNet-18-small, 512x512 layers: peak RSS 675 -> 661
        # MB at 1 thread, 725 -> 705 at 2, the step no slower: 3.31 -> 3.24 s)
        return conv_backward(x, w, gy, g, True, False)[0], _weight_grad(x, gy, g)
    work = gy.size * 9
    tiles = _Tiles(g, N, max(C, O), x.dtype, threads.threads_for(N, work))
    Ut = _filter_transform(w).transpose(0, 2, 1)  # (16, C, O)
    gx = np.empty_like(x)

    def run(s0, s1):
        dU = np.zeros((16, O, C), dtype=x.dtype) if need_w else None
        m_prev = None
        for n0 in range(s0, s1, tiles.nb):
            n1 = min(n0 + tiles.nb, s1)
            m = n1 - n0
            if m != m_prev:
                gbuf = np.zeros((2, 2, O, m, tiles.th, tiles.tw), dtype=x.dtype)
                xbuf = tiles.padded_buffer(m, C) if need_w else None
                m_prev = m
            dM = tiles.output_grad_transform(gy, n0, n1, gbuf)
            if need_w:
                V = tiles.input_transform(x, n0, n1, xbuf)
                _accumulate_products(dU, dM, V.transpose(0, 2, 1))
            tiles.add_input_grad(np.matmul(Ut, dM), gx, n0, n1)
        return dU
    parts = threads.split(N, work, run)
    gw = None
    if need_w:
        dU = parts[0]
        for p in parts[1:]:
            dU += p  # slice order: the same thread count gives the same bits
        gw = _weight_grad_of(dU)
    return gx, gw


def _weight_grad_of(dU):
    """gw (O, C, 3, 3) = (G x G)^T dU, computed as dU^T TG so that it lands in (O, C, 3, 3)
    order at once."""
    _, O, C = dU.shape
    return np.matmul(dU.reshape(16, O * C).T, _TG.astype(dU.dtype)).reshape(O, C, 3, 3)


def _weight_grad(x, gy, g):
    """The weight gradient alone, split over threads by the 16 tile positions rather than
    by batch slices: each thread walks every block, transforms its tiles for its positions
    only and adds the products into its rows of the one dU (on one thread: all 16). Split
    by batch, each thread held a dU of its own (16 x O x C: 16 MB for 512 x 512 channels,
    peak RSS of ResNet-18-small +4% at 2 threads); this way the window copies are made
    twice instead (cheap next to the products on such layers). Each position's sum runs
    over the blocks in order, whatever the thread count."""
    N, C = x.shape[:2]
    O = gy.shape[1]
    tiles = _Tiles(g, N, max(C, O), x.dtype, slices=1)
    dU = np.zeros((16, O, C), dtype=x.dtype)

    def run(p0, p1):
        positions = slice(p0, p1)
        m_prev = None
        for n0 in range(0, N, tiles.nb):
            n1 = min(n0 + tiles.nb, N)
            m = n1 - n0
            if m != m_prev:
                gbuf = np.zeros((2, 2, O, m, tiles.th, tiles.tw), dtype=x.dtype)
                xbuf = tiles.padded_buffer(m, C)
                m_prev = m
            dM = tiles.output_grad_transform(gy, n0, n1, gbuf, positions)
            V = tiles.input_transform(x, n0, n1, xbuf, positions)
            _accumulate_products(dU[positions], dM, V.transpose(0, 2, 1))
    threads.split(16, gy.size * 9, run)
    return _weight_grad_of(dU)
