"""The time steps of one recurrent layer: a whole sequence as one node.

A layer computes the input half of every gate for all steps at once (one GEMM,
``x @ W_ih^T + b_ih``, in ``scan_layer``). The steps then run in one of two ways:

* a batch of equal-length sequences (the common case: language models, seq2seq) runs as
  one layer op (``RNNLayer``, ``GRULayer``, ``LSTMLayer``) whose forward loops over the
  steps into preallocated buffers and whose array-level backward (``loss.backward()``)
  runs backpropagation through time keeping only each step's gate gradients: the weight
  gradients are then ONE GEMM over all steps, ``dW_hh = sum_t dgates_t^T h_{t-1}``, and the
  bias gradient one sum, instead of a small GEMM and a full-size addition per step;
* a packed batch (the batch shrinks as sequences end) runs one fused cell op of
  ``zerograd.ops.recurrent`` per step (``SplitRows`` hands each step its slice).

The layer ops' differentiable ``backward`` (``create_graph=True``: double backward) and
``jvp`` are the cells' own rules applied step by step on tensors, so both ways share one
derivative. Each op takes the projection ``gi`` (T * B, G) of a time-major sequence, the
initial state, the hidden weights and ``reverse`` (run from the last step to the first)
and returns the outputs (T * B, hidden) in time order and the final state.
"""
import types

from zerograd.autograd.function import Function
from zerograd.ops.affine import linear
from zerograd.ops.creation import zeros_like
from zerograd.ops.join import cat
from zerograd.ops.recurrent import (GRUCell, LSTMCell, RNNReluCell, RNNTanhCell, _cat_tensors,
                                    _gru_activations, _gru_grads, _lstm_activations,
                                    _lstm_grads, _rnn_grads, _sigmoid_)

__all__ = []  # internal: the layers of nn.RNN, nn.GRU and nn.LSTM


def _steps(steps, reverse):
    """The time indices in the order a layer visits them."""
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _slots(reverse):
    """(previous, new) offsets of a step's states in a (T + 1, ...) state buffer: time t
    reads slot t and writes t + 1 going forward, reads t + 1 and writes t in reverse, so the
    previous states of all steps are one contiguous block either way."""
    return (1, 0) if reverse else (0, 1)


def _hidden_product(h, w):
    """``h @ w^T`` computed as ``(w @ h^T)^T`` (a view, Fortran-ordered): with the small
    batch as the columns OpenBLAS runs it up to 1.6x faster (batch 32, hidden 256)."""
    return (w @ h.T).T


def _back_product(d, w):
    """``d @ w`` computed as ``(w^T @ d^T)^T``, the faster OpenBLAS orientation."""
    return (w.T @ d.T).T


def _weight_grads(dgates, prev, need_w, need_b):
    """The hidden weight and bias gradients of all steps at once: one GEMM, one sum."""
    return (dgates.T @ prev if need_w else None,
            dgates.sum(0) if need_b else None)


# -- the Elman layer --------------------------------------------------------------------------
class RNNLayer(Function):
    """``h_t = act(gi_t + h_{t-1} W_hh^T + b_hh)`` over all steps; ``relu`` picks relu
    instead of tanh. Outputs (all h_t, h_T)."""

    @staticmethod
    def forward(ctx, gi, h0, w_hh, b_hh, reverse=False, relu=False):
        xp = ctx.xp
        batch, hidden = h0.shape
        steps = gi.shape[0] // batch
        prev_slot, new_slot = _slots(reverse)
        pre = gi.reshape(steps, batch, hidden)
        hs = xp.empty((steps + 1, batch, hidden), dtype=gi.dtype)
        hs[steps if reverse else 0] = h0
        for t in _steps(steps, reverse):
            out = hs[t + new_slot]
            xp.add(pre[t], _hidden_product(hs[t + prev_slot], w_hh), out=out)
            if b_hh is not None:
                out += b_hh
            if relu:
                xp.maximum(out, 0, out=out)
            else:
                xp.tanh(out, out=out)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(gi, h0, w_hh, b_hh, hs)
        ctx.reverse, ctx.relu = reverse, relu
        outputs = hs[:steps] if reverse else hs[1:]
        return outputs.reshape(steps * batch, hidden).copy(), hs[0 if reverse else steps].copy()

    @staticmethod
    def backward_array(ctx, grad_out, grad_h):
        xp = ctx.xp
        _, h0, w_hh, _, hs = (None if t is None else t._data for t in ctx.saved_tensors)
        batch, hidden = h0.shape
        steps = hs.shape[0] - 1
        reverse = ctx.reverse
        prev_slot, new_slot = _slots(reverse)
        grad_out = None if grad_out is None else grad_out.reshape(steps, batch, hidden)
        dpre = xp.empty((steps, batch, hidden), dtype=hs.dtype)
        dh = None if grad_h is None else grad_h
        for t in reversed(_steps(steps, reverse)):
            d = dpre[t]
            if grad_out is None:
                d[...] = 0 if dh is None else dh
            elif dh is None:
                d[...] = grad_out[t]
            else:
                xp.add(grad_out[t], dh, out=d)
            out = hs[t + new_slot]
            if ctx.relu:
                d *= out > 0
            else:
                d *= 1 - out * out
            dh = _back_product(d, w_hh)
        need = ctx.needs_input_grad
        flat = dpre.reshape(steps * batch, hidden)
        prev = hs[1:] if reverse else hs[:steps]
        dw, db = _weight_grads(flat, prev.reshape(steps * batch, hidden), need[2], need[3])
        return (flat if need[0] else None, xp.ascontiguousarray(dh) if need[1] else None,
                dw, db)

    @staticmethod
    def backward(ctx, grad_out, grad_h):
        gi, h0, w_hh, b_hh = ctx.saved_tensors[:4]
        need = ctx.needs_input_grad
        act = "relu" if ctx.relu else "tanh"
        states = _replay(ctx, gi, h0.shape[0], (h0,), lambda g, s: (
            getattr(linear(s[0], w_hh, b_hh) + g, act)(),))
        derivs = [(s[0] > 0).to(s[0].dtype) if ctx.relu else 1 - s[0] * s[0]
                  for s in states[1:]]
        grads = _bptt(ctx, gi, grad_out, (grad_h,), states, lambda k, dstate: _rnn_grads(
            dstate[0], derivs[k], states[k][0], w_hh, (True, True) + tuple(need[2:4])))
        return grads[0], grads[1][0], grads[2], grads[3]

    @staticmethod
    def jvp(ctx, t_gi, t_h0, t_whh, t_bhh):
        cell = RNNReluCell if ctx.fw_kwargs.get("relu") else RNNTanhCell
        return _jvp_by_steps(ctx, cell, t_gi, (t_h0,), (t_whh, t_bhh))


# -- GRU ----------------------------------------------------------------------------------------
class GRULayer(Function):
    """GRU steps (gates r, z, n as torch) over all steps. Outputs (all h_t, h_T)."""

    @staticmethod
    def forward(ctx, gi, h0, w_hh, b_hh, reverse=False):
        xp = ctx.xp
        batch, hidden = h0.shape
        steps = gi.shape[0] // batch
        prev_slot, new_slot = _slots(reverse)
        gi3 = gi.reshape(steps, batch, 3 * hidden)
        hs = xp.empty((steps + 1, batch, hidden), dtype=gi.dtype)
        hs[steps if reverse else 0] = h0
        rz = xp.empty((steps, batch, 2 * hidden), dtype=gi.dtype)
        gh_n = xp.empty((steps, batch, hidden), dtype=gi.dtype)
        n = xp.empty((steps, batch, hidden), dtype=gi.dtype)
        for t in _steps(steps, reverse):
            h = hs[t + prev_slot]
            gh = _hidden_product(h, w_hh)
            if b_hh is not None:
                gh = gh + b_hh
            xp.add(gi3[t, :, :2 * hidden], gh[:, :2 * hidden], out=rz[t])
            _sigmoid_(xp, rz[t])
            gh_n[t] = gh[:, 2 * hidden:]
            n_t = n[t]
            xp.multiply(gh_n[t], rz[t, :, :hidden], out=n_t)
            n_t += gi3[t, :, 2 * hidden:]
            xp.tanh(n_t, out=n_t)
            out = hs[t + new_slot]
            xp.subtract(h, n_t, out=out)  # h' = n + z (h - n)
            out *= rz[t, :, hidden:]
            out += n_t
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(gi, h0, w_hh, b_hh, hs, rz, n, gh_n)
        ctx.reverse = reverse
        outputs = hs[:steps] if reverse else hs[1:]
        return outputs.reshape(steps * batch, hidden).copy(), hs[0 if reverse else steps].copy()

    @staticmethod
    def backward_array(ctx, grad_out, grad_h):
        xp = ctx.xp
        _, h0, w_hh, _, hs, rz, n, gh_n = (None if t is None else t._data
                                           for t in ctx.saved_tensors)
        batch, hidden = h0.shape
        steps = hs.shape[0] - 1
        reverse = ctx.reverse
        prev_slot = _slots(reverse)[0]
        grad_out = None if grad_out is None else grad_out.reshape(steps, batch, hidden)
        dgh = xp.empty((steps, batch, 3 * hidden), dtype=hs.dtype)  # d(h W_hh^T + b_hh)
        dgi_n = xp.empty((steps, batch, hidden), dtype=hs.dtype)  # the n third of d(gi)
        dh = grad_h
        for t in reversed(_steps(steps, reverse)):
            if grad_out is None:
                d = xp.zeros((batch, hidden), dtype=hs.dtype) if dh is None else dh
            else:
                d = grad_out[t] if dh is None else grad_out[t] + dh
            r, z, n_t, h = rz[t, :, :hidden], rz[t, :, hidden:], n[t], hs[t + prev_slot]
            d_n = dgi_n[t]  # d(pre_n) = d (1 - z) (1 - n^2)
            xp.multiply(n_t, n_t, out=d_n)
            xp.subtract(1, d_n, out=d_n)
            d_n *= d
            d_n -= d_n * z
            d_r = dgh[t, :, :hidden]  # d(pre_r) = d_n gh_n r (1 - r)
            xp.multiply(d_n, gh_n[t], out=d_r)
            d_r *= r
            d_r -= d_r * r
            d_z = dgh[t, :, hidden:2 * hidden]  # d(pre_z) = d (h - n) z (1 - z)
            xp.subtract(h, n_t, out=d_z)
            d_z *= d
            d_z *= z
            d_z -= d_z * z
            xp.multiply(d_n, r, out=dgh[t, :, 2 * hidden:])
            dh = d * z
            dh += _back_product(dgh[t], w_hh)
        need = ctx.needs_input_grad
        flat = dgh.reshape(steps * batch, 3 * hidden)
        prev = (hs[1:] if reverse else hs[:steps]).reshape(steps * batch, hidden)
        dw, db = _weight_grads(flat, prev, need[2], need[3])
        dgi = None
        if need[0]:  # r multiplies only the hidden half of the n gate
            dgi = dgh.copy()
            dgi[:, :, 2 * hidden:] = dgi_n
            dgi = dgi.reshape(steps * batch, 3 * hidden)
        return dgi, dh if need[1] else None, dw, db

    @staticmethod
    def backward(ctx, grad_out, grad_h):
        gi, h0, w_hh, b_hh = ctx.saved_tensors[:4]
        need = ctx.needs_input_grad
        acts = []

        def step(g, s):
            r, z, n, gh_n = _gru_activations(g, s[0], w_hh, b_hh)
            acts.append((r, z, n, gh_n))
            return (n + z * (s[0] - n),)

        states = _replay(ctx, gi, h0.shape[0], (h0,), step)
        grads = _bptt(ctx, gi, grad_out, (grad_h,), states, lambda k, dstate: _gru_grads(
            _cat_tensors, dstate[0], *acts[k], states[k][0], w_hh,
            (True, True) + tuple(need[2:4])))
        return grads[0], grads[1][0], grads[2], grads[3]

    @staticmethod
    def jvp(ctx, t_gi, t_h0, t_whh, t_bhh):
        return _jvp_by_steps(ctx, GRUCell, t_gi, (t_h0,), (t_whh, t_bhh))


# -- LSTM -----------------------------------------------------------------------------------------
class LSTMLayer(Function):
    """LSTM steps (gates i, f, g, o; ``w_hr`` projects h when ``proj_size`` > 0) over all
    steps. Outputs (all h_t, h_T, c_T)."""

    @staticmethod
    def forward(ctx, gi, h0, c0, w_hh, b_hh, w_hr, reverse=False):
        xp = ctx.xp
        batch, hidden = c0.shape
        size = h0.shape[1]
        steps = gi.shape[0] // batch
        prev_slot, new_slot = _slots(reverse)
        # every step's gates: gi + b_hh for all steps in one op; each step adds h W_hh^T
        gates = gi.reshape(steps, batch, 4 * hidden)
        gates = gates + b_hh if b_hh is not None else gates.copy()
        hs = xp.empty((steps + 1, batch, size), dtype=gi.dtype)
        cs = xp.empty((steps + 1, batch, hidden), dtype=gi.dtype)
        tanh_cs = xp.empty((steps, batch, hidden), dtype=gi.dtype)
        h_pres = None if w_hr is None else xp.empty((steps, batch, hidden), dtype=gi.dtype)
        first = steps if reverse else 0
        hs[first], cs[first] = h0, c0
        g_cols = slice(2 * hidden, 3 * hidden)
        for t in _steps(steps, reverse):
            act = gates[t]
            act += _hidden_product(hs[t + prev_slot], w_hh)
            # sigmoid over the whole block, then tanh into the g gate's columns: faster
            # than three ops on strided column blocks
            g = xp.tanh(act[:, g_cols])
            _sigmoid_(xp, act)
            act[:, g_cols] = g
            i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
            c_new = cs[t + new_slot]
            xp.multiply(f, cs[t + prev_slot], out=c_new)
            c_new += i * g
            tanh_c = xp.tanh(c_new, out=tanh_cs[t])
            if w_hr is None:
                xp.multiply(o, tanh_c, out=hs[t + new_slot])
            else:
                xp.multiply(o, tanh_c, out=h_pres[t])
                hs[t + new_slot] = _hidden_product(h_pres[t], w_hr)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(gi, h0, c0, w_hh, b_hh, w_hr, gates, hs, cs, tanh_cs, h_pres)
        ctx.reverse = reverse
        outputs = hs[:steps] if reverse else hs[1:]
        last = 0 if reverse else steps
        return (outputs.reshape(steps * batch, size).copy(), hs[last].copy(),
                cs[last].copy())

    @staticmethod
    def backward_array(ctx, grad_out, grad_h, grad_c):
        xp = ctx.xp
        _, h0, c0, w_hh, _, w_hr, gates, hs, cs, tanh_cs, h_pres = (
            None if t is None else t._data for t in ctx.saved_tensors)
        batch, hidden = c0.shape
        size = h0.shape[1]
        steps = hs.shape[0] - 1
        reverse = ctx.reverse
        prev_slot = _slots(reverse)[0]
        grad_out = None if grad_out is None else grad_out.reshape(steps, batch, size)
        dgates = xp.empty((steps, batch, 4 * hidden), dtype=hs.dtype)
        dhs = None if w_hr is None else xp.empty((steps, batch, size), dtype=hs.dtype)
        dh = grad_h
        dc = None if grad_c is None else grad_c.copy()
        tmp = xp.empty((batch, hidden), dtype=hs.dtype)
        for t in reversed(_steps(steps, reverse)):
            if grad_out is None:
                d_h = xp.zeros((batch, size), dtype=hs.dtype) if dh is None else dh
            else:
                d_h = grad_out[t] if dh is None else grad_out[t] + dh
            if w_hr is not None:
                dhs[t] = d_h
                d_h = d_h @ w_hr
            act, tanh_c, dg = gates[t], tanh_cs[t], dgates[t]
            i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
            d_i, d_f, d_g, d_o = (dg[:, k * hidden:(k + 1) * hidden] for k in range(4))
            # d_o = d_h tanh_c o (1 - o), written first: d_i's block holds d_h o
            xp.multiply(d_h, tanh_c, out=d_o)
            d_o *= o
            xp.multiply(d_o, o, out=tmp)
            d_o -= tmp
            # dc += d_h o (1 - tanh_c^2)
            xp.multiply(tanh_c, tanh_c, out=tmp)
            xp.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= d_h
            if dc is None:
                dc = tmp.copy()
            else:
                dc += tmp
            xp.multiply(dc, g, out=d_i)  # dc g i (1 - i)
            d_i *= i
            xp.multiply(d_i, i, out=tmp)
            d_i -= tmp
            xp.multiply(dc, cs[t + prev_slot], out=d_f)  # dc c f (1 - f)
            d_f *= f
            xp.multiply(d_f, f, out=tmp)
            d_f -= tmp
            xp.multiply(g, g, out=d_g)  # dc i (1 - g^2)
            xp.subtract(1, d_g, out=d_g)
            d_g *= i
            d_g *= dc
            dh = _back_product(dg, w_hh)
            dc *= f
        need = ctx.needs_input_grad
        flat = dgates.reshape(steps * batch, 4 * hidden)
        prev = (hs[1:] if reverse else hs[:steps]).reshape(steps * batch, size)
        dw, db = _weight_grads(flat, prev, need[3], need[4])
        dw_hr = None
        if need[5]:
            dw_hr = dhs.reshape(steps * batch, size).T @ h_pres.reshape(steps * batch, hidden)
        return (flat if need[0] else None, xp.ascontiguousarray(dh) if need[1] else None,
                dc if need[2] else None, dw, db, dw_hr)

    @staticmethod
    def backward(ctx, grad_out, grad_h, grad_c):
        gi, h0, c0, w_hh, b_hh, w_hr = ctx.saved_tensors[:6]
        need = ctx.needs_input_grad
        acts = []

        def step(g, s):
            i, f, gg, o, tanh_c, h_pre = _lstm_activations(g, s[0], s[1], w_hh, b_hh)
            acts.append((i, f, gg, o))
            h_new = h_pre if w_hr is None else linear(h_pre, w_hr, None)
            return h_new, f * s[1] + i * gg, tanh_c, h_pre

        states = _replay(ctx, gi, c0.shape[0], (h0, c0), step)

        def grads_of(k, dstate):
            (i, f, g, o), (_, _, tanh_c, h_pre) = acts[k], states[k + 1]
            return _lstm_grads(_cat_tensors, dstate[0], dstate[1], i, f, g, o, states[k][1],
                               tanh_c, h_pre, states[k][0], w_hh, w_hr,
                               (True, True, True) + tuple(need[3:6]))

        grads = _bptt(ctx, gi, grad_out, (grad_h, grad_c), states, grads_of)
        return grads[0], grads[1][0], grads[1][1], grads[2], grads[3], grads[4]

    @staticmethod
    def jvp(ctx, t_gi, t_h0, t_c0, t_whh, t_bhh, t_whr):
        return _jvp_by_steps(ctx, LSTMCell, t_gi, (t_h0, t_c0), (t_whh, t_bhh, t_whr))


# -- the differentiable and forward-mode rules, step by step -------------------------------
def _replay(ctx, gi, batch, state, step):
    """The steps again with differentiable ops (for ``backward``): ``states[k]`` is the
    state before the k-th step visited (``step(gi_t, state)`` returns the next one)."""
    states = [state]
    for t in _steps(gi.shape[0] // batch, ctx.reverse):
        states.append(step(gi[t * batch:(t + 1) * batch], states[-1]))
    return states


def _bptt(ctx, gi, grad_out, grad_state, states, grads_of):
    """Backpropagation through time with a cell's gradient rule ``grads_of(k, dstate)`` for
    the k-th step visited (returning d(gi), d(state)..., d(weights)...). Returns the gradient
    of ``gi`` (time order), the tuple of the initial state's, and each weight's summed over
    the steps (None where not needed)."""
    n_state = len(grad_state)
    batch = states[0][0].shape[0]
    order = list(_steps(gi.shape[0] // batch, ctx.reverse))
    dstate = [zeros_like(s) if g is None else g for g, s in zip(grad_state, states[-1])]
    d_gis = [None] * len(order)
    d_weights = None
    for k in range(len(order) - 1, -1, -1):
        t = order[k]
        if grad_out is not None:
            dstate[0] = dstate[0] + grad_out[t * batch:(t + 1) * batch]
        grads = grads_of(k, dstate)
        d_gis[t] = grads[0]
        dstate = list(grads[1:1 + n_state])
        step_weights = grads[1 + n_state:]
        d_weights = step_weights if d_weights is None else tuple(
            None if a is None else a + b for a, b in zip(d_weights, step_weights))
    d_gi = cat(d_gis, 0) if ctx.needs_input_grad[0] else None
    return (d_gi, tuple(dstate)) + tuple(d_weights)


def _jvp_by_steps(ctx, cell, t_gi, t_state, t_weights):
    """The layer's tangents: the cell's forward-mode rule applied step by step."""
    n_state = len(t_state)
    gi, state = ctx.fw_inputs[0], tuple(ctx.fw_inputs[1:1 + n_state])
    weights = tuple(ctx.fw_inputs[1 + n_state:])
    batch = state[0].shape[0]
    steps = gi.shape[0] // batch
    t_outs = [None] * steps
    tangents = t_state
    for t in _steps(steps, ctx.fw_kwargs.get("reverse", False)):
        g = gi[t * batch:(t + 1) * batch]
        t_g = None if t_gi is None else t_gi[t * batch:(t + 1) * batch]
        new = cell.apply(g, *state, *weights)
        step_ctx = types.SimpleNamespace(fw_inputs=(g,) + state + weights, fw_output=new,
                                         fw_kwargs={})
        tangents = cell.jvp(step_ctx, t_g, *tangents, *t_weights)
        state, tangents = (new, tangents) if n_state > 1 else ((new,), (tangents,))
        t_outs[t] = tangents[0]
    return (cat(t_outs, 0),) + tuple(tangents)


# -- scanning a layer: one op, or one cell op per step (packed) ---------------------------
class SplitRows(Function):
    """Consecutive row blocks of a matrix as views, all in one node: the per-step slices of
    a packed layer's input projection. Backward joins the blocks' gradients with one
    concatenate, where a ``narrow`` node per step would build a full-size gradient per step
    (quadratic in the sequence length)."""

    is_view = True
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, sizes):
        blocks, start = [], 0
        for size in sizes:
            blocks.append(a[start:start + size])
            start += size
        return tuple(blocks)

    @staticmethod
    def backward(ctx, *grads):
        return cat(grads, 0)


_CELLS = {"RNN_TANH": RNNTanhCell, "RNN_RELU": RNNReluCell, "GRU": GRUCell, "LSTM": LSTMCell}


def _stepper(mode, w_hh, b_hh, w_hr):
    """``step(gi, state) -> state`` for one cell kind; a state is a tuple (h,) or (h, c)."""
    cell = _CELLS[mode]
    if mode == "LSTM":
        return lambda gi, state: cell.apply(gi, state[0], state[1], w_hh, b_hh, w_hr)
    return lambda gi, state: (cell.apply(gi, state[0], w_hh, b_hh),)


def _scan_whole(mode, gi, hx, w_hh, b_hh, w_hr, reverse):
    """Equal-length sequences: the whole layer as one op."""
    if mode == "LSTM":
        out, h, c = LSTMLayer.apply(gi, hx[0], hx[1], w_hh, b_hh, w_hr, reverse=reverse)
        return out, (h, c)
    if mode == "GRU":
        out, h = GRULayer.apply(gi, hx[0], w_hh, b_hh, reverse=reverse)
    else:
        out, h = RNNLayer.apply(gi, hx[0], w_hh, b_hh, reverse=reverse,
                                relu=mode == "RNN_RELU")
    return out, (h,)


def scan_layer(mode, data, batch_sizes, hx, weights, reverse=False):
    """One direction of one recurrent layer over a time-major sequence.

    ``data`` (N, input_size) holds the rows of every step, ``batch_sizes[t]`` of them for
    step t (non-increasing, the layout of a packed sequence; an unpacked batch has the same
    size at every step). ``hx`` is the initial state, (h0,) or (h0, c0), each with
    ``batch_sizes[0]`` rows; ``weights`` is (w_ih, w_hh, b_ih, b_hh, w_hr), None where
    absent. Returns the outputs (N, hidden) in ``data``'s layout and the final state: each
    sequence's state after its own last step (its first, when ``reverse``).
    """
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    projection = linear(data, w_ih, b_ih)  # one GEMM for all steps
    if batch_sizes[0] > 0 and batch_sizes[-1] == batch_sizes[0]:
        return _scan_whole(mode, projection, hx, w_hh, b_hh, w_hr, reverse)
    step = _stepper(mode, w_hh, b_hh, w_hr)
    inputs = SplitRows.apply(projection, tuple(batch_sizes))
    outputs = []
    if not reverse:
        finished = []  # states of sequences that ended, the shortest first
        state = hx
        for t, size in enumerate(batch_sizes):
            if size < state[0].shape[0]:  # the last `rows - size` sequences have ended
                finished.append(tuple(s[size:] for s in state))
                state = tuple(s[:size] for s in state)
            state = step(inputs[t], state)
            outputs.append(state[0])
        if finished:
            finished.append(state)
            state = tuple(cat([f[k] for f in reversed(finished)], 0)
                          for k in range(len(state)))
    else:
        # backwards in time the batch grows: sequences join at their own last step
        last = batch_sizes[-1]
        state = hx if last == hx[0].shape[0] else tuple(s[:last] for s in hx)
        for t in range(len(batch_sizes) - 1, -1, -1):
            size, rows = batch_sizes[t], state[0].shape[0]
            if size > rows:
                state = tuple(cat([s, s0[rows:size]], 0) for s, s0 in zip(state, hx))
            state = step(inputs[t], state)
            outputs.append(state[0])
        outputs.reverse()
    return (cat(outputs, 0) if len(outputs) > 1 else outputs[0]), state
