"""Attention heat maps of a seq2seq run (attention.png), drawn as d2l's ``show_heatmaps``.

A few validation sources are decoded greedily; for each, every decoder layer and head
gets one panel: rows are the output tokens (queries), columns the source tokens (keys),
a cell's colour the weight the output put on that source token. A model that learned to
reverse a string shows an anti-diagonal.
"""
import numpy as np

from zerograd.datasets.seq2seq import build_array_nmt

__all__ = ["show_heatmaps", "attention_figure", "HEATMAP_EXAMPLES"]

HEATMAP_EXAMPLES = 2


def show_heatmaps(matrices, xlabel, ylabel, titles=None, figsize=(2.5, 2.5), cmap="Reds",
                  xticks=None, yticks=None):
    """d2l's grid of heat maps: ``matrices[i][j]`` (2-D) in row i, column j, one shared
    colour bar (0 to 1); ``xticks``/``yticks``, per row, label the keys and queries."""
    from matplotlib.figure import Figure
    num_rows, num_cols = len(matrices), len(matrices[0])
    fig = Figure(figsize=(figsize[0] * num_cols + 1, figsize[1] * num_rows),
                 layout="constrained")
    axes = fig.subplots(num_rows, num_cols, squeeze=False)
    image = None
    for i, (row_axes, row) in enumerate(zip(axes, matrices)):
        for j, (ax, matrix) in enumerate(zip(row_axes, row)):
            image = ax.imshow(np.asarray(matrix), cmap=cmap, vmin=0.0, vmax=1.0)
            if xticks is not None:
                ax.set_xticks(range(len(xticks[i])), xticks[i], fontsize=7)
            if yticks is not None:
                ax.set_yticks(range(len(yticks[i])), yticks[i], fontsize=7)
            if i == num_rows - 1:
                ax.set_xlabel(xlabel)
            if j == 0:
                ax.set_ylabel(ylabel if isinstance(ylabel, str) else ylabel[i])
            if titles is not None and i == 0:
                ax.set_title(titles[j])
    fig.colorbar(image, ax=axes, shrink=0.6)
    return fig


def attention_figure(session, count=HEATMAP_EXAMPLES):
    """The heat maps of the first ``count`` validation pairs of a seq2seq session whose
    decoder keeps attention weights (None if it keeps none)."""
    pairs = session.val_pairs[:count]
    src_vocab, tgt_vocab = session.src_vocab, session.tgt_vocab
    X, X_len = build_array_nmt([p[0] for p in pairs], src_vocab, session.cfg.num_steps)
    tokens, lengths, weights = session.decode(X, X_len)
    if weights is None:
        return None
    layers, heads = weights.shape[1], weights.shape[2]
    matrices, xticks, yticks, ylabels = [], [], [], []
    for i, valid in enumerate(X_len.numpy().tolist()):
        outputs = min(int(lengths[i]) + 1, tokens.shape[1])   # the output and its <eos>
        keys = src_vocab.to_tokens(X[i, :valid].numpy().tolist())
        queries = tgt_vocab.to_tokens(tokens[i, :outputs].tolist())
        for layer in range(layers):
            matrices.append([weights[i, layer, h, :outputs, :valid] for h in range(heads)])
            xticks.append(keys)
            yticks.append(queries)
            ylabels.append(f"pair {i + 1}" + (f", layer {layer + 1}" if layers > 1 else "")
                           + "\nqueries (output)")
    titles = [f"head {h + 1}" for h in range(heads)] if heads > 1 else None
    return show_heatmaps(matrices, "keys (source)", ylabels, titles, xticks=xticks,
                         yticks=yticks)
