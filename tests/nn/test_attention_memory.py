"""Peak memory of scaled dot-product attention, forward and backward, at sequence length 512:
one (L, S) probability matrix per layer is kept for backward, and nothing else of that
size is made: no copy per mask, and backward forms the softmax's gradient one block of
heads at a time (``ops.attention._BLOCK_BYTES``), not as a second whole matrix.

NumPy reports its array allocations to tracemalloc, so the traced peak is the arrays'."""
import tracemalloc

import numpy as np
import pytest

import zerograd as zg

B, H, L, D = 1, 4, 512, 32
PROBS = B * H * L * L * 4  # bytes of one float32 probability matrix


def _causal_masks():
    allowed = np.tril(np.ones((L, L), bool))
    return {"is_causal": None, "bool": allowed,
            "float": np.where(allowed, 0.0, -np.inf).astype(np.float32)}


def _peaks(layers, mask_kind):
    """(bytes held after forward, peak bytes during forward + backward), both net of the
    input, for ``layers`` chained self-attentions."""
    x = zg.tensor(np.random.default_rng(0).standard_normal((B, H, L, D)).astype(np.float32),
                  requires_grad=True)
    mask = _causal_masks()[mask_kind]
    mask = None if mask is None else zg.tensor(mask)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        h = x
        for _ in range(layers):
            h = zg.nn.functional.scaled_dot_product_attention(
                h, h, h, attn_mask=mask, is_causal=mask is None)
        held = tracemalloc.get_traced_memory()[0] - base
        h.sum().backward()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()
    return held, peak


@pytest.mark.parametrize("mask_kind", ["is_causal", "bool", "float"])
@pytest.mark.parametrize("layers", [1, 2])
def test_one_probability_matrix_per_layer(layers, mask_kind):
    held, peak = _peaks(layers, mask_kind)
    # q/k/v-sized arrays are D/L = 1/16 of a probability matrix here and a block 1/8: a
    # few of them fit in the slack, a second (L, S) matrix would not
    assert held < (layers + 0.25) * PROBS, held / PROBS
    assert peak < (layers + 0.75) * PROBS, peak / PROBS
