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


# -- devices: creation functions take device=, random draws happen there --------------------
_CREATORS = ("zeros", "ones", "empty", "full", "arange", "linspace", "logspace", "eye", "tensor",
             "scalar_tensor", "rand", "randn", "randint", "randperm", "normal")


class _OnDevice:
    """zerograd as the table functions see it, every creation function given ``device=``."""

    def __init__(self, device):
        self._device = device

    def __getattr__(self, name):
        fn = getattr(zg, name)
        if name not in _CREATORS:
            return fn
        return lambda *args, **kwargs: fn(*args, device=self._device, **kwargs)


def _on(device):
    return zg if device == "cpu" else _OnDevice(device)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_factories_land_on_the_device(name, device):
    z, t = FACTORIES[name](_on(device)), FACTORIES[name](torch)
    assert str(z.device) == device  # *_like follow their input there
    assert_close(z, t)


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_like_functions_follow_the_input_or_device(name, device):
    like = getattr(zg, name + "_like")
    x = zg.ones(2, 3, device=device)
    assert str(like(x).device) == device
    assert str(like(x, device="cpu").device) == "cpu"
    assert str(like(zg.ones(2), device=device).device) == device
    assert str(zg.full_like(x, 2.0).device) == device and zg.full_like(x, 2.0).sum().item() == 12


def test_out_and_tensor_data_keep_their_device(device):
    out = zg.empty(0, device=device)
    assert zg.arange(4, out=out) is out and str(out.device) == device
    assert str(zg.rand(3, out=zg.empty(0, device=device)).device) == device
    d = zg.ones(2, device=device)
    assert str(zg.tensor(d).device) == device  # a tensor stays where it is
    assert str(zg.tensor(d, device="cpu").device) == "cpu"
    assert zg.tensor([d, d], device=device).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert str(zg.as_tensor(d._data).device) == device
    with pytest.raises(TypeError, match="np.ndarray"):
        zg.from_numpy(zg.ones(2, device="standin")._data)


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_functions_draw_on_the_device_repeatably(name, device):
    fn, lib = RANDOM[name], _on(device)
    zg.manual_seed(123)
    first = fn(lib, None)
    assert str(first.device) == device
    zg.manual_seed(123)
    assert fn(lib, None).tolist() == first.tolist()
    g1, g2 = zg.Generator(device=device).manual_seed(7), zg.Generator(device=device).manual_seed(7)
    a = fn(lib, g1)
    assert str(a.device) == device and a.tolist() == fn(lib, g2).tolist()


def test_each_device_has_its_own_default_generator():
    zg.manual_seed(0)
    expected = zg.rand(4).tolist()
    zg.manual_seed(0)
    on_device = zg.rand(4, device="standin")
    assert str(on_device.device) == "standin"
    assert zg.rand(4).tolist() == expected  # the device draws left the CPU stream alone
    g = zg.Generator(device="standin")
    assert g.device == zg.device("standin") and zg.Generator().device == zg.device("cpu")
    assert str(zg.randn(2, generator=g, device="standin").device) == "standin"
    x = zg.zeros(3, device="standin")
    assert str(x.uniform_(-1, 1).device) == "standin" and x.abs().max().item() <= 1
    assert str(x.normal_(generator=g).device) == "standin"
    with pytest.raises(RuntimeError, match="Expected a 'standin' device type for generator but "
                                           "found 'cpu'"):
        zg.rand(2, device="standin", generator=zg.Generator())
    with pytest.raises(RuntimeError, match="Expected a 'cpu' device type for generator"):
        zg.rand(2, generator=g)
    with zg.random.fork_rng():  # fork_rng saves and restores the devices' streams too
        zg.rand(5, device="standin")
    zg.manual_seed(0)
    zg.rand(4, device="standin")
    after = zg.rand(4, device="standin").tolist()
    zg.manual_seed(0)
    zg.rand(4, device="standin")
    with zg.random.fork_rng():
        zg.rand(5, device="standin")
    assert zg.rand(4, device="standin").tolist() == after


# Values today's CPU stream gives after manual_seed(0), drawn in this order: checkpoints store
# the generator's state, and a resumed run must continue the same trajectory.
PINNED_CPU_STREAM = [
    ("rand", lambda: zg.rand(5),
     [0.6369616985321045, 0.2697867155075073, 0.04097352549433708, 0.016527635976672173,
      0.8132702112197876]),
    ("randn", lambda: zg.randn(2, 3),
     [[0.3615950644016266, 1.3040000200271606, 0.9470809698104858],
      [-0.7037352323532104, -1.2654215097427368, -0.6232744455337524]]),
    ("randint", lambda: zg.randint(0, 10, (6,)), [6, 0, 3, 8, 5, 0]),
    ("randperm", lambda: zg.randperm(7), [3, 0, 5, 4, 2, 6, 1]),
]


def test_cpu_random_stream_is_unchanged():
    zg.manual_seed(0)
    for name, draw, expected in PINNED_CPU_STREAM:
        assert draw().tolist() == expected, name
    zg.manual_seed(0)
    state = zg.get_rng_state()
    zg.rand(3)
    zg.set_rng_state(state)
    assert zg.rand(5).tolist() == PINNED_CPU_STREAM[0][2]


@pytest.mark.skipif(zg.cuda.is_available(), reason="asserts what a machine without a GPU says")
@pytest.mark.parametrize("fn", [
    lambda: zg.zeros(2, device="cuda"), lambda: zg.rand(2, device="cuda"),
    lambda: zg.arange(3, device="cuda"), lambda: zg.tensor([1.0], device="cuda"),
    lambda: zg.full((2,), 1.0, device="cuda:0"), lambda: zg.ones_like(zg.ones(2), device="cuda"),
    lambda: zg.Generator(device="cuda"), lambda: zg.eye(2, device=zg.device("cuda", 0)),
])
def test_cuda_without_a_gpu_backend_is_one_clear_line(fn):
    with pytest.raises(RuntimeError, match="device 'cuda' is not available") as err:
        fn()
    assert "\n" not in str(err.value) and "zerograd.cuda.is_available() is False" in str(err.value)
    assert not zg.cuda.is_available() and zg.cuda.device_count() == 0
    zg.cuda.manual_seed(0)  # accepted, as torch does without a GPU
    zg.cuda.manual_seed_all(0)


@pytest.mark.skipif(zg.cuda.is_available(), reason="asserts what a machine without a GPU says")
def test_zerograd_cuda_answers_from_the_backend_registry():
    """A registered CUDA backend is all zerograd.cuda needs (seeded by manual_seed too)."""
    from zerograd import backend

    class FakeCuda(backend.Backend):
        type = "cuda"

        def device_count(self):
            return 2

        def new_random_generator(self, seed, index=None):
            return np.random.Generator(np.random.PCG64(seed))

    backend.register(FakeCuda())
    try:
        assert zg.cuda.is_available() and zg.cuda.device_count() == 2
        zg.cuda.manual_seed_all(5)
        assert zg.random.default_generator_of("cuda:1").initial_seed() == 5
        zg.cuda.manual_seed(6)
        assert zg.random.default_generator_of("cuda:0").initial_seed() == 6
        assert zg.random.default_generator_of("cuda:1").initial_seed() == 5
        zg.manual_seed(7)
        assert zg.random.default_generator_of("cuda:1").initial_seed() == 7
        assert zg.Generator(device="cuda:1").device == zg.device("cuda", 1)
    finally:
        backend.unregister("cuda")
        for key in [k for k in zg.random._DEVICE_DEFAULTS if k[0] == "cuda"]:
            del zg.random._DEVICE_DEFAULTS[key]
    assert not zg.cuda.is_available()
