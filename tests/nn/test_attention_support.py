"""What the attention chapters use beside attention itself, against torch: bmm/baddbmm,
tril/triu with a diagonal, masked_fill with a broadcast mask, gelu(approximate="tanh"),
repeat_interleave with tensor repeats, Embedding(max_norm), Categorical, and learning-rate
warm-up through LambdaLR/LinearLR/SequentialLR."""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import assert_close, both

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def test_bmm_and_baddbmm():
    both(lambda lib, a, b: lib.bmm(a, b), randn(2, 3, 4), randn(2, 4, 5))
    both(lambda lib, c, a, b: lib.baddbmm(c, a, b, beta=0.5, alpha=2.0),
         randn(2, 3, 5), randn(2, 3, 4), randn(2, 4, 5))
    both(lambda lib, c, a, b: lib.baddbmm(c, a, b), randn(3, 5), randn(2, 3, 4), randn(2, 4, 5))


@pytest.mark.parametrize("diagonal", [-2, -1, 0, 1, 3])
def test_tril_triu_with_diagonal(diagonal):
    both(lambda lib, a: lib.tril(a, diagonal=diagonal), randn(2, 4, 5))
    both(lambda lib, a: lib.triu(a, diagonal), randn(4, 5))


@pytest.mark.parametrize("mask_shape", [(3, 1), (1, 4), (2, 1, 4), ()])
def test_masked_fill_with_broadcast_masks(mask_shape):
    mask = np.asarray(RNG.random(mask_shape) > 0.5)
    both(lambda lib, a, m: a.masked_fill(m, -1e6), randn(2, 3, 4), mask)


def test_masked_softmax_d2l_style():
    # d2l's masked_softmax: fill the padded keys with -1e6 (or -inf), then softmax
    mask = np.array([[False, False, True, True], [False, True, True, True]])[:, None, :]
    both(lambda lib, a, m: a.masked_fill(m, -1e6).softmax(-1), randn(2, 3, 4), mask)
    both(lambda lib, a, m: a.masked_fill(m, float("-inf")).softmax(-1), randn(2, 3, 4), mask)


def test_gelu_tanh_approximation():
    both(lambda lib, a: lib.nn.functional.gelu(a, approximate="tanh"), randn(3, 7) * 3)
    both(lambda lib, a: lib.nn.GELU(approximate="tanh")(a), randn(3, 7))


def test_repeat_interleave_with_tensor_repeats():
    repeats = np.array([1, 0, 2])
    both(lambda lib, a, r: a.repeat_interleave(r, dim=1), randn(2, 3, 4), repeats)
    both(lambda lib, r: lib.repeat_interleave(r), repeats)
    both(lambda lib, a: lib.repeat_interleave(a, 2, dim=0), randn(2, 3))


def test_embedding_max_norm_renormalizes_rows_like_torch():
    weight = randn(6, 4) * 3
    idx = np.array([[1, 2], [2, 5]])
    t = torch.nn.Embedding(6, 4, max_norm=1.0)
    z = zg.nn.Embedding(6, 4, max_norm=1.0)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(weight))
    z.load_state_dict({"weight": zg.tensor(weight)})
    assert_close(z(zg.tensor(idx)), t(torch.tensor(idx)))
    assert_close(z.weight, t.weight)


def test_categorical_log_prob_entropy_and_sampling_shape():
    logits = randn(3, 5)
    t = torch.distributions.Categorical(logits=torch.tensor(logits))
    z = zg.distributions.Categorical(logits=zg.tensor(logits))
    value = np.array([0, 4, 2])
    assert_close(z.log_prob(zg.tensor(value)), t.log_prob(torch.tensor(value)))
    assert_close(z.entropy(), t.entropy())
    assert_close(z.probs, t.probs)
    assert tuple(z.sample((7,)).shape) == (7, 3)


def _warmup_lrs(lib):
    p = lib.nn.Parameter(lib.zeros(1))
    opt = lib.optim.SGD([p], lr=0.1)
    sched = lib.optim.lr_scheduler
    warm = sched.LinearLR(opt, start_factor=0.1, total_iters=3)
    decay = sched.LambdaLR(opt, lambda epoch: 0.9 ** epoch)
    seq = sched.SequentialLR(opt, [warm, decay], milestones=[3])
    lrs = []
    for _ in range(8):
        opt.step()
        seq.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def test_warmup_schedulers_match_torch():
    np.testing.assert_allclose(_warmup_lrs(zg), _warmup_lrs(torch), rtol=1e-12)


def test_lambda_lr_transformer_warmup_matches_torch():
    def lrs(lib):
        p = lib.nn.Parameter(lib.zeros(1))
        opt = lib.optim.Adam([p], lr=1.0)
        sched = lib.optim.lr_scheduler.LambdaLR(
            opt, lambda step: 16 ** -0.5 * min((step + 1) ** -0.5, (step + 1) * 4 ** -1.5))
        out = []
        for _ in range(8):
            opt.step()
            sched.step()
            out.append(opt.param_groups[0]["lr"])
        return out
    np.testing.assert_allclose(lrs(zg), lrs(torch), rtol=1e-12)
