"""Greedy decoding of the attention encoder-decoders, keeping what they attended to.

A decoder with ``decode_step(tokens, state) -> (logits, state, weights)`` (the
Bahdanau GRU and the Transformer) is fed its own argmax one token at a time; the weights
of each step are stacked so the heat maps show, for every output token, how much each
source token counted.
"""
import numpy as np

from zerograd.autograd.grad_mode import no_grad
from zerograd.ops import cat, from_numpy

__all__ = ["has_decode_step", "greedy_decode_steps"]


def has_decode_step(net):
    return hasattr(getattr(net, "decoder", None), "decode_step")


def greedy_decode_steps(net, src, src_valid_len, bos, eos, num_steps):
    """``(tokens (B, num_steps), lengths (B,), weights)``: the argmax tokens, the count
    before each row's first ``<eos>``, and the attention weights as a
    ``(B, layers, heads, num_steps, source steps)`` array (None if the decoder keeps
    none)."""
    net.eval()
    batch = src.shape[0]
    with no_grad():
        enc_outputs = net.encoder(src, src_valid_len)
        state = net.decoder.init_state(enc_outputs, src_valid_len)
        tokens = from_numpy(np.full((batch, 1), bos, dtype=np.int64)).to(src.device)
        out = np.zeros((batch, num_steps), dtype=np.int64)
        steps = []
        for t in range(num_steps):
            logits, state, weights = net.decoder.decode_step(tokens, state)
            nxt = logits.argmax(dim=-1, keepdim=True)
            out[:, t] = nxt.cpu().numpy()[:, 0]
            tokens = cat((tokens, nxt), dim=1)
            steps.append(weights)
    is_eos = out == eos
    lengths = np.where(is_eos.any(axis=1), is_eos.argmax(axis=1), num_steps)
    weights = None if steps[0] is None else np.stack(steps, axis=3)
    return out, lengths, weights
