"""Categorical and multinomial against torch: values, gradients, shapes, errors, seeding."""
import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd.distributions import Categorical

RNG = np.random.default_rng(0)


def _both(array):
    return zg.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


@pytest.mark.parametrize("kind", ["probs", "logits"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 6)])
def test_log_prob_entropy_values_and_gradients(kind, shape):
    raw = RNG.random(shape) + 0.05 if kind == "probs" else RNG.normal(size=shape)
    z, t = _both(raw)
    zd, td = Categorical(**{kind: z}), torch.distributions.Categorical(**{kind: t})
    assert tuple(zd.batch_shape) == tuple(td.batch_shape)
    assert tuple(zd.event_shape) == tuple(td.event_shape) == ()
    value = RNG.integers(0, shape[-1], size=(4,) + shape[:-1])
    zl, tl = zd.log_prob(zg.tensor(value)), td.log_prob(torch.tensor(value))
    ze, te = zd.entropy(), td.entropy()
    np.testing.assert_allclose(zl.detach().numpy(), tl.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(ze.detach().numpy(), te.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(zd.probs.detach().numpy(), td.probs.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(zd.logits.detach().numpy(), td.logits.detach().numpy(),
                               rtol=1e-10)
    (zl.sum() + ze.sum()).backward()
    (tl.sum() + te.sum()).backward()
    np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_entropy_with_zero_probability_is_finite():
    p = [0.0, 0.5, 0.5]
    assert Categorical(probs=zg.tensor(p)).entropy().item() == pytest.approx(
        torch.distributions.Categorical(probs=torch.tensor(p)).entropy().item())


@pytest.mark.parametrize("sample_shape", [(), (7,), (2, 3)])
def test_sample_shapes_dtype_and_seeding(sample_shape):
    probs = zg.tensor(RNG.random((4, 5)))
    d = Categorical(probs=probs)
    tshape = torch.distributions.Categorical(probs=torch.tensor(probs.numpy())).sample(
        sample_shape).shape
    zg.manual_seed(3)
    a = d.sample(sample_shape)
    zg.manual_seed(3)
    b = d.sample(zg.Size(sample_shape))
    assert tuple(a.shape) == tuple(tshape) and a.dtype == zg.int64
    assert (a.numpy() == b.numpy()).all()


def test_sample_frequencies_follow_probs():
    zg.manual_seed(0)
    p = np.array([0.1, 0.2, 0.7])
    draws = Categorical(probs=zg.tensor(p)).sample((20000,)).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 20000, p, atol=0.015)


@pytest.mark.parametrize("make", [
    lambda m: m.distributions.Categorical(),
    lambda m: m.distributions.Categorical(probs=m.tensor([0.5, 0.5]), logits=m.tensor([0., 0.])),
    lambda m: m.distributions.Categorical(probs=m.tensor(0.5)),
    lambda m: m.distributions.Categorical(probs=m.tensor([-0.1, 1.1])),
    lambda m: m.distributions.Categorical(logits=m.tensor([0.0, float("nan")])),
    lambda m: m.distributions.Categorical(probs=m.tensor([0.5, 0.5])).log_prob(m.tensor([2])),
    lambda m: m.distributions.Categorical(probs=m.tensor([0.5, 0.5])).log_prob(m.tensor([-1])),
])
def test_validation_errors_like_torch(make):
    with pytest.raises(ValueError) as theirs:
        make(torch)
    with pytest.raises(ValueError) as ours:
        make(zg)
    first = lambda e: str(e.value).split("(")[0]  # noqa: E731  (tensor reprs differ)
    assert first(ours) == first(theirs)


def test_validate_args_false_skips_checks():
    Categorical(probs=zg.tensor([0.5, 0.5]), validate_args=False).log_prob(zg.tensor([5.0]).long()
                                                                         .clamp(max=1))


# -- multinomial ---------------------------------------------------------------------------
@pytest.mark.parametrize("replacement", [True, False])
@pytest.mark.parametrize("shape,n", [((5,), 3), ((3, 6), 4), ((2, 4), 4)])
def test_multinomial_shapes_seeding_and_distinctness(shape, n, replacement):
    w = RNG.random(shape) + 0.01
    zg.manual_seed(1)
    a = zg.multinomial(zg.tensor(w), n, replacement)
    zg.manual_seed(1)
    b = zg.multinomial(zg.tensor(w), n, replacement)
    g1, g2 = zg.Generator().manual_seed(5), zg.Generator().manual_seed(5)
    c = zg.multinomial(zg.tensor(w), n, replacement, generator=g1)
    d = zg.multinomial(zg.tensor(w), n, replacement, generator=g2)
    t = torch.multinomial(torch.tensor(w), n, replacement)
    assert tuple(a.shape) == tuple(t.shape) and a.dtype == zg.int64
    assert (a.numpy() == b.numpy()).all() and (c.numpy() == d.numpy()).all()
    if not replacement:  # without replacement: no index twice in a row
        rows = a.numpy().reshape(-1, n)
        assert all(len(set(r)) == n for r in rows)


def test_multinomial_zero_weight_never_drawn():
    zg.manual_seed(0)
    out = zg.multinomial(zg.tensor([0.0, 1.0, 0.0, 2.0]), 1000, True).numpy()
    assert set(out.tolist()) <= {1, 3}
    out = zg.multinomial(zg.tensor([[0.0, 1.0, 0.0, 2.0]] * 50), 2, False).numpy()
    assert (np.sort(out, axis=1) == [1, 3]).all()


@pytest.mark.parametrize("args", [
    ([[[0.5, 0.5]]], 1, True),        # 3-d
    ([-1.0, 2.0], 1, True),           # negative weight
    ([0.0, 0.0], 1, True),            # zero sum
    ([0.5, 0.5], 3, False),           # more than categories without replacement
    ([0.5, 0.5], 0, True),            # no samples
    ([0.5, 0.5], -1, False),
])
def test_multinomial_errors_like_torch(args):
    data, n, rep = args
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor(data), n, rep)
    with pytest.raises(RuntimeError):
        zg.multinomial(zg.tensor(data), n, rep)
