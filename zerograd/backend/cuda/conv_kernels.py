"""GPU kernels of 2-D convolution: whole-batch im2col, one cuBLAS GEMM, col2im by offsets.

The same three array functions as ``zerograd.backend.cpu.conv_kernels`` (the ops in
``zerograd.ops.conv`` call them through ``kernels.conv``), written for a GPU:

* **im2col is one strided copy.** ``as_strided`` views the zero-padded batch as
  (G, C/G, kh, kw, N, Ho, Wo) windows; copying that view into the column matrix is one
  elementwise kernel, and the product with the weights is one (batched over groups)
  cuBLAS GEMM. The CPU kernels' cache blocking buys nothing here: the batch is split only
  when the column matrix would exceed ``_COLUMN_BYTES`` of GPU memory.
* **col2im adds one strided slice per kernel offset** (kh*kw kernels, none per pixel, no
  atomics); with stride 1 the adjoint is instead a convolution with the flipped kernel,
  one more GEMM and no adds.

The functions take the array module from their inputs, so the same code runs on NumPy
arrays: the CPU tests compare it there with the CPU kernels (``tests/cuda``).
"""
from zerograd.backend.cpu.conv_kernels import ConvGeometry as _CPUGeometry, flipped_geometry
from zerograd.backend.cuda._xp import module_of

_COLUMN_BYTES = 512 << 20  # largest column matrix built at once; bigger batches are split


class ConvGeometry(_CPUGeometry):
    """The CPU geometry (sizes, padding per side) with a GPU-sized batch block."""

    __slots__ = ()

    def block(self, n, channels):
        per_sample = channels * self.kh * self.kw * self.Ho * self.Wo * 4
        return max(1, min(n, _COLUMN_BYTES // max(per_sample, 1)))


def _blocks(n, nb):
    for n0 in range(0, n, nb):
        yield n0, min(n0 + nb, n)


def _padded(xp, x, g):
    """(N, C, Hp, Wp): ``x`` inside its zero padding (``x`` itself when there is none)."""
    if g.pt == g.pb == g.pl == g.pr == 0:
        return xp.ascontiguousarray(x)
    N, C = x.shape[:2]
    buf = xp.zeros((N, C, g.Hp, g.Wp), dtype=x.dtype)
    buf[:, :, g.pt:g.pt + g.H, g.pl:g.pl + g.W] = x
    return buf


def _im2col(xp, xpad, g):
    """Columns (G, C/G*kh*kw, N*Ho*Wo) of a padded, C-contiguous (N, C, Hp, Wp) batch."""
    N, C = xpad.shape[:2]
    G = g.groups
    Cg = C // G
    s = xpad.itemsize
    plane = g.Hp * g.Wp
    view = xp.lib.stride_tricks.as_strided(
        xpad, (G, Cg, g.kh, g.kw, N, g.Ho, g.Wo),
        (Cg * plane * s, plane * s, g.dh * g.Wp * s, g.dw * s, C * plane * s,
         g.sh * g.Wp * s, g.sw * s))
    cols = xp.empty(view.shape, dtype=xpad.dtype)
    cols[...] = view
    return cols.reshape(G, Cg * g.kh * g.kw, N * g.Ho * g.Wo)


def _by_channel(xp, a, groups):
    """(N, O, Ho, Wo) -> (G, O/G, N*Ho*Wo): the layout of the GEMM's output."""
    N, O = a.shape[:2]
    return xp.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(groups, O // groups, -1)


def _add_bias(y, b):
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def conv_forward(x, w, b, g):
    """y = conv2d(x, w) + b for NCHW ``x`` and OIHW ``w`` (C/groups input channels per O)."""
    xp = module_of(x)
    N, C = x.shape[:2]
    O, G = w.shape[0], g.groups
    wmat = w.reshape(G, O // G, -1)
    y = xp.empty((N, O, g.Ho, g.Wo), dtype=x.dtype)
    for n0, n1 in _blocks(N, g.block(N, C)):
        cols = _im2col(xp, _padded(xp, x[n0:n1], g), g)
        out = xp.matmul(wmat, cols).reshape(O, n1 - n0, g.Ho, g.Wo)
        y[n0:n1] = out.transpose(1, 0, 2, 3)
    return _add_bias(y, b)


def _flipped_geometry(g):
    """Stride 1: the adjoint of a conv is a conv of gy with the flipped kernel ("full"
    correlation). Its geometry, or None when that would need negative padding."""
    return flipped_geometry(g, ConvGeometry) if g.wide else None


def conv_transpose_forward(gy, w, b, g):
    """The adjoint of ``conv_forward(., w)``: (N, O, Ho, Wo) -> (N, C, H, W), plus bias on C."""
    xp = module_of(gy)
    g2 = _flipped_geometry(g)
    if g2 is not None:
        G, O = g.groups, w.shape[0]
        Og, Cg = O // G, w.shape[1]
        w2 = w[:, :, ::-1, ::-1].reshape(G, Og, Cg, g.kh, g.kw).transpose(0, 2, 1, 3, 4)
        w2 = xp.ascontiguousarray(w2).reshape(G * Cg, Og, g.kh, g.kw)
        return conv_forward(gy, w2, b, g2)
    return _col2im_transpose(xp, gy, w, b, g)


def _col2im_transpose(xp, gy, w, b, g):
    N, O = gy.shape[:2]
    G, Cg = g.groups, w.shape[1]
    C = Cg * G
    wmat_t = w.reshape(G, O // G, -1).transpose(0, 2, 1)  # (G, Cg*kh*kw, O/G)
    x = xp.empty((N, C, g.H, g.W), dtype=gy.dtype)
    hs, ws = g.sh * (g.Ho - 1) + 1, g.sw * (g.Wo - 1) + 1
    for n0, n1 in _blocks(N, g.block(N, C)):
        m = n1 - n0
        dcols = xp.matmul(wmat_t, _by_channel(xp, gy[n0:n1], G))
        dcols = dcols.reshape(C, g.kh, g.kw, m, g.Ho, g.Wo)
        acc = xp.zeros((C, m, g.Hp, g.Wp), dtype=gy.dtype)
        for i in range(g.kh):
            for j in range(g.kw):
                r, c = i * g.dh, j * g.dw
                acc[:, :, r:r + hs:g.sh, c:c + ws:g.sw] += dcols[:, i, j]
        x[n0:n1] = acc[:, :, g.pt:g.pt + g.H, g.pl:g.pl + g.W].transpose(1, 0, 2, 3)
    return _add_bias(x, b)


def conv_weight_forward(x, gy, g):
    """The adjoint of ``conv_forward(x, .)``: sum over samples of gy (x) windows of x."""
    xp = module_of(x)
    N, C = x.shape[:2]
    O, G = gy.shape[1], g.groups
    gw = None
    for n0, n1 in _blocks(N, g.block(N, C)):
        cols = _im2col(xp, _padded(xp, x[n0:n1], g), g)  # (G, K, m*Ho*Wo)
        part = xp.matmul(_by_channel(xp, gy[n0:n1], G), cols.transpose(0, 2, 1))
        gw = part if gw is None else gw + part  # (G, O/G, K)
    return gw.reshape(O, C // G, g.kh, g.kw)
