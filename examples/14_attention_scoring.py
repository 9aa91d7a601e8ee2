"""Example 14: attention scoring functions with masked softmax (d2l 11.3).

The listings of "Dive into Deep Learning" 11.3, with ``import zerograd as torch``:

* ``masked_softmax``: a softmax over the last axis that ignores the keys past each
  sequence's valid length (they get a logit of -1e6, hence weight 0);
* ``DotProductAttention``: scores q·k/√d, masked softmax, dropout, weights times values;
* ``AdditiveAttention``: scores w_v^T tanh(W_q q + W_k k), for queries and keys of
  different lengths;
* ``show_heatmaps``: the attention weights drawn as heat maps (PNG, matplotlib's Agg).

Then the same scores through the library: ``F.scaled_dot_product_attention`` with a
boolean mask built from the valid lengths gives the same output as d2l's
``DotProductAttention`` (values and gradients), and ``nn.MultiheadAttention``'s
``key_padding_mask`` masks the same keys.
"""

# %%
import argparse
import math
import os
from pathlib import Path

from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch
from zerograd import nn
from zerograd.nn import functional as F


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
# ## Heat maps (d2l 11.1)
#
# `show_heatmaps` draws a grid of matrices: rows of the grid for one thing (e.g. the
# examples of a batch), columns for another (e.g. heads); each matrix queries × keys.

# %%
def show_heatmaps(matrices, xlabel, ylabel, path, titles=None, figsize=(2.5, 2.5),
                  cmap='Reds'):
    """d2l's ``show_heatmaps``, saved to ``path``: ``matrices`` is (rows, cols, q, k)."""
    num_rows, num_cols = len(matrices), len(matrices[0])
    fig = Figure(figsize=(figsize[0] * num_cols, figsize[1] * num_rows))
    axes = fig.subplots(num_rows, num_cols, sharex=True, sharey=True, squeeze=False)
    for i, (row_axes, row_matrices) in enumerate(zip(axes, matrices)):
        for j, (ax, matrix) in enumerate(zip(row_axes, row_matrices)):
            pcm = ax.imshow(matrix.detach().numpy(), cmap=cmap)
            if i == num_rows - 1:
                ax.set_xlabel(xlabel)
            if j == 0:
                ax.set_ylabel(ylabel)
            if titles:
                ax.set_title(titles[j])
    fig.colorbar(pcm, ax=axes, shrink=0.6)
    fig.savefig(path, dpi=80)
    return path


# %% [markdown]
# ## Masked softmax
#
# Keys past a sequence's valid length are padding: their logits become -1e6 before the
# softmax, so their weights are exactly 0. `valid_lens` is (batch,) — one length per
# example — or (batch, queries) — one per query.

# %%
def masked_softmax(X, valid_lens):
    """Perform softmax operation by masking elements on the last axis."""
    # X: 3D tensor, valid_lens: 1D or 2D tensor
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
        # On the last axis, replace masked elements with a very large negative
        # value, whose exponentiation outputs 0
        X = _sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
        return nn.functional.softmax(X.reshape(shape), dim=-1)


# %% [markdown]
# ## Scaled dot-product attention and additive attention

# %%
class DotProductAttention(nn.Module):
    """Scaled dot product attention."""
    def __init__(self, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)

    # Shape of queries: (batch_size, no. of queries, d)
    # Shape of keys: (batch_size, no. of key-value pairs, d)
    # Shape of values: (batch_size, no. of key-value pairs, value dimension)
    # Shape of valid_lens: (batch_size,) or (batch_size, no. of queries)
    def forward(self, queries, keys, values, valid_lens=None):
        d = queries.shape[-1]
        # Swap the last two dimensions of keys with keys.transpose(1, 2)
        scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(self.attention_weights), values)


class AdditiveAttention(nn.Module):
    """Additive attention."""
    def __init__(self, num_hiddens, dropout, **kwargs):
        super(AdditiveAttention, self).__init__(**kwargs)
        self.W_k = nn.LazyLinear(num_hiddens, bias=False)
        self.W_q = nn.LazyLinear(num_hiddens, bias=False)
        self.w_v = nn.LazyLinear(1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens):
        queries, keys = self.W_q(queries), self.W_k(keys)
        # After dimension expansion, shape of queries: (batch_size, no. of
        # queries, 1, num_hiddens) and shape of keys: (batch_size, 1, no. of
        # key-value pairs, num_hiddens). Sum them up with broadcasting
        features = queries.unsqueeze(2) + keys.unsqueeze(1)
        features = torch.tanh(features)
        # There is only one output of self.w_v, so we remove the last
        # one-dimensional entry from the shape. Shape of scores: (batch_size,
        # no. of queries, no. of key-value pairs)
        scores = self.w_v(features).squeeze(-1)
        self.attention_weights = masked_softmax(scores, valid_lens)
        # Shape of values: (batch_size, no. of key-value pairs, value
        # dimension)
        return torch.bmm(self.dropout(self.attention_weights), values)


# %% [markdown]
# ## The same scores through the library
#
# `F.scaled_dot_product_attention` takes a boolean mask (True = the key takes part); the
# valid lengths become one with `arange(num_keys) < valid_lens`, broadcast over the
# queries. `nn.MultiheadAttention` takes the opposite convention (`key_padding_mask`:
# True = ignore).

# %%
def valid_mask(valid_lens, num_queries, num_keys):
    """(batch, queries, keys) bool: key j takes part for query i when j < its valid length."""
    if valid_lens.dim() == 1:
        valid_lens = valid_lens[:, None].expand(-1, num_queries)
    return torch.arange(num_keys)[None, None, :] < valid_lens[:, :, None]


def max_diff(a, b):
    return (a - b).abs().max().item()


def compare_with_sdpa(batch, num_queries, num_keys, d, value_dim, valid_lens):
    """Max differences of d2l's DotProductAttention and F.scaled_dot_product_attention:
    outputs and the gradients of queries, keys and values."""
    inputs = [torch.randn(batch, n, k) for n, k in
              ((num_queries, d), (num_keys, d), (num_keys, value_dim))]
    grads = {}
    outputs = {}
    for name in ("d2l", "sdpa"):
        q, k, v = (x.clone().requires_grad_(True) for x in inputs)
        if name == "d2l":
            attention = DotProductAttention(dropout=0.0)
            out = attention(q, k, v, valid_lens)
        else:
            mask = valid_mask(valid_lens, num_queries, num_keys)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        outputs[name], grads[name] = out, (q.grad, k.grad, v.grad)
    diffs = {"output": max_diff(outputs["d2l"], outputs["sdpa"])}
    for what, a, b in zip(("grad q", "grad k", "grad v"), grads["d2l"], grads["sdpa"]):
        diffs[what] = max_diff(a, b)
    return diffs


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    torch.manual_seed(0)
    results = {"pictures": []}

    print("== the identity as attention weights (d2l 11.1) ==")
    attention_weights = torch.eye(10).reshape((1, 1, 10, 10))
    results["pictures"].append(show_heatmaps(attention_weights, xlabel='Keys', ylabel='Queries',
                                             path=out / "14_identity_heatmap.png"))

    print("\n== masked softmax ==")
    X = torch.rand(2, 2, 4)
    by_example = masked_softmax(X.clone(), torch.tensor([2, 3]))
    by_query = masked_softmax(X.clone(), torch.tensor([[1, 3], [2, 4]]))
    print(by_example)
    print(by_query)
    results["masked_softmax"] = {"X": X.numpy(), "by_example": by_example.numpy(),
                                 "by_query": by_query.numpy()}

    print("\n== scaled dot-product attention ==")
    queries = torch.normal(0, 1, (2, 1, 2))
    keys = torch.normal(0, 1, (2, 10, 2))
    values = torch.normal(0, 1, (2, 10, 4))
    valid_lens = torch.tensor([2, 6])
    attention = DotProductAttention(dropout=0.5)
    attention.eval()
    output = attention(queries, keys, values, valid_lens)
    print(f"output shape {tuple(output.shape)}")
    weights = attention.attention_weights
    print("weights:", weights.reshape(2, 10))
    results["dot"] = {"queries": queries.numpy(), "keys": keys.numpy(),
                      "values": values.numpy(), "valid_lens": valid_lens.numpy(),
                      "output": output.detach().numpy(), "weights": weights.detach().numpy()}
    results["pictures"].append(show_heatmaps(weights.reshape((1, 1, 2, 10)), xlabel='Keys',
                                             ylabel='Queries',
                                             path=out / "14_dot_product_heatmap.png"))

    print("\n== additive attention ==")
    queries = torch.normal(0, 1, (2, 1, 20))
    attention = AdditiveAttention(num_hiddens=8, dropout=0.1)
    attention.eval()
    output = attention(queries, keys, values, valid_lens)
    print(f"output shape {tuple(output.shape)}")
    weights = attention.attention_weights
    results["additive"] = {"output_shape": tuple(output.shape),
                           "weights": weights.detach().numpy()}
    results["pictures"].append(show_heatmaps(weights.reshape((1, 1, 2, 10)), xlabel='Keys',
                                             ylabel='Queries',
                                             path=out / "14_additive_heatmap.png"))

    print("\n== d2l's DotProductAttention vs F.scaled_dot_product_attention ==")
    batch, num_queries, num_keys = (4, 5, 7) if quick else (32, 40, 60)
    diffs = {}
    for label, lens in (("lengths per example", torch.randint(1, num_keys + 1, (batch,))),
                        ("lengths per query",
                         torch.randint(1, num_keys + 1, (batch, num_queries)))):
        diffs[label] = compare_with_sdpa(batch, num_queries, num_keys, 16, 8, lens)
        print(f"{label}: max difference " +
              ", ".join(f"{what} {d:.1e}" for what, d in diffs[label].items()))
    results["sdpa_diffs"] = diffs

    print("\n== nn.MultiheadAttention with key_padding_mask, 2 heads ==")
    mha = nn.MultiheadAttention(embed_dim=8, num_heads=2, batch_first=True)
    x = torch.randn(2, 6, 8)
    padding = torch.arange(6)[None, :] >= torch.tensor([3, 5])[:, None]  # True = ignore
    _, per_head = mha(x, x, x, key_padding_mask=padding, average_attn_weights=False)
    on_padding = per_head.masked_select(padding[:, None, None, :]).abs().max().item()
    print(f"per-head weights {tuple(per_head.shape)}; largest weight on a padded key: "
          f"{on_padding}")
    results["mha_padded_weight"] = on_padding
    results["pictures"].append(show_heatmaps(
        per_head.detach(), xlabel='Keys', ylabel='Queries', titles=['head 1', 'head 2'],
        path=out / "14_mha_heads_heatmap.png"))
    print(f"\nwrote {', '.join(str(p.name) for p in results['pictures'])} to {out}")
    return results


# %%
if __name__ == "__main__":
    results = main(**cli_args())
