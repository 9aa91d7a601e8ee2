"""Creation functions against torch: values and result dtypes, the forms a size may take,
requires_grad, seeded randomness (manual_seed, Generator objects, generator=), the
statistics of the random draws, and torch's error cases."""
import math

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import assert_close


def _same(fn):
    """Build with both libraries; compare dtype, shape and values."""
    z, t = fn(zg), fn(torch)
    assert_close(z, t)
    return z


# -- deterministic factories: values and dtypes -------------------------------------------------
FACTORIES = {
    "zeros varargs": lambda m: m.zeros(2, 3),
    "zeros tuple": lambda m: m.zeros((2, 3)),
    "zeros list": lambda m: m.zeros([2, 3]),
    "zeros Size": lambda m: m.zeros(m.Size([2, 3])),
    "zeros size=": lambda m: m.zeros(size=(2, 3)),
    "zeros 0-d": lambda m: m.zeros(()),
    "zeros empty dim": lambda m: m.zeros(0, 3),
    "zeros int32": lambda m: m.zeros(2, dtype=m.int32),
    "ones": lambda m: m.ones(3, 1),
    "ones bool": lambda m: m.ones(2, dtype=m.bool),
    "ones size=": lambda m: m.ones(size=[4]),
    "full float": lambda m: m.full((2, 2), 1.5),
    "full int is int64": lambda m: m.full((2,), 2),
    "full bool": lambda m: m.full([3], True),
    "full dtype": lambda m: m.full((2,), 2.7, dtype=m.int64),
    "full tensor value": lambda m: m.full((2,), m.tensor(3)),
    "arange int": lambda m: m.arange(5),
    "arange float end": lambda m: m.arange(0.5),
    "arange start end": lambda m: m.arange(1, 4),
    "arange float step": lambda m: m.arange(1, 4, 0.5),
    "arange 0.1 length": lambda m: m.arange(0, 1, 0.1),
    "arange negative step": lambda m: m.arange(10, 0, -3),
    "arange float negative": lambda m: m.arange(1, -1.1, -0.3),
    "arange empty": lambda m: m.arange(5, 5),
    "arange dtype float": lambda m: m.arange(5, dtype=m.float32),
    "arange dtype int truncates": lambda m: m.arange(-1.5, 2.5, dtype=m.int64),
    "arange tensor bound": lambda m: m.arange(m.tensor(4)),
    "arange numpy int": lambda m: m.arange(np.int64(3)),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "linspace one": lambda m: m.linspace(0, 1, 1),
    "linspace zero": lambda m: m.linspace(0, 1, 0),
    "linspace float64": lambda m: m.linspace(-1, 1, 7, dtype=m.float64),
    "linspace int": lambda m: m.linspace(0, 10, 4, dtype=m.int64),
    "linspace descending": lambda m: m.linspace(3, -1, 5),
    "logspace": lambda m: m.logspace(0, 2, 3),
    "logspace base": lambda m: m.logspace(0, 3, 4, base=2),
    "eye": lambda m: m.eye(3),
    "eye rect": lambda m: m.eye(3, 2),
    "eye empty": lambda m: m.eye(0),
    "eye int": lambda m: m.eye(2, 3, dtype=m.int64),
    "zeros_like": lambda m: m.zeros_like(m.ones(2, 3, dtype=m.int32)),
    "ones_like dtype": lambda m: m.ones_like(m.zeros(2), dtype=m.float64),
    "full_like int truncates": lambda m: m.full_like(m.zeros(2, dtype=m.int64), 2.7),
    "full_like float": lambda m: m.full_like(m.zeros(2, 2), -1.25),
    "empty_like shape": lambda m: m.empty_like(m.zeros(2, 3, dtype=m.float64)).fill_(0),
    "empty shape": lambda m: m.empty(2, 3).fill_(1),
    "tensor nested": lambda m: m.tensor([[1, 2], [3, 4]]),
    "tensor mixed is float": lambda m: m.tensor([1, 2.0, True]),
    "tensor bools": lambda m: m.tensor([True, False]),
    "tensor empty": lambda m: m.tensor([]),
    "tensor of tensors": lambda m: m.tensor([m.tensor(1, dtype=m.int32), m.tensor(2, dtype=m.int32)]),
    "tensor numpy float64 scalars": lambda m: m.tensor([np.float64(1.5)]),
    "tensor numpy int32 array": lambda m: m.tensor(np.array([1, 2], dtype=np.int32)),
    "scalar_tensor": lambda m: m.scalar_tensor(3),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_factories_match_torch(name):
    _same(FACTORIES[name])


def test_float_factories_follow_default_dtype():
    prev = zg.get_default_dtype()
    zg.set_default_dtype(zg.float64)
    try:
        for fn in (lambda m: m.zeros(2), lambda m: m.arange(0.5), lambda m: m.linspace(0, 1, 3),
                   lambda m: m.full((2,), 1.5), lambda m: m.eye(2), lambda m: m.tensor([1.0])):
            assert zg.get_default_dtype() is zg.float64
            assert fn(zg).dtype is zg.float64
        assert zg.rand(2).dtype is zg.float64 and zg.arange(3).dtype is zg.int64
    finally:
        zg.set_default_dtype(prev)


def test_like_functions_keep_memory_layout():
    z = zg.ones_like(zg.zeros(2, 3).t())
    t = torch.ones_like(torch.zeros(2, 3).t())
    assert z.stride() == t.stride()


def test_requires_grad_and_out():
    for lib in (torch, zg):
        x = lib.zeros(2, 3, requires_grad=True)
        assert x.requires_grad and x.is_leaf
        assert lib.arange(3.0, requires_grad=True).requires_grad
        with pytest.raises(RuntimeError, match="(?i)only tensors of floating point"):
            lib.arange(0, 5, requires_grad=True)
        out = lib.empty(0)
        r = lib.arange(4, out=out)
        assert r is out and out.tolist() == [0, 1, 2, 3]
        r = lib.zeros(2, 2, out=lib.empty(0))
        assert r.shape == (2, 2)


@pytest.mark.parametrize("fn,exc,match", [
    (lambda m: m.zeros(-1), RuntimeError, "negative dimension"),
    (lambda m: m.zeros(), TypeError, "size"),
    (lambda m: m.ones(2, 3.0), TypeError, "size"),
    (lambda m: m.full(2, 2.0), TypeError, "size"),
    (lambda m: m.arange(0, 5, -1), RuntimeError, "inconsistent with step sign"),
    (lambda m: m.arange(0, 5, 0), RuntimeError, "step must be nonzero"),
    (lambda m: m.linspace(0, 1, -1), RuntimeError, "non-negative"),
    (lambda m: m.eye(-1), RuntimeError, "greater or equal to 0"),
    (lambda m: m.randint(10, 3, (2,)), RuntimeError, "from.*to"),
    (lambda m: m.randint(10, 2), TypeError, "size"),
    (lambda m: m.randperm(-1), RuntimeError, "negative dimension"),
    (lambda m: m.normal(m.zeros(2), -1.0), RuntimeError, "std >= 0"),
    (lambda m: m.normal(0.0, 1.0), TypeError, "size"),
    (lambda m: m.multinomial(m.tensor([0.0, -1.0]), 1), RuntimeError, ""),
    (lambda m: m.multinomial(m.tensor([0.0, 1.0]), 3), RuntimeError, "without replacement"),
    (lambda m: m.bernoulli(m.full((3,), 2.0)), RuntimeError, ""),
    (lambda m: m.tensor([[1, 2], [3]]), ValueError, ""),
    (lambda m: m.tensor([1, 2], requires_grad=True), RuntimeError, "(?i)floating point"),
])
def test_creation_errors(fn, exc, match):
    with pytest.raises(exc):
        fn(torch)
    with pytest.raises(exc, match=match or None):
        fn(zg)


@pytest.mark.parametrize("fn", [lambda m: m.rand(2, dtype=m.int64),
                                lambda m: m.randn(2, dtype=m.int64),
                                lambda m: m.rand_like(m.zeros(2, dtype=m.int64))])
def test_float_only_random_rejects_integer_dtypes(fn):
    with pytest.raises((RuntimeError, NotImplementedError)):
        fn(torch)
    with pytest.raises(RuntimeError, match="floating point dtype"):
        fn(zg)


# -- random draws: dtypes and shapes --------------------------------------------------------------
RANDOM = {
    "rand": lambda m, g: m.rand(2, 3, generator=g),
    "rand tuple float64": lambda m, g: m.rand((2, 3), dtype=m.float64, generator=g),
    "randn size=": lambda m, g: m.randn(size=(4,), generator=g),
    "randn 0-d": lambda m, g: m.randn((), generator=g),
    "randint high": lambda m, g: m.randint(10, (3, 2), generator=g),
    "randint low high": lambda m, g: m.randint(-3, 3, (5,), generator=g),
    "randint keywords": lambda m, g: m.randint(low=2, high=5, size=[2], generator=g),
    "randint size=": lambda m, g: m.randint(10, size=(3,), generator=g),
    "randint float dtype": lambda m, g: m.randint(0, 4, (3,), dtype=m.float32, generator=g),
    "randperm": lambda m, g: m.randperm(6, generator=g),
    "randperm float": lambda m, g: m.randperm(4, dtype=m.float32, generator=g),
    "normal tensors": lambda m, g: m.normal(m.zeros(2, 3), m.ones(3), generator=g),
    "normal tensor mean": lambda m, g: m.normal(m.zeros(2, dtype=m.float64), 1.0, generator=g),
    "normal tensor std": lambda m, g: m.normal(0.0, m.ones(2, dtype=m.float64), generator=g),
    "normal numbers": lambda m, g: m.normal(2.0, 3.0, size=(2, 2), generator=g),
    "normal dtype": lambda m, g: m.normal(0, 1, (2,), dtype=m.float64, generator=g),
    "rand_like": lambda m, g: m.rand_like(m.zeros(2, dtype=m.float64), generator=g),
    "randn_like": lambda m, g: m.randn_like(m.zeros(3), generator=g),
    "randint_like": lambda m, g: m.randint_like(m.zeros(2), 5, generator=g),
    "randint_like low": lambda m, g: m.randint_like(m.zeros(2, dtype=m.int32), 3, 5, generator=g),
    "bernoulli": lambda m, g: m.bernoulli(m.full((3,), 0.5), generator=g),
    "multinomial": lambda m, g: m.multinomial(m.tensor([0.2, 0.3, 0.5]), 2, generator=g),
    "multinomial 2-D replacement": lambda m, g: m.multinomial(m.ones(2, 3), 5, replacement=True,
                                                              generator=g),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_dtypes_and_shapes_match_torch(name):
    z = RANDOM[name](zg, zg.Generator().manual_seed(0))
    t = RANDOM[name](torch, torch.Generator().manual_seed(0))
    assert str(z.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    assert tuple(z.shape) == tuple(t.shape)


@pytest.mark.parametrize("name", list(RANDOM))
def test_manual_seed_makes_every_random_function_repeatable(name):
    fn = RANDOM[name]
    zg.manual_seed(123)
    first = fn(zg, None).tolist()
    zg.manual_seed(123)
    assert fn(zg, None).tolist() == first
    g1, g2 = zg.Generator().manual_seed(7), zg.Generator().manual_seed(7)
    assert fn(zg, g1).tolist() == fn(zg, g2).tolist()


def test_seeds_generators_and_state():
    zg.manual_seed(0)
    a = zg.randn(100)
    b = zg.randn(100)
    assert not np.array_equal(a.numpy(), b.numpy())  # the stream advances
    zg.manual_seed(1)
    assert not np.array_equal(zg.randn(100).numpy(), a.numpy())  # another seed, other values

    # a private generator neither uses nor disturbs the default one
    zg.manual_seed(0)
    g = zg.Generator().manual_seed(0)
    from_g = zg.randn(100, generator=g)
    assert np.array_equal(from_g.numpy(), a.numpy())
    assert np.array_equal(zg.randn(100).numpy(), a.numpy())

    state = zg.get_rng_state()
    c = zg.rand(5)
    zg.set_rng_state(state)
    assert zg.rand(5).tolist() == c.tolist()
    with zg.random.fork_rng():
        zg.rand(3)
    assert zg.initial_seed() == 0 and zg.manual_seed(3).initial_seed() == 3
    gs = g.get_state()
    d = zg.randint(0, 100, (4,), generator=g)
    g.set_state(gs)
    assert zg.randint(0, 100, (4,), generator=g).tolist() == d.tolist()
    with pytest.raises(TypeError, match="Generator"):
        zg.rand(2, generator=np.random.default_rng(0))


def test_fork_rng_restores_the_default_stream():
    zg.manual_seed(5)
    expected = zg.rand(3).tolist()
    zg.manual_seed(5)
    with zg.random.fork_rng():
        zg.rand(10)
    assert zg.rand(3).tolist() == expected


# -- statistics of the draws -----------------------------------------------------------------------
def test_distributions_have_the_right_statistics():
    g = zg.Generator().manual_seed(42)
    u = zg.rand(20000, generator=g).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    n = zg.randn(20000, generator=g).numpy()
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1) < 0.03
    r = zg.randint(-2, 3, (20000,), generator=g).numpy()
    assert set(np.unique(r)) == {-2, -1, 0, 1, 2}
    p = zg.randperm(50, generator=g).numpy()
    assert sorted(p) == list(range(50))
    nm = zg.normal(zg.tensor([0.0, 10.0]).expand(10000, 2), zg.tensor([1.0, 0.1]),
                   generator=g).numpy()
    assert np.allclose(nm.mean(0), [0, 10], atol=0.05) and np.allclose(nm.std(0), [1, 0.1],
                                                                          rtol=0.05)
    b = zg.bernoulli(zg.full((20000,), 0.3), generator=g).numpy()
    assert abs(b.mean() - 0.3) < 0.02


def test_multinomial_frequencies():
    g = zg.Generator().manual_seed(3)
    probs = zg.tensor([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 0.0, 2.0]])
    draws = zg.multinomial(probs, 20000, replacement=True, generator=g).numpy()
    for row, p in zip(draws, probs.numpy()):
        freq = np.bincount(row, minlength=4) / len(row)
        assert np.allclose(freq, p / p.sum(), atol=0.015)
    picks = zg.multinomial(zg.tensor([1.0, 1.0, 1.0, 0.0]).expand(2000, 4), 3, generator=g).numpy()
    assert all(sorted(row) == [0, 1, 2] for row in picks)  # without replacement: distinct
    first = zg.multinomial(zg.tensor([1.0, 3.0]).expand(20000, 2), 1, generator=g).numpy()
    assert abs(first.mean() - 0.75) < 0.02


def test_arange_length_edge_cases_match_torch():
    for args in [(0, 1, 0.1), (0, 0.3, 0.1), (1, 2.5, 0.5), (-1, 1, 0.25), (0, 10, 3), (0.5,),
                 (0, 1, 1 / 3)]:
        assert zg.arange(*args).shape == torch.arange(*args).shape, args
    assert math.isclose(zg.arange(0, 1, 0.1)[-1].item(), torch.arange(0, 1, 0.1)[-1].item())
