"""Recurrent cells as fused ops: one node per step of a cell or of a packed layer.

A recurrent layer computes the input half of every gate for all time steps at once (one
GEMM, ``x @ W_ih^T + b_ih`` over the whole sequence, see ``ops.recurrent_layers``); each
step of a packed batch, and each call of an ``nn.*Cell``, then runs one cell op on its
slice ``gi`` of that projection and the previous state (``ops.recurrent_layers`` runs the
steps of equal-length sequences as one op with the same rules)::

    RNN   h' = tanh(gi + h W_hh^T + b_hh)            (or relu)
    GRU   r, z = sigmoid(gi_rz + gh_rz)   with gh = h W_hh^T + b_hh, gates ordered (r, z, n)
          n = tanh(gi_n + r * gh_n);   h' = n + z * (h - n)
    LSTM  i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (gi + h W_hh^T + b_hh)
          c' = f * c + i * g;   h' = (o * tanh(c')) [W_hr^T]      (W_hr: proj_size only)

The LSTM cell is one op with two outputs (h', c').

Each op's derivative is written once (``_rnn_grads``, ``_gru_grads``, ``_lstm_grads``) over
whatever supports ``+ - * @ .T .sum(0)``: ``backward_array`` runs it on arrays with the
activations forward kept (no graph, the fast path of ``loss.backward()``); ``backward``
recomputes the activations from the inputs with zerograd ops and runs it on tensors, so
its result is differentiable again (``create_graph=True``: double backward). ``jvp`` is the
forward-mode rule.

The wrappers ``rnn_tanh_cell``, ``rnn_relu_cell``, ``gru_cell`` and ``lstm_cell`` are
torch's functions of the same names (input, state, weights; torch's shape checks).
"""
from zerograd.autograd.function import Function
from zerograd.dtypes import scalar_type_name
from zerograd.ops.affine import linear
from zerograd.ops.creation import zeros_like
from zerograd.ops.join import cat, chunk

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "gru_cell", "lstm_cell"]


def _sigmoid_(xp, x):
    """sigmoid in place as 0.5 + 0.5 tanh(x / 2): no overflow for large |x|, and 3x faster
    than the exp form on NumPy."""
    x *= 0.5
    xp.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def _plus_hidden_product(xp, base, h, w):
    """``base + h @ w^T`` as a new C-ordered (B, G) array (``base``: (B, G), (G,) or None).

    The product is computed as ``(w @ h^T)^T``: with the small batch as the columns of the
    result OpenBLAS runs it up to 1.6x faster than ``h @ w^T`` (batch 32, hidden 256; MKL,
    torch's, runs both fast). Writing the sum into a C-ordered array keeps every later
    elementwise op of the step on one memory order (mixed orders are several times slower).
    """
    product = (w @ h.T).T
    if base is None:
        return xp.ascontiguousarray(product)
    out = xp.empty(product.shape, dtype=product.dtype)
    return xp.add(base, product, out=out)


def _cat_arrays(xp):
    return lambda parts: xp.concatenate(parts, axis=1)


def _cat_tensors(parts):
    return cat(parts, 1)


def _matmul_t(a, w):
    """``a @ w^T`` for tensors ``a`` (B, k) and ``w`` (n, k): linear without bias."""
    return linear(a, w, None)


def _sum_tangents(*terms):
    """The sum of the tangent terms that are present (None: an input without a tangent)."""
    out = None
    for t in terms:
        if t is not None:
            out = t if out is None else out + t
    return out


def _hidden_tangent(t_gi, t_h, t_whh, t_bhh, h, w_hh):
    """Tangent of ``gi + h W_hh^T + b_hh``; the tangents may be None, the result too."""
    return _sum_tangents(t_gi, None if t_h is None else _matmul_t(t_h, w_hh),
                         None if t_whh is None else _matmul_t(h, t_whh), t_bhh)


# -- the Elman cell (tanh or relu) ------------------------------------------------------------
def _rnn_grads(grad, deriv, h, w_hh, need):
    """d(gi, h, W_hh, b_hh) of ``act(gi + h W_hh^T + b_hh)``, ``deriv`` = act' there."""
    d = grad * deriv
    return (d if need[0] else None,
            d @ w_hh if need[1] else None,
            d.T @ h if need[2] else None,
            d.sum(0) if need[3] else None)


class RNNTanhCell(Function):
    """``tanh(gi + h W_hh^T + b_hh)`` for gi (B, H), h (B, H), W_hh (H, H), b_hh (H,)."""

    @staticmethod
    def forward(ctx, gi, h, w_hh, b_hh):
        pre = _plus_hidden_product(ctx.xp, gi, h, w_hh)
        if b_hh is not None:
            pre += b_hh
        out = ctx.xp.tanh(pre, out=pre)
        ctx.save_for_backward(h, w_hh, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        h, w_hh, out = ctx.saved_tensors
        return _rnn_grads(grad_output, 1 - out * out, h, w_hh, ctx.needs_input_grad)

    @staticmethod
    def backward_array(ctx, grad_output):
        h, w_hh, out = (t._data for t in ctx.saved_tensors)
        return _rnn_grads(grad_output, 1 - out * out, h, w_hh, ctx.needs_input_grad)

    @staticmethod
    def jvp(ctx, t_gi, t_h, t_whh, t_bhh):
        _, h, w_hh, _ = ctx.fw_inputs
        out = ctx.fw_output
        return _hidden_tangent(t_gi, t_h, t_whh, t_bhh, h, w_hh) * (1 - out * out)


class RNNReluCell(Function):
    """``relu(gi + h W_hh^T + b_hh)``; the derivative is 0 where the output is 0, as torch."""

    @staticmethod
    def forward(ctx, gi, h, w_hh, b_hh):
        pre = _plus_hidden_product(ctx.xp, gi, h, w_hh)
        if b_hh is not None:
            pre += b_hh
        out = ctx.xp.maximum(pre, 0, out=pre)
        ctx.save_for_backward(h, w_hh, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        h, w_hh, out = ctx.saved_tensors
        return _rnn_grads(grad_output, (out > 0).to(out.dtype), h, w_hh,
                          ctx.needs_input_grad)

    @staticmethod
    def backward_array(ctx, grad_output):
        h, w_hh, out = (t._data for t in ctx.saved_tensors)
        return _rnn_grads(grad_output, out > 0, h, w_hh, ctx.needs_input_grad)

    @staticmethod
    def jvp(ctx, t_gi, t_h, t_whh, t_bhh):
        _, h, w_hh, _ = ctx.fw_inputs
        out = ctx.fw_output
        return _hidden_tangent(t_gi, t_h, t_whh, t_bhh, h, w_hh) * (out > 0).to(out.dtype)


# -- GRU ----------------------------------------------------------------------------------------
def _gru_grads(cat, grad, r, z, n, gh_n, h, w_hh, need):
    """d(gi, h, W_hh, b_hh) of the GRU step from its activations r, z, n and ``gh_n``."""
    d_pre_n = grad * (1 - z) * (1 - n * n)
    d_pre_r = d_pre_n * gh_n * r * (1 - r)
    d_pre_z = grad * (h - n) * z * (1 - z)
    # r multiplies the hidden half of the n gate only: gh_n's gradient carries the factor r
    d_gh = cat([d_pre_r, d_pre_z, d_pre_n * r])
    return (cat([d_pre_r, d_pre_z, d_pre_n]) if need[0] else None,
            grad * z + d_gh @ w_hh if need[1] else None,
            d_gh.T @ h if need[2] else None,
            d_gh.sum(0) if need[3] else None)


def _gru_activations(gi, h, w_hh, b_hh):
    """r, z, n and gh_n of the GRU step, recomputed with differentiable ops."""
    gi_r, gi_z, gi_n = chunk(gi, 3, 1)
    gh_r, gh_z, gh_n = chunk(linear(h, w_hh, b_hh), 3, 1)
    r = (gi_r + gh_r).sigmoid()
    z = (gi_z + gh_z).sigmoid()
    n = (gi_n + r * gh_n).tanh()
    return r, z, n, gh_n


class GRUCell(Function):
    """One GRU step: gi (B, 3H), h (B, H), W_hh (3H, H), b_hh (3H,) -> h' (B, H)."""

    @staticmethod
    def forward(ctx, gi, h, w_hh, b_hh):
        xp = ctx.xp
        hidden = h.shape[1]
        gh = _plus_hidden_product(xp, b_hh, h, w_hh)
        rz = _sigmoid_(xp, gi[:, :2 * hidden] + gh[:, :2 * hidden])
        r, z = rz[:, :hidden], rz[:, hidden:]
        gh_n = gh[:, 2 * hidden:]
        n = gh_n * r
        n += gi[:, 2 * hidden:]
        xp.tanh(n, out=n)
        out = h - n
        out *= z
        out += n
        ctx.save_for_backward(gi, h, w_hh, b_hh, rz, n, gh_n)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        gi, h, w_hh, b_hh = ctx.saved_tensors[:4]
        r, z, n, gh_n = _gru_activations(gi, h, w_hh, b_hh)
        return _gru_grads(_cat_tensors, grad_output, r, z, n, gh_n, h, w_hh,
                          ctx.needs_input_grad)

    @staticmethod
    def backward_array(ctx, grad_output):
        _, h, w_hh, _, rz, n, gh_n = (None if t is None else t._data
                                      for t in ctx.saved_tensors)
        hidden = h.shape[1]
        return _gru_grads(_cat_arrays(ctx.xp), grad_output, rz[:, :hidden], rz[:, hidden:],
                          n, gh_n, h, w_hh, ctx.needs_input_grad)

    @staticmethod
    def jvp(ctx, t_gi, t_h, t_whh, t_bhh):
        gi, h, w_hh, b_hh = ctx.fw_inputs
        r, z, n, gh_n = _gru_activations(gi, h, w_hh, b_hh)
        t_gh = _hidden_tangent(None, t_h, t_whh, t_bhh, h, w_hh)
        t_gi = zeros_like(gi) if t_gi is None else t_gi
        t_gh = zeros_like(gi) if t_gh is None else t_gh
        ti_r, ti_z, ti_n = chunk(t_gi, 3, 1)
        th_r, th_z, th_n = chunk(t_gh, 3, 1)
        t_r = (ti_r + th_r) * r * (1 - r)
        t_z = (ti_z + th_z) * z * (1 - z)
        t_n = (ti_n + t_r * gh_n + r * th_n) * (1 - n * n)
        # h' = n + z (h - n)
        return _sum_tangents(t_n * (1 - z), t_z * (h - n), None if t_h is None else z * t_h)


# -- LSTM -----------------------------------------------------------------------------------------
def _lstm_grads(cat, grad_h, grad_c, i, f, g, o, c, tanh_c, h_pre, h, w_hh, w_hr, need):
    """d(gi, h, c, W_hh, b_hh, W_hr) of the LSTM step from its activations; ``h_pre`` is
    ``o * tanh(c')`` (the output before the projection W_hr)."""
    d_h_pre = grad_h if w_hr is None else grad_h @ w_hr
    d_c = grad_c + d_h_pre * o * (1 - tanh_c * tanh_c)
    d_gates = cat([d_c * g * i * (1 - i), d_c * c * f * (1 - f), d_c * i * (1 - g * g),
                   d_h_pre * tanh_c * o * (1 - o)])
    return (d_gates if need[0] else None,
            d_gates @ w_hh if need[1] else None,
            d_c * f if need[2] else None,
            d_gates.T @ h if need[3] else None,
            d_gates.sum(0) if need[4] else None,
            grad_h.T @ h_pre if need[5] else None)


def _lstm_activations(gi, h, c, w_hh, b_hh):
    """i, f, g, o, tanh(c') and o * tanh(c') of the LSTM step, with differentiable ops."""
    i, f, g, o = chunk(gi + linear(h, w_hh, b_hh), 4, 1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    tanh_c = (f * c + i * g).tanh()
    return i, f, g, o, tanh_c, o * tanh_c


class LSTMCell(Function):
    """One LSTM step: gi (B, 4H), h (B, P), c (B, H), W_hh (4H, P), b_hh (4H,), W_hr (P, H)
    or None (P = H) -> (h', c'). Gates ordered (i, f, g, o), as torch's weights."""

    @staticmethod
    def forward(ctx, gi, h, c, w_hh, b_hh, w_hr):
        xp = ctx.xp
        hidden = c.shape[1]
        act = _plus_hidden_product(xp, gi, h, w_hh)
        if b_hh is not None:
            act += b_hh
        # sigmoid over the whole (contiguous) block, then tanh into the g gate's columns:
        # faster than three ops on strided column blocks
        g = xp.tanh(act[:, 2 * hidden:3 * hidden])
        _sigmoid_(xp, act)
        act[:, 2 * hidden:3 * hidden] = g
        i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
        c_new = f * c
        c_new += i * g
        tanh_c = xp.tanh(c_new)
        h_pre = o * tanh_c
        h_new = h_pre if w_hr is None else h_pre @ w_hr.T
        ctx.save_for_backward(gi, h, c, w_hh, b_hh, w_hr, act, tanh_c, h_pre)
        return h_new, c_new

    @staticmethod
    def backward(ctx, grad_h, grad_c):
        gi, h, c, w_hh, b_hh, w_hr = ctx.saved_tensors[:6]
        i, f, g, o, tanh_c, h_pre = _lstm_activations(gi, h, c, w_hh, b_hh)
        return _lstm_grads(_cat_tensors, grad_h, grad_c, i, f, g, o, c, tanh_c, h_pre, h,
                           w_hh, w_hr, ctx.needs_input_grad)

    @staticmethod
    def backward_array(ctx, grad_h, grad_c):
        _, h, c, w_hh, _, w_hr, act, tanh_c, h_pre = (None if t is None else t._data
                                                       for t in ctx.saved_tensors)
        hidden = c.shape[1]
        i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
        return _lstm_grads(_cat_arrays(ctx.xp), grad_h, grad_c, i, f, g, o, c, tanh_c, h_pre,
                           h, w_hh, w_hr, ctx.needs_input_grad)

    @staticmethod
    def jvp(ctx, t_gi, t_h, t_c, t_whh, t_bhh, t_whr):
        gi, h, c, w_hh, b_hh, w_hr = ctx.fw_inputs
        i, f, g, o, tanh_c, h_pre = _lstm_activations(gi, h, c, w_hh, b_hh)
        t_gates = _hidden_tangent(t_gi, t_h, t_whh, t_bhh, h, w_hh)
        t_gates = zeros_like(gi) if t_gates is None else t_gates
        t_i, t_f, t_g, t_o = chunk(t_gates, 4, 1)
        t_i, t_f = t_i * i * (1 - i), t_f * f * (1 - f)
        t_g, t_o = t_g * (1 - g * g), t_o * o * (1 - o)
        t_c_new = _sum_tangents(t_f * c, None if t_c is None else f * t_c, t_i * g, i * t_g)
        t_h_pre = t_o * tanh_c + o * (1 - tanh_c * tanh_c) * t_c_new
        t_h_new = t_h_pre if w_hr is None else _sum_tangents(
            _matmul_t(t_h_pre, w_hr), None if t_whr is None else _matmul_t(h_pre, t_whr))
        return t_h_new, t_c_new


# -- torch's cell functions ------------------------------------------------------------------------
def _check_cell_args(input, hx, w_ih, w_hh):
    """torch's checks of a cell's input and state (``hx``: the state tensors)."""
    for t in (input,) + tuple(hx):
        if t.dtype is not w_ih.dtype:
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                               f"{scalar_type_name(t.dtype)} and "
                               f"{scalar_type_name(w_ih.dtype)}")
    if input.shape[1] != w_ih.shape[1]:
        raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected "
                           f"{w_ih.shape[1]}")
    for label, h in enumerate(hx):
        if input.shape[0] != h.shape[0]:
            raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{label} "
                               f"batch size {h.shape[0]}")
        if h.shape[1] != w_hh.shape[1]:
            raise RuntimeError(f"hidden{label} has inconsistent hidden_size: got {h.shape[1]}, "
                               f"expected {w_hh.shape[1]}")


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``tanh(input W_ih^T + b_ih + hx W_hh^T + b_hh)`` for a batch (B, input_size)."""
    _check_cell_args(input, (hx,), w_ih, w_hh)
    return RNNTanhCell.apply(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """``relu(input W_ih^T + b_ih + hx W_hh^T + b_hh)`` for a batch (B, input_size)."""
    _check_cell_args(input, (hx,), w_ih, w_hh)
    return RNNReluCell.apply(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step for a batch: the next hidden state (B, hidden_size)."""
    _check_cell_args(input, (hx,), w_ih, w_hh)
    return GRUCell.apply(linear(input, w_ih, b_ih), hx, w_hh, b_hh)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step for a batch: ``hx = (h, c)`` -> the tuple ``(h', c')``."""
    h, c = hx
    _check_cell_args(input, (h, c), w_ih, w_hh)
    return LSTMCell.apply(linear(input, w_ih, b_ih), h, c, w_hh, b_hh, None)
