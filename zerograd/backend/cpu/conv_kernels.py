"""NumPy kernels of 2-D convolution: im2col + one GEMM per block of samples, col2im by offsets.

Three array functions make a closed family (each one's derivatives are the other two, so
``zerograd.ops.conv`` can differentiate any number of times):

* ``conv_forward(x, w, b, g)``        y  = conv(x, w) + b
* ``conv_transpose_forward(gy, w, b, g)``  x-shaped: the adjoint of conv(., w) applied to gy
* ``conv_weight_forward(x, gy, g)``   w-shaped: the adjoint of conv(x, .) applied to gy

Why the code looks the way it does:

* **Blocks of samples.** The column matrix of a whole batch is large (a 32-channel 3x3
  layer on 28x28 images at batch 256 needs ~250 MB); writing it out and reading it back
  is memory-bound and page-faults on every fresh allocation. Processing ``nb`` samples at a
  time keeps the columns in cache (``_BLOCK_BYTES``), and the scratch buffers are reused
  from block to block. Each block is still one GEMM (a batched one over groups).
* **Wide rows for stride 1.** With the input zero-padded to ``Hp x Wp``, output ``(oh, ow)``
  reads pixel ``(oh*Wp + ow) + (i*dh*Wp + j*dw)`` of the flattened plane: one shift per
  kernel offset. Computing outputs on the full padded width (``Wp`` columns per row, the
  last ``Wp - Wo`` of them discarded) turns every column copy and every col2im add into a
  long contiguous run, several times faster than rows of ``Wo`` strided elements.
  The discarded columns of an upstream gradient are kept at zero, so they add nothing.
  Where the padded rows are much longer than the output's (``Wp >= 1.25 Wo``: LeNet's
  second conv, 14 for 10), the forward and weight gradient build compact columns instead,
  in two copies (``ConvGeometry.for_columns``).
* **col2im = a loop over the kernel offsets**, each adding one strided slice: no ``add.at``,
  no per-pixel work. On wide rows the ``kw`` shifts along a row are summed first, over the
  whole block in a few long calls, then the ``kh`` row shifts (``_col2im_wide``). With
  numba installed, ``compiled.col2im_wide`` does a block's col2im in one call instead, one
  (sample, channel) plane at a time in cache: 0.63-0.76x the time, and one GIL hand-off
  where the NumPy path makes a dozen.
* **Threads.** Large convolutions split the batch into one slice per thread
  (``threads.split``); each slice walks its own blocks with its own scratch buffers, and
  weight-gradient partials are added in slice order (same thread count, same bits).
  Within a slice the GEMM's pieces stay on the slice's thread (a nested split runs inline).
* **GEMM operands laid out for OpenBLAS's small kernel.** Skinny products (few channels)
  go through ``gemm``, which cuts them into pieces OpenBLAS's small-matrix kernel takes;
  whether it can depends on the operands' C/F order. The weight gradient lays gy out
  channels last where only that order lets it (``_channels_last_pays``).
* **One backward pass.** ``conv_backward`` gives gx and gw from one im2col of gy at
  stride 1 (``_fused_backward``).
* **Winograd for 3x3 stride 1 with many channels** (``winograd.py``): 4/9 of the
  multiply-adds; the forward, the first-order backward and the flipped conv of
  ``conv_transpose_forward`` go there when ``winograd.applies``.
"""

import copy

import numpy as np

from zerograd.backend.cpu import compiled, gemm, threads, winograd

_as_strided = np.lib.stride_tricks.as_strided
# Column-matrix bytes per block of samples: on one thread, what L2 holds (2 MB a core
# here; LeNet-d2l's step 23.7 -> 23.3 ms against 4 MB), split over threads twice that
# (fewer, longer NumPy calls: at 2 threads 2 MB made LeNet-d2l 19.1 -> 19.9 ms, the conv
# stack 218 -> 224 ms).
_BLOCK_BYTES, _SPLIT_BLOCK_BYTES = 2 << 20, 4 << 20
_FLIP_MIN_CHANNELS = 16  # fewer input channels make the flipped GEMM thin: col2im wins


class ConvGeometry:
    """Everything about one convolution x (N, C, H, W) -> y (N, O, Ho, Wo) except the arrays.

    Padding is per side (``pt, pb, pl, pr``) because ``padding='same'`` with an even
    kernel pads one more row at the bottom than at the top, like torch.
    """

    __slots__ = ("H", "W", "kh", "kw", "sh", "sw", "dh", "dw", "pt", "pb", "pl", "pr",
                 "groups", "Hp", "Wp", "Ho", "Wo", "wide")

    def __init__(self, H, W, kh, kw, stride, dilation, padding, groups, out_size=None):
        self.H, self.W, self.kh, self.kw = H, W, kh, kw
        (self.sh, self.sw), (self.dh, self.dw) = stride, dilation
        self.pt, self.pb, self.pl, self.pr = padding
        self.groups = groups
        self.Hp, self.Wp = H + self.pt + self.pb, W + self.pl + self.pr
        if out_size is None:
            out_size = ((self.Hp - self.dh * (kh - 1) - 1) // self.sh + 1,
                        (self.Wp - self.dw * (kw - 1) - 1) // self.sw + 1)
        self.Ho, self.Wo = out_size
        self.wide = self.sh == 1 and self.sw == 1

    @property
    def _cols_w(self):
        """Columns per output row in the column matrix: the padded width for wide rows."""
        return self.Wp if self.wide else self.Wo

    @property
    def _tail(self):
        # Wide windows of the last row run (kw-1)*dw elements past the end of a plane.
        return (self.kw - 1) * self.dw if self.wide else 0

    def for_columns(self):
        """The geometry a forward's or weight gradient's im2col lays its columns out by: this
        one, or for stride 1 with padded rows much longer than the output's (``Wp >=
        1.25 Wo``) a copy on compact rows. Wide rows make the GEMM compute and the copies
        carry the ``Wp - Wo`` discarded columns; compact columns are built in two copies
        (``_im2col``). Measured on LeNet's second conv (6 -> 16 channels, 5x5 on 14x14,
        Wp/Wo = 1.4, batch 256, 1 thread): forward 3.5 -> 3.0 ms. (The input gradient keeps
        wide rows: its col2im adds long runs on them.)"""
        if not self.wide or 4 * self.Wp < 5 * self.Wo:
            return self
        compact = copy.copy(self)
        compact.wide = False
        return compact

    def block(self, n, channels, split=False):
        """How many samples to process at once so one block's columns stay in cache
        (``split``: the batch is split over threads)."""
        per_sample = channels * self.kh * self.kw * self.Ho * self._cols_w * 4  # float32
        most = _SPLIT_BLOCK_BYTES if split else _BLOCK_BYTES
        return max(1, min(n, most // max(per_sample, 1)))


def _padded_buffer(nb, C, g, dtype):
    """Zeroed (nb, C, Hp, Wp) plane buffer (plus tail) and the view to write samples into."""
    plane = g.Hp * g.Wp
    flat = np.zeros(nb * C * plane + g._tail, dtype=dtype)
    padded = flat[:nb * C * plane].reshape(nb, C, g.Hp, g.Wp)
    inner = padded[:, :, g.pt:g.pt + g.H, g.pl:g.pl + g.W]
    return flat, inner


def _im2col(flat, nb, C, g, out):
    """Copy the windows of ``nb`` padded samples into ``out`` (G, C/G*kh*kw, nb*Ho*cols_w)."""
    if not g.wide and g.sh == 1 and g.sw == 1:
        return _im2col_compact(flat, nb, C, g, out)
    s = flat.itemsize
    plane = g.Hp * g.Wp
    G = g.groups
    Cg = C // G
    view = _as_strided(
        flat, (G, Cg, g.kh, g.kw, nb, g.Ho, g._cols_w),
        (Cg * plane * s, plane * s, g.dh * g.Wp * s, g.dw * s, C * plane * s,
         g.sh * g.Wp * s, g.sw * s), writeable=False)
    np.copyto(out.reshape(view.shape), view)
    return out


def _im2col_compact(flat, nb, C, g, out):
    """``_im2col`` for stride 1 on compact rows (``ConvGeometry.for_columns``) in two copies:
    first the ``kw`` column shifts of every padded row, (C, kw, nb, Hp, Wo), in runs of
    ``Wo``; then each window offset's rows of a sample, one run of ``Ho*Wo``. One copy in
    runs of ``Wo`` took 1.4x as long (LeNet's second conv, Wo = 10)."""
    s = flat.itemsize
    plane = g.Hp * g.Wp
    shifted = np.empty((C, g.kw, nb, g.Hp, g.Wo), dtype=flat.dtype)
    np.copyto(shifted, _as_strided(flat, shifted.shape,
                                   (plane * s, g.dw * s, C * plane * s, g.Wp * s, s),
                                   writeable=False))
    rows = g.Hp * g.Wo
    view = _as_strided(shifted, (C, g.kh, g.kw, nb, g.Ho * g.Wo),
                       (g.kw * nb * rows * s, g.dh * g.Wo * s, nb * rows * s, rows * s, s),
                       writeable=False)
    np.copyto(out.reshape(view.shape), view)
    return out


def _blocks(n, nb, start=0):
    for n0 in range(start, n, nb):
        yield n0, min(n0 + nb, n)


def _by_slices(N, work, run):
    """run(s0, s1) on batch slices, one per thread (``threads.split``): each slice walks
    its own blocks with its own scratch buffers; results in slice order."""
    return threads.split(N, work, run)


def _is_split(N, work):
    return threads.threads_for(N, work) > 1


def _sum_in_order(parts):
    total = parts[0]
    for p in parts[1:]:
        total += p  # a fixed order: the same thread count gives the same bits
    return total


def _gy_block(gy, n0, n1, g, buf):
    """Upstream gradient of samples n0:n1 laid out (O, m, Ho, cols_w), the layout of the
    GEMM output; the discarded wide columns stay 0 (``buf`` is reused between blocks)."""
    m = n1 - n0
    O = gy.shape[1]
    if buf is None or buf.shape[1] != m:
        buf = np.zeros((O, m, g.Ho, g._cols_w), dtype=gy.dtype)
    buf[:, :, :, :g.Wo] = gy[n0:n1].transpose(1, 0, 2, 3)
    return buf


def conv_forward(x, w, b, g):
    """y = conv2d(x, w) + b for NCHW ``x`` and OIHW ``w`` (C/groups input channels per O)."""
    if winograd.applies(x, w, g):  # 3x3 stride 1 with many channels
        return winograd.conv_forward(x, w, b, g)
    g = g.for_columns()
    N, C = x.shape[:2]
    O = w.shape[0]
    G = g.groups
    wmat = w.reshape(G, O // G, -1)
    y = np.empty((N, O, g.Ho, g.Wo), dtype=x.dtype)
    work = x.size * g.kh * g.kw
    nb = g.block(N, C, _is_split(N, work))
    bias = None if b is None else b.reshape(O, 1, 1)

    def run(s0, s1):
        m_prev = None
        for n0, n1 in _blocks(s1, nb, s0):
            m = n1 - n0
            if m != m_prev:  # first or last, smaller block
                flat, inner = _padded_buffer(m, C, g, x.dtype)
                cols = np.empty((G, wmat.shape[2], m * g.Ho * g._cols_w), dtype=x.dtype)
                m_prev = m
            inner[...] = x[n0:n1]
            _im2col(flat, m, C, g, cols)
            out = _gemm_nchw(wmat, cols, m, g.Ho, g._cols_w, g.Wo)
            if bias is None:
                y[n0:n1] = out
            else:
                np.add(out, bias, out=y[n0:n1])
    _by_slices(N, work, run)
    return y


def _matmul(a, b):
    """Batched (G, m, k) @ (G, k, n): one group (the common case) through ``gemm``, which
    cuts skinny products into the pieces OpenBLAS runs fastest (LeNet's 6-channel layers)."""
    if a.shape[0] == 1:
        return gemm.matmul(a[0], b[0])[None]
    return np.matmul(a, b)


def _gemm_nchw(wmat, cols, m, rows, cols_w, width):
    """wmat (G, Og, K) @ cols (G, K, m*rows*cols_w) as an (m, G*Og, rows, width) view.

    (Running it as cols^T @ wmat^T, the long pixel axis as the GEMM's M, with a
    channels-last result, measured -13% to +11% per layer on LeNet's and the conv
    stack's shapes, within this machine's noise: not kept.)"""
    G, Og = wmat.shape[:2]
    out = _matmul(wmat, cols).reshape(G * Og, m, rows, cols_w)[:, :, :, :width]
    return out.transpose(1, 0, 2, 3)


def flipped_geometry(g, geometry=None):
    """For stride 1, the adjoint of a conv is a conv of gy with the flipped kernel ("full"
    correlation): the geometry of that conv (of class ``geometry``, a backend's own subclass),
    or None when it would need negative padding."""
    extra_h = g.Hp - (g.Ho + g.dh * (g.kh - 1))  # rows no window reaches (output_padding)
    extra_w = g.Wp - (g.Wo + g.dw * (g.kw - 1))
    pads = (g.dh * (g.kh - 1) - g.pt, g.dh * (g.kh - 1) - g.pb + extra_h,
            g.dw * (g.kw - 1) - g.pl, g.dw * (g.kw - 1) - g.pr + extra_w)
    if min(pads) < 0:
        return None
    return (geometry or ConvGeometry)(g.Ho, g.Wo, g.kh, g.kw, (1, 1), (g.dh, g.dw), pads,
                                      g.groups)


def conv_transpose_forward(gy, w, b, g):
    """The adjoint of ``conv_forward(., w)``: (N, O, Ho, Wo) -> (N, C, H, W), plus bias on C.

    Stride 1 with many channels runs as a forward conv with the flipped, channel-swapped
    kernel: its GEMM has the long O*kh*kw reduction and needs no col2im adds. The rest
    use col2im.
    """
    # Few output channels make the flipped GEMM thin (M = C/groups): col2im wins there.
    g2 = flipped_geometry(g) if g.wide and w.shape[1] >= _FLIP_MIN_CHANNELS else None
    if g2 is not None:
        G, O = g.groups, w.shape[0]
        Og, Cg = O // G, w.shape[1]
        w2 = w[:, :, ::-1, ::-1].reshape(G, Og, Cg, g.kh, g.kw).transpose(0, 2, 1, 3, 4)
        w2 = np.ascontiguousarray(w2).reshape(G * Cg, Og, g.kh, g.kw)
        return conv_forward(gy, w2, b, g2)
    return _col2im_transpose(gy, w, b, g)


def _col2im_transpose(gy, w, b, g):
    N, O = gy.shape[:2]
    G = g.groups
    Cg = w.shape[1]
    C = Cg * G
    wmat_t = w.reshape(G, O // G, -1).transpose(0, 2, 1)  # (G, Cg*kh*kw, O/G)
    x = np.empty((N, C, g.H, g.W), dtype=gy.dtype)
    work = gy.size * g.kh * g.kw
    nb = g.block(N, C, _is_split(N, work))
    bias = None if b is None else b.reshape(C, 1, 1)

    def run(s0, s1):
        gbuf = scratch = plane = None
        for n0, n1 in _blocks(s1, nb, s0):
            m = n1 - n0
            gbuf = _gy_block(gy, n0, n1, g, gbuf)
            dcols = _matmul(wmat_t, gbuf.reshape(G, O // G, -1))
            if g.wide and compiled.col2im_applies(dcols, x):
                # one compiled pass per block, plane by plane in cache (the NumPy path
                # below: kw + kh strided adds over the block, then the NCHW copy)
                plane = compiled.col2im_wide(dcols.reshape(C, g.kh, g.kw, -1), g, b, x, n0,
                                             m, plane)
                continue
            dcols = dcols.reshape(C, g.kh, g.kw, m, g.Ho, g._cols_w)
            if g.wide:
                if scratch is None or scratch[0].shape[1] != m:
                    scratch = _col2im_wide_buffers(C, m, g, gy.dtype)
                acc = _col2im_wide(dcols.reshape(C, g.kh, g.kw, -1), m, g, *scratch)
            else:
                acc = np.zeros((C, m, g.Hp, g.Wp), dtype=gy.dtype)
                hs, ws = g.sh * (g.Ho - 1) + 1, g.sw * (g.Wo - 1) + 1
                for i in range(g.kh):
                    for j in range(g.kw):
                        r, c = i * g.dh, j * g.dw
                        acc[:, :, r:r + hs:g.sh, c:c + ws:g.sw] += dcols[:, i, j]
            out = acc[:, :, g.pt:g.pt + g.H, g.pl:g.pl + g.W].transpose(1, 0, 2, 3)
            if bias is None:
                x[n0:n1] = out
            else:
                np.add(out, bias, out=x[n0:n1])
    _by_slices(N, work, run)
    return x


def _col2im_wide_buffers(C, m, g, dtype):
    """The accumulator (C, m, Hp*Wp + tail) and row sums (C, kh, m*Ho*Wp) of
    ``_col2im_wide``."""
    return (np.empty((C, m, g.Hp * g.Wp + g._tail), dtype=dtype),
            np.empty((C, g.kh, m * g.Ho * g.Wp), dtype=dtype))


def _col2im_wide(dcols, m, g, acc, row_sums):
    """The padded planes (C, m, Hp, Wp) that the columns ``dcols`` (C, kh, kw, m*Ho*Wp) of
    ``m`` samples on wide rows add up to, in two stages: the ``kw`` shifts along a row
    summed first, for all ``kh`` kernel rows and the whole block at once (the row's
    discarded columns are zero, so a shift never carries a value into the next row or
    sample), then the ``kh`` row shifts, a run of ``Ho*Wp`` per sample. Adding all
    ``kh*kw`` shifts per sample took 1.5x as long (LeNet's second conv, 25 shifts of
    140-element runs); summing the row shifts one kernel row at a time, 3x as many calls
    of a fifth the size, ran no faster on 2 threads than on 1 (LeNet's second conv: the
    threads' short calls hand the GIL back and forth).

    ``acc`` and ``row_sums`` are ``_col2im_wide_buffers``, reused from block to block."""
    C = dcols.shape[0]
    span = g.Ho * g.Wp
    length = m * span
    plane = g.Hp * g.Wp
    row_sums[...] = dcols[:, :, 0]
    for j in range(1, g.kw):
        shift = j * g.dw
        row_sums[:, :, shift:] += dcols[:, :, j, :length - shift]
    acc.fill(0)
    for i in range(g.kh):
        o = i * g.dh * g.Wp
        acc[:, :, o:o + span] += row_sums[:, i].reshape(C, m, span)
    return acc[:, :, :plane].reshape(C, m, g.Hp, g.Wp)


def conv_weight_forward(x, gy, g):
    """The adjoint of ``conv_forward(x, .)``: sum over samples of gy (x) windows of x."""
    g = g.for_columns()
    N, C = x.shape[:2]
    O = gy.shape[1]
    G = g.groups
    K = C // G * g.kh * g.kw
    work = x.size * g.kh * g.kw
    nb = g.block(N, C, _is_split(N, work))
    last = _channels_last_pays(K, nb * g.Ho * g._cols_w, O, G, x.dtype)

    def run(s0, s1):
        gw = np.zeros((G, K, O // G), dtype=x.dtype)
        gbuf, m_prev = None, None
        for n0, n1 in _blocks(s1, nb, s0):
            m = n1 - n0
            if m != m_prev:
                flat, inner = _padded_buffer(m, C, g, x.dtype)
                cols = np.empty((G, K, m * g.Ho * g._cols_w), dtype=x.dtype)
                m_prev = m
            inner[...] = x[n0:n1]
            _im2col(flat, m, C, g, cols)
            if last:
                gbuf = _gy_block_last(gy, n0, n1, g, gbuf)
                gw += _matmul(cols, gbuf.reshape(1, -1, O))
            else:
                gbuf = _gy_block(gy, n0, n1, g, gbuf)
                # (K, cols) @ (cols, O/G) runs faster in OpenBLAS than the transposed product
                gw += _matmul(cols, gbuf.reshape(G, O // G, -1).transpose(0, 2, 1))
        return gw
    gw = _sum_in_order(_by_slices(N, work, run))
    return gw.transpose(0, 2, 1).reshape(O, C // G, g.kh, g.kw)


def _channels_last_pays(K, pixels, O, G, dtype):
    """Whether the weight gradient's GEMM (K, pixels) @ (pixels, O) should take gy laid out
    channels last (C order) instead of (O, pixels) (F order): where only the C order lets
    ``gemm`` cut it into small-kernel pieces. Measured (1 thread): LeNet's 16-channel conv,
    150x6860 @ 6860x16, 462 -> 351 us, its channels-last copy of gy 38 -> 30 us; ResNet's
    1x1 stride-2 shortcut, 32x32732 @ 32732x64, 2150 -> 1270 us, the copy 680 -> 880 us
    (a block of 167 samples)."""
    if G != 1:
        return False
    itemsize = np.dtype(dtype).itemsize
    return (gemm.plan(K, pixels, O, "C", "C", itemsize) is not None and
            gemm.plan(K, pixels, O, "C", "F", itemsize) is None)


def _gy_block_last(gy, n0, n1, g, buf):
    """``_gy_block`` laid out channels last, (m, Ho, cols_w, O)."""
    m = n1 - n0
    if buf is None or buf.shape[0] != m:
        buf = np.zeros((m, g.Ho, g._cols_w, gy.shape[1]), dtype=gy.dtype)
    buf[:, :, :g.Wo] = gy[n0:n1].transpose(0, 2, 3, 1)
    return buf


def conv_backward(x, w, gy, g, need_x, need_w):
    """``(gx, gw)`` of y = conv(x, w) for upstream ``gy`` (None where not needed): the
    first-order backward. Stride 1 with many channels takes both from one im2col of gy
    (``_fused_backward``); otherwise gx is the transposed conv and gw a second im2col of x.
    (Keeping the forward's columns instead was measured 2x slower on LeNet: they leave the
    cache and their fresh memory page-faults, while im2col of a block stays in cache.)"""
    if winograd.applies(x, w, g, backward=True):
        return winograd.conv_backward(x, w, gy, g, need_x, need_w)
    g2 = flipped_geometry(g) if g.wide and w.shape[1] >= _FLIP_MIN_CHANNELS else None
    if need_x and need_w and g2 is not None:
        return _fused_backward(x, w, gy, g, g2)
    gx = conv_transpose_forward(gy, w, None, g) if need_x else None
    gw = conv_weight_forward(x, gy, g) if need_w else None
    return gx, gw


def _fused_backward(x, w, gy, g, g2):
    """gx and gw from one im2col of gy per block (stride 1).

    gx is the conv of gy with the flipped kernel (geometry ``g2``): gx = w2 @ cols2.
    Its columns pair each x pixel (n, h, w) with the gy values of every window holding
    it, cols2[(o, i, j), (n, h, w)] = gy[n, o, h + pt - (kh-1-i)*dh, ...], so the weight
    gradient gw[o, c, kh-1-i, kw-1-j] = cols2 @ x^T reads x laid out once on the same wide
    rows (zeros in the discarded columns) instead of a second, kh*kw times larger, im2col.
    """
    N, C = x.shape[:2]
    O = w.shape[0]
    G = g.groups
    Og, Cg = O // G, C // G
    kk = g.kh * g.kw
    w2 = w[:, :, ::-1, ::-1].reshape(G, Og, Cg, kk).transpose(0, 2, 1, 3)
    w2mat = np.ascontiguousarray(w2).reshape(G, Cg, Og * kk)
    gx = np.empty((N, C, g.H, g.W), dtype=gy.dtype)
    work = gy.size * kk
    nb = g2.block(N, O, _is_split(N, work))
    wide = g2._cols_w

    def run(s0, s1):
        gwf = np.zeros((G, Og * kk, Cg), dtype=gy.dtype)
        m_prev = None
        for n0, n1 in _blocks(s1, nb, s0):
            m = n1 - n0
            if m != m_prev:
                flat, inner = _padded_buffer(m, O, g2, gy.dtype)
                cols = np.empty((G, Og * kk, m * g.H * wide), dtype=gy.dtype)
                xw = np.zeros((C, m, g.H, wide), dtype=x.dtype)
                m_prev = m
            inner[...] = gy[n0:n1]
            _im2col(flat, m, O, g2, cols)
            gx[n0:n1] = _gemm_nchw(w2mat, cols, m, g.H, wide, g.W)
            xw[:, :, :, :g.W] = x[n0:n1].transpose(1, 0, 2, 3)
            gwf += _matmul(cols, xw.reshape(G, Cg, -1).transpose(0, 2, 1))
        return gwf
    gwf = _sum_in_order(_by_slices(N, work, run))
    gw = gwf.reshape(G, Og, g.kh, g.kw, Cg)[:, :, ::-1, ::-1].transpose(0, 1, 4, 2, 3)
    return gx, np.ascontiguousarray(gw).reshape(O, Cg, g.kh, g.kw)
