"""Example 15: the Transformer from its parts (d2l 11.5-11.7), checked equal to ``nn.Transformer``.

The listings of "Dive into Deep Learning" 11.5-11.7, with ``import zerograd as torch``:

* ``MultiHeadAttention``: ``num_heads`` scaled dot-product attentions on projections of
  queries, keys and values (``transpose_qkv`` makes the heads batch entries), then
  ``W_o``; padding masked by valid lengths (``masked_softmax`` of example 14);
* ``PositionalEncoding``: sin/cos of position / 10000^(2j/d), added to the embeddings;
* ``PositionWiseFFN`` (dense, ReLU, dense) and ``AddNorm`` (LayerNorm(X + dropout(Y)));
* ``TransformerEncoderBlock`` and ``TransformerDecoderBlock`` (masked self-attention,
  encoder-decoder attention, FFN, each in an add & norm).

The blocks' weights are then copied into ``nn.TransformerEncoderLayer``,
``nn.TransformerDecoderLayer`` and a whole ``nn.Transformer`` (torch keeps W_q, W_k, W_v
stacked in ``in_proj_weight``): with dropout 0, valid lengths as ``key_padding_mask`` and
the decoder's causal valid lengths as ``tgt_mask``, the outputs and the gradients of every
parameter are equal to float32 rounding, and a few training steps from the same weights
give the same losses. The maximum differences are printed.
"""

# %%
import argparse
import math
import os
from pathlib import Path

from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch
from zerograd import nn


def output_dir(out_dir=None):
    """Where pictures go: ``out_dir``, $ZEROGRAD_EXAMPLES_OUT, or examples/out/ (created)."""
    out_dir = out_dir or os.environ.get("ZEROGRAD_EXAMPLES_OUT")
    if out_dir is None:  # a notebook runs from examples/notebooks/, a script from anywhere
        here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd().parent
        out_dir = here / "out"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return Path(out_dir)


def cli_args():
    """``--quick`` and ``--out-dir``; unknown flags (a notebook kernel's own) are ignored."""
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--quick", action="store_true", help="small, fast settings")
    parser.add_argument("--out-dir", default=None, help="folder for PNGs (default examples/out)")
    args, _ = parser.parse_known_args()
    quick = args.quick or os.environ.get("ZEROGRAD_EXAMPLES_QUICK") == "1"
    return {"quick": quick, "out_dir": args.out_dir}


# %% [markdown]
# ## Scaled dot-product attention with masked softmax (d2l 11.3)

# %%
def masked_softmax(X, valid_lens):
    """Perform softmax operation by masking elements on the last axis."""
    def _sequence_mask(X, valid_len, value=0):
        maxlen = X.size(1)
        mask = torch.arange((maxlen), dtype=torch.float32,
                            device=X.device)[None, :] < valid_len[:, None]
        X[~mask] = value
        return X

    if valid_lens is None:
        return nn.functional.softmax(X, dim=-1)
    else:
        shape = X.shape
        if valid_lens.dim() == 1:
            valid_lens = torch.repeat_interleave(valid_lens, shape[1])
        else:
            valid_lens = valid_lens.reshape(-1)
        X = _sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
        return nn.functional.softmax(X.reshape(shape), dim=-1)


class DotProductAttention(nn.Module):
    """Scaled dot product attention."""
    def __init__(self, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens=None):
        d = queries.shape[-1]
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


# %% [markdown]
# ## Multi-head attention (d2l 11.5)

# %%
class MultiHeadAttention(nn.Module):
    """Multi-head attention."""
    def __init__(self, num_hiddens, num_heads, dropout, bias=False, **kwargs):
        super().__init__()
        self.num_heads = num_heads
        self.attention = DotProductAttention(dropout)
        self.W_q = nn.LazyLinear(num_hiddens, bias=bias)
        self.W_k = nn.LazyLinear(num_hiddens, bias=bias)
        self.W_v = nn.LazyLinear(num_hiddens, bias=bias)
        self.W_o = nn.LazyLinear(num_hiddens, bias=bias)

    def forward(self, queries, keys, values, valid_lens):
        # Shape of queries, keys, or values:
        # (batch_size, no. of queries or key-value pairs, num_hiddens)
        # Shape of valid_lens: (batch_size,) or (batch_size, no. of queries)
        # After transposing, shape of output queries, keys, or values:
        # (batch_size * num_heads, no. of queries or key-value pairs,
        # num_hiddens / num_heads)
        queries = self.transpose_qkv(self.W_q(queries))
        keys = self.transpose_qkv(self.W_k(keys))
        values = self.transpose_qkv(self.W_v(values))

        if valid_lens is not None:
            # On axis 0, copy the first item (scalar or vector) for num_heads
            # times, then copy the next item, and so on
            valid_lens = torch.repeat_interleave(
                valid_lens, repeats=self.num_heads, dim=0)

        # Shape of output: (batch_size * num_heads, no. of queries,
        # num_hiddens / num_heads)
        output = self.attention(queries, keys, values, valid_lens)
        # Shape of output_concat: (batch_size, no. of queries, num_hiddens)
        output_concat = self.transpose_output(output)
        return self.W_o(output_concat)

    def transpose_qkv(self, X):
        """Transposition for parallel computation of multiple attention heads."""
        X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1)
        X = X.permute(0, 2, 1, 3)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def transpose_output(self, X):
        """Reverse the operation of transpose_qkv."""
        X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2])
        X = X.permute(0, 2, 1, 3)
        return X.reshape(X.shape[0], X.shape[1], -1)


# %% [markdown]
# ## Positional encoding (d2l 11.6)
#
# P[i, 2j] = sin(i / 10000^(2j/d)), P[i, 2j+1] = cos(i / 10000^(2j/d)): each pair of
# columns is a rotation at its own frequency, so a fixed offset is a linear map.

# %%
class PositionalEncoding(nn.Module):
    """Positional encoding."""
    def __init__(self, num_hiddens, dropout, max_len=1000):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        # Create a long enough P
        self.P = torch.zeros((1, max_len, num_hiddens))
        X = torch.arange(max_len, dtype=torch.float32).reshape(
            -1, 1) / torch.pow(10000, torch.arange(
            0, num_hiddens, 2, dtype=torch.float32) / num_hiddens)
        self.P[:, :, 0::2] = torch.sin(X)
        self.P[:, :, 1::2] = torch.cos(X)

    def forward(self, X):
        X = X + self.P[:, :X.shape[1], :].to(X.device)
        return self.dropout(X)


# %% [markdown]
# ## Position-wise FFN, add & norm, encoder and decoder blocks (d2l 11.7)

# %%
class PositionWiseFFN(nn.Module):
    """The positionwise feed-forward network."""
    def __init__(self, ffn_num_hiddens, ffn_num_outputs):
        super().__init__()
        self.dense1 = nn.LazyLinear(ffn_num_hiddens)
        self.relu = nn.ReLU()
        self.dense2 = nn.LazyLinear(ffn_num_outputs)

    def forward(self, X):
        return self.dense2(self.relu(self.dense1(X)))


class AddNorm(nn.Module):
    """The residual connection followed by layer normalization."""
    def __init__(self, norm_shape, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(norm_shape)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


class TransformerEncoderBlock(nn.Module):
    """The Transformer encoder block."""
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias=False):
        super().__init__()
        self.attention = MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
        self.addnorm2 = AddNorm(num_hiddens, dropout)

    def forward(self, X, valid_lens):
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
        return self.addnorm2(Y, self.ffn(Y))


class TransformerDecoderBlock(nn.Module):
    # The i-th block in the Transformer decoder
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, i, use_bias=False):
        super().__init__()
        self.i = i
        self.attention1 = MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.attention2 = MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
        self.addnorm2 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
        self.addnorm3 = AddNorm(num_hiddens, dropout)

    def forward(self, X, state):
        enc_outputs, enc_valid_lens = state[0], state[1]
        # During training, all the tokens of any output sequence are processed
        # at the same time, so state[2][self.i] is None as initialized. When
        # decoding any output sequence token by token during prediction,
        # state[2][self.i] contains representations of the decoded output at
        # the i-th block up to the current time step
        if state[2][self.i] is None:
            key_values = X
        else:
            key_values = torch.cat((state[2][self.i], X), dim=1)
        state[2][self.i] = key_values
        if self.training:
            batch_size, num_steps, _ = X.shape
            # Shape of dec_valid_lens: (batch_size, num_steps), where every
            # row is [1, 2, ..., num_steps]
            dec_valid_lens = torch.arange(
                1, num_steps + 1, device=X.device).repeat(batch_size, 1)
        else:
            dec_valid_lens = None
        # Self-attention
        X2 = self.attention1(X, key_values, key_values, dec_valid_lens)
        Y = self.addnorm1(X, X2)
        # Encoder-decoder attention. Shape of enc_outputs:
        # (batch_size, num_steps, num_hiddens)
        Y2 = self.attention2(Y, enc_outputs, enc_outputs, enc_valid_lens)
        Z = self.addnorm2(Y, Y2)
        return self.addnorm3(Z, self.ffn(Z)), state


# %% [markdown]
# ## A whole encoder-decoder from the parts
#
# `nn.Transformer` ends each stack with a LayerNorm; so does this one. Tokens are embedded,
# scaled by √d and position-encoded, as in d2l's `TransformerEncoder`/`Decoder`.

# %%
class TransformerFromParts(nn.Module):
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, 0.0)
        self.enc_blks = nn.Sequential()
        for i in range(num_blks):
            self.enc_blks.add_module("block"+str(i), TransformerEncoderBlock(
                num_hiddens, ffn_num_hiddens, num_heads, 0.0, use_bias=True))
        self.enc_norm = nn.LayerNorm(num_hiddens)
        self.dec_blks = nn.Sequential()
        for i in range(num_blks):
            self.dec_blks.add_module("block"+str(i), TransformerDecoderBlock(
                num_hiddens, ffn_num_hiddens, num_heads, 0.0, i, use_bias=True))
        self.dec_norm = nn.LayerNorm(num_hiddens)
        self.dense = nn.LazyLinear(vocab_size)

    def embed(self, tokens):
        return self.pos_encoding(self.embedding(tokens) * math.sqrt(self.num_hiddens))

    def forward(self, src, tgt, src_valid_lens):
        X = self.embed(src)
        for blk in self.enc_blks:
            X = blk(X, src_valid_lens)
        state = [self.enc_norm(X), src_valid_lens, [None] * len(self.dec_blks)]
        Y = self.embed(tgt)
        for blk in self.dec_blks:
            Y, state = blk(Y, state)
        return self.dense(self.dec_norm(Y))


class TransformerFromModules(nn.Module):
    """The same network with ``nn.Transformer`` in the middle (same embedding and P)."""
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, 0.0)
        self.transformer = nn.Transformer(num_hiddens, num_heads, num_blks, num_blks,
                                          ffn_num_hiddens, dropout=0.0, batch_first=True)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def embed(self, tokens):
        return self.pos_encoding(self.embedding(tokens) * math.sqrt(self.num_hiddens))

    def forward(self, src, tgt, src_valid_lens):
        padding = torch.arange(src.shape[1])[None, :] >= src_valid_lens[:, None]  # True: pad
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        Y = self.transformer(self.embed(src), self.embed(tgt), tgt_mask=causal,
                             src_key_padding_mask=padding, memory_key_padding_mask=padding,
                             tgt_is_causal=True)
        return self.dense(Y)


# %% [markdown]
# ## Copying the weights
#
# torch's `nn.MultiheadAttention` keeps the three input projections stacked:
# `in_proj_weight` = [W_q; W_k; W_v] (rows), `in_proj_bias` likewise; `out_proj` is W_o.
# `pairs` lists (parameter of the parts, parameter of the modules) with the stacked ones
# as lists, so the same table copies the weights and compares the gradients.

# %%
def attention_pairs(mha, attn):
    return [([mha.W_q.weight, mha.W_k.weight, mha.W_v.weight], attn.in_proj_weight),
            ([mha.W_q.bias, mha.W_k.bias, mha.W_v.bias], attn.in_proj_bias),
            (mha.W_o.weight, attn.out_proj.weight), (mha.W_o.bias, attn.out_proj.bias)]


def ffn_pairs(ffn, layer):
    return [(ffn.dense1.weight, layer.linear1.weight), (ffn.dense1.bias, layer.linear1.bias),
            (ffn.dense2.weight, layer.linear2.weight), (ffn.dense2.bias, layer.linear2.bias)]


def norm_pairs(ln, norm):
    return [(ln.weight, norm.weight), (ln.bias, norm.bias)]


def encoder_pairs(blk, layer):
    return (attention_pairs(blk.attention, layer.self_attn) + ffn_pairs(blk.ffn, layer) +
            norm_pairs(blk.addnorm1.ln, layer.norm1) + norm_pairs(blk.addnorm2.ln, layer.norm2))


def decoder_pairs(blk, layer):
    return (attention_pairs(blk.attention1, layer.self_attn) +
            attention_pairs(blk.attention2, layer.multihead_attn) + ffn_pairs(blk.ffn, layer) +
            norm_pairs(blk.addnorm1.ln, layer.norm1) + norm_pairs(blk.addnorm2.ln, layer.norm2) +
            norm_pairs(blk.addnorm3.ln, layer.norm3))


def model_pairs(parts, modules):
    pairs = [(parts.embedding.weight, modules.embedding.weight),
             (parts.dense.weight, modules.dense.weight), (parts.dense.bias, modules.dense.bias)]
    encoder, decoder = modules.transformer.encoder, modules.transformer.decoder
    for blk, layer in zip(parts.enc_blks, encoder.layers):
        pairs += encoder_pairs(blk, layer)
    for blk, layer in zip(parts.dec_blks, decoder.layers):
        pairs += decoder_pairs(blk, layer)
    return pairs + norm_pairs(parts.enc_norm, encoder.norm) + norm_pairs(parts.dec_norm,
                                                                         decoder.norm)


def stacked(p):
    return torch.cat(p) if isinstance(p, list) else p


def copy_weights(pairs):
    with torch.no_grad():
        for mine, theirs in pairs:
            theirs.copy_(stacked(mine))


def max_diff(a, b):
    return (a - b).abs().max().item()


def grad_diff(pairs):
    """The largest difference between matching gradients, relative to the gradient's size."""
    worst = 0.0
    for mine, theirs in pairs:
        g = stacked([p.grad for p in mine]) if isinstance(mine, list) else mine.grad
        worst = max(worst, max_diff(g, theirs.grad) / (theirs.grad.abs().max().item() + 1e-12))
    return worst


# %% [markdown]
# ## The checks

# %%
def check_blocks(batch, num_steps, num_hiddens, ffn_num_hiddens, num_heads):
    """One encoder block and one decoder block against the torch layers: max differences."""
    X = torch.randn(batch, num_steps, num_hiddens)
    valid_lens = torch.randint(1, num_steps + 1, (batch,))
    padding = torch.arange(num_steps)[None, :] >= valid_lens[:, None]
    blk = TransformerEncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, 0.0, use_bias=True)
    blk(X, valid_lens)  # materialise the lazy layers
    layer = nn.TransformerEncoderLayer(num_hiddens, num_heads, ffn_num_hiddens, dropout=0.0,
                                       batch_first=True)
    pairs = encoder_pairs(blk, layer)
    copy_weights(pairs)
    mine = blk(X, valid_lens)
    theirs = layer(X, src_key_padding_mask=padding)
    (mine * X).sum().backward()
    (theirs * X).sum().backward()
    diffs = {"encoder output": max_diff(mine, theirs), "encoder grads": grad_diff(pairs)}

    memory = torch.randn(batch, num_steps + 2, num_hiddens)
    mem_lens = torch.randint(1, num_steps + 3, (batch,))
    mem_padding = torch.arange(num_steps + 2)[None, :] >= mem_lens[:, None]
    blk = TransformerDecoderBlock(num_hiddens, ffn_num_hiddens, num_heads, 0.0, 0,
                                  use_bias=True)
    blk(X, [memory, mem_lens, [None]])
    layer = nn.TransformerDecoderLayer(num_hiddens, num_heads, ffn_num_hiddens, dropout=0.0,
                                       batch_first=True)
    pairs = decoder_pairs(blk, layer)
    copy_weights(pairs)
    mine, _ = blk(X, [memory, mem_lens, [None]])
    theirs = layer(X, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(num_steps),
                   memory_key_padding_mask=mem_padding, tgt_is_causal=True)
    (mine * X).sum().backward()
    (theirs * X).sum().backward()
    diffs.update({"decoder output": max_diff(mine, theirs), "decoder grads": grad_diff(pairs)})
    return diffs


def reverse_batch(batch, num_steps, vocab_size):
    """Random sequences and their reversals (tokens 1..vocab-1) with random valid lengths."""
    src = torch.randint(1, vocab_size, (batch, num_steps))
    return src, src.flip(1), torch.randint(num_steps // 2, num_steps + 1, (batch,))


def train_both(parts, modules, pairs, steps, vocab_size, num_steps, batch):
    """The same Adam steps on the same batches: both loss curves."""
    loss_fn = nn.CrossEntropyLoss()
    losses = {"parts": [], "nn.Transformer": []}
    optimizers = {"parts": torch.optim.Adam(parts.parameters(), lr=1e-3),
                  "nn.Transformer": torch.optim.Adam(modules.parameters(), lr=1e-3)}
    for _ in range(steps):
        src, tgt, valid_lens = reverse_batch(batch, num_steps, vocab_size)
        for name, net in (("parts", parts), ("nn.Transformer", modules)):
            optimizers[name].zero_grad()
            logits = net(src, tgt[:, :-1], valid_lens)
            loss = loss_fn(logits.reshape(-1, vocab_size), tgt[:, 1:].reshape(-1))
            loss.backward()
            optimizers[name].step()
            losses[name].append(loss.item())
    return losses


def plot_positional_encoding(P, path):
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    pcm = ax.imshow(P.numpy(), cmap='Blues', aspect='auto')
    ax.set_xlabel('Column (encoding dimension)')
    ax.set_ylabel('Row (position)')
    fig.colorbar(pcm, ax=ax)
    fig.savefig(path, dpi=80)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    torch.manual_seed(0)
    num_hiddens, ffn_num_hiddens, num_heads = (16, 32, 4) if quick else (32, 64, 4)
    num_blks, vocab_size, num_steps, batch = 2, 12, (6 if quick else 10), (4 if quick else 16)
    steps = 3 if quick else 30
    results = {}

    pos_encoding = PositionalEncoding(32, 0)
    P = pos_encoding.P[0, :60, :]
    results["P"] = P.numpy()
    results["picture"] = plot_positional_encoding(P, out / "15_positional_encoding.png")
    print(f"positional encoding P: {tuple(P.shape)}, rows 0-59 drawn to {results['picture']}")

    print("\n== one block each, parts vs nn.TransformerEncoderLayer / DecoderLayer ==")
    results["block_diffs"] = check_blocks(batch, num_steps, num_hiddens, ffn_num_hiddens,
                                          num_heads)
    for what, d in results["block_diffs"].items():
        print(f"  {what:15s} max difference {d:.1e}")

    print(f"\n== {num_blks}+{num_blks} blocks, parts vs nn.Transformer ==")
    parts = TransformerFromParts(vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks)
    modules = TransformerFromModules(vocab_size, num_hiddens, ffn_num_hiddens, num_heads,
                                     num_blks)
    src, tgt, valid_lens = reverse_batch(batch, num_steps, vocab_size)
    parts(src, tgt, valid_lens)  # materialise the lazy layers
    pairs = model_pairs(parts, modules)
    copy_weights(pairs)
    mine, theirs = parts(src, tgt, valid_lens), modules(src, tgt, valid_lens)
    weights = torch.linspace(-1, 1, mine.numel()).reshape(mine.shape)
    (mine * weights).sum().backward()
    (theirs * weights).sum().backward()
    results["model_diffs"] = {"logits": max_diff(mine, theirs), "grads": grad_diff(pairs)}
    print(f"  logits max difference {results['model_diffs']['logits']:.1e}, "
          f"gradients (relative) {results['model_diffs']['grads']:.1e}")
    results["oracle"] = {
        "src": src.numpy(), "tgt": tgt.numpy(), "valid_lens": valid_lens.numpy(),
        "embedded_src": modules.embed(src).detach().numpy(),
        "embedded_tgt": modules.embed(tgt).detach().numpy(),
        # copies: training below updates the parameters in place
        "transformer": {k: v.detach().numpy().copy()
                        for k, v in modules.transformer.state_dict().items()},
        "dense": (modules.dense.weight.detach().numpy().copy(),
                  modules.dense.bias.detach().numpy().copy()),
        "logits": theirs.detach().numpy(),
        "sizes": (num_hiddens, num_heads, num_blks, ffn_num_hiddens)}

    print(f"\n== {steps} Adam steps on the reverse task from the same weights ==")
    for net in (parts, modules):
        net.zero_grad()
    losses = train_both(parts, modules, pairs, steps, vocab_size, num_steps, batch)
    results["losses"] = losses
    for name, curve in losses.items():
        print(f"  {name:15s} " + " ".join(f"{v:.4f}" for v in curve[:10]))
    results["loss_diff"] = max(abs(a - b) for a, b in zip(*losses.values()))
    print(f"  largest loss difference {results['loss_diff']:.1e}")
    return results


# %%
if __name__ == "__main__":
    results = main(**cli_args())
