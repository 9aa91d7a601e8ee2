"""The API gaps the d2l sweep found, each checked against torch: NumPy-style ``axis``/
``keepdims`` aliases, legacy tensor types, device equality, ``meshgrid``,
``repeat_interleave``, ``ravel``, ``linalg.eigvalsh``, lazy conv/batch-norm layers and
in-place random init."""
import copy

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd.autograd import gradcheck
from tests.oracle import assert_close, check

A = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7


# -- axis= / keepdims= --------------------------------------------------------------------------
ALIASED_METHODS = [
    ("sum", dict(axis=1)), ("sum", dict(axis=(0, 2), keepdims=True)), ("mean", dict(axis=0)),
    ("prod", dict(axis=2, keepdims=True)), ("std", dict(axis=1)), ("var", dict(axis=1)),
    ("amax", dict(axis=1)), ("amin", dict(axis=-1, keepdims=True)),
    ("logsumexp", dict(axis=2)), ("cumsum", dict(axis=1)), ("cumprod", dict(axis=0)),
    ("softmax", dict(axis=1)), ("log_softmax", dict(axis=-1)), ("unsqueeze", dict(axis=0)),
]


@pytest.mark.parametrize("name,kwargs", ALIASED_METHODS)
def test_axis_aliases_of_methods_and_functions(name, kwargs):
    check(lambda x: getattr(x, name)(**kwargs), lambda x: getattr(x, name)(**kwargs), A)
    if name != "unsqueeze":
        check(lambda x: getattr(zg, name)(x, **kwargs),
              lambda x: getattr(torch, name)(x, **kwargs), A)


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin", "all", "any", "sort",
                                  "argsort", "squeeze"])
def test_axis_aliases_without_gradients(name):
    data = A[:1] > 0.5 if name in ("all", "any") else A[:1]
    check(lambda x: getattr(x, name)(axis=0), lambda x: getattr(x, name)(axis=0), data,
          grad=False)
    check(lambda x: getattr(zg, name)(x, axis=1), lambda x: getattr(torch, name)(x, axis=1),
          data, grad=False)


def test_axis_aliases_of_joins():
    check(lambda x: zg.cat((x, x), axis=1), lambda x: torch.cat((x, x), axis=1), A)
    check(lambda x: zg.stack((x, x), axis=2), lambda x: torch.stack((x, x), axis=2), A)


def test_alias_and_name_together_is_an_error():
    with pytest.raises(TypeError, match="axis"):
        zg.tensor(A).sum(dim=0, axis=0)
    with pytest.raises(TypeError):
        torch.tensor(A).sum(dim=0, axis=0)


# -- legacy tensor types, Tensor.type, devices --------------------------------------------------
@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
                                  "BoolTensor", "ByteTensor"])
def test_legacy_tensor_types(name):
    z, t = getattr(zg, name)([1, 0, 3]), getattr(torch, name)([1, 0, 3])
    assert_close(z, t)
    assert isinstance(z, getattr(zg, name)) and not isinstance(z, zg.HalfTensor)
    assert tuple(getattr(zg, name)(2, 3).shape) == (2, 3)
    x = zg.tensor([1.5, 2.5])
    assert_close(x.type(getattr(zg, name)), torch.tensor([1.5, 2.5]).type(getattr(torch, name)))
    assert x.type(f"torch.{name}").dtype == z.dtype


def test_type_rejects_unknown_names():
    with pytest.raises(ValueError, match="torch.FloatTensor"):
        zg.ones(2).type("torch.ComplexTensor")


def test_device_equality_follows_torch():
    for lib in (zg, torch):
        assert lib.device("cpu") == lib.device("cpu")
        assert lib.device("cuda:0") != lib.device("cuda:1")
        assert not (lib.device("cpu") == "cpu")  # torch never equates a device with a str
        assert lib.zeros(1).device == lib.device("cpu")


# -- meshgrid, repeat_interleave, ravel ----------------------------------------------------------
@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("sizes", [(3,), (3, 2), (2, 3, 4), (1, 0)])
def test_meshgrid(indexing, sizes):
    arrays = [np.arange(n, dtype=np.float64) + 10 * i for i, n in enumerate(sizes)]
    check(lambda *xs: zg.meshgrid(*xs, indexing=indexing),
          lambda *xs: torch.meshgrid(*xs, indexing=indexing), *arrays)
    check(lambda *xs: zg.meshgrid(list(xs), indexing=indexing),
          lambda *xs: torch.meshgrid(list(xs), indexing=indexing), *arrays)


def test_meshgrid_default_warns_and_checks_inputs():
    with pytest.warns(UserWarning, match="indexing"):
        x, y = zg.meshgrid(zg.arange(2), zg.arange(3))
    assert tuple(x.shape) == (2, 3)
    with pytest.raises(RuntimeError, match="0D or 1D"):
        zg.meshgrid(zg.ones(2, 2), indexing="ij")
    with pytest.raises(RuntimeError, match="same dtype"):
        zg.meshgrid(zg.ones(2), zg.arange(2), indexing="ij")
    with pytest.raises(RuntimeError, match="indexing"):
        zg.meshgrid(zg.ones(2), indexing="yx")


@pytest.mark.parametrize("repeats,dim", [(2, None), (3, 0), (2, -1), ([1, 0, 2], 1),
                                         ([2], 0), (np.int64(2), 2)])
def test_repeat_interleave(repeats, dim):
    def zr(r):
        return zg.tensor(r) if isinstance(r, list) else r

    def tr(r):
        return torch.tensor(r) if isinstance(r, list) else r

    check(lambda x: zg.repeat_interleave(x, zr(repeats), dim),
          lambda x: torch.repeat_interleave(x, tr(repeats), dim), A)
    check(lambda x: x.repeat_interleave(zr(repeats), dim=dim),
          lambda x: x.repeat_interleave(tr(repeats), dim=dim), A)


def test_repeat_interleave_counts_and_errors():
    assert_close(zg.repeat_interleave(zg.tensor([2, 0, 1])),
                 torch.repeat_interleave(torch.tensor([2, 0, 1])))
    x = zg.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"input.size\(1\) = 3"):
        x.repeat_interleave(zg.tensor([1, 2]), dim=1)
    with pytest.raises(RuntimeError, match="non-negative"):
        x.repeat_interleave(-1)
    with pytest.raises(RuntimeError, match="integer"):
        x.repeat_interleave(zg.tensor([1.5]), dim=0)


def test_ravel():
    check(lambda x: x.ravel(), lambda x: x.ravel(), A)
    check(lambda x: x.transpose(0, 2).ravel(), lambda x: x.transpose(0, 2).ravel(), A)


# -- linalg.eigvalsh ------------------------------------------------------------------------------
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigvalsh_matches_torch(uplo):
    a = np.random.default_rng(0).standard_normal((2, 4, 4))
    check(lambda x: zg.linalg.eigvalsh(x, UPLO=uplo), lambda x: torch.linalg.eigvalsh(x, UPLO=uplo),
          a)


def test_eigvalsh_gradcheck_and_errors():
    a = np.random.default_rng(1).standard_normal((3, 3))
    x = zg.tensor(a, requires_grad=True)
    assert gradcheck(lambda m: zg.linalg.eigvalsh(m + m.mT), (x,))
    with pytest.raises(RuntimeError, match="square"):
        zg.linalg.eigvalsh(zg.ones(2, 3))
    with pytest.raises(RuntimeError, match="UPLO"):
        zg.linalg.eigvalsh(zg.ones(2, 2), UPLO="X")


# -- lazy conv / batch-norm layers ---------------------------------------------------------------
LAZY = [("LazyConv2d", (4, 3), dict(padding=1, stride=2), (2, 3, 6, 6)),
        ("LazyConv1d", (4, 3), dict(groups=2), (2, 6, 7)),
        ("LazyBatchNorm2d", (), dict(), (4, 3, 5, 5)),
        ("LazyBatchNorm1d", (), dict(momentum=None), (5, 3))]


@pytest.mark.parametrize("name,args,kwargs,shape", LAZY)
def test_lazy_layers_materialize_like_torch(name, args, kwargs, shape):
    z, t = getattr(zg.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(z) == repr(t)
    assert type(z.weight).__name__ == "UninitializedParameter"
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    z(zg.tensor(x))
    t(torch.tensor(x))
    assert repr(z) == repr(t) and type(z).__name__ == type(t).__name__
    assert [(k, tuple(v.shape)) for k, v in z.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    t.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in z.state_dict().items()})
    z.train(), t.train()
    check(lambda a: z(a), lambda a: t(a), x)


def test_lazy_layers_take_shapes_from_state_dict_and_deepcopy():
    src = zg.nn.Sequential(zg.nn.LazyConv2d(4, 3), zg.nn.LazyBatchNorm2d())
    x = zg.randn(2, 3, 5, 5)
    src(x)
    dst = zg.nn.Sequential(zg.nn.LazyConv2d(4, 3), zg.nn.LazyBatchNorm2d())
    twin = copy.deepcopy(dst)
    dst.load_state_dict(src.state_dict())
    src.eval(), dst.eval()
    assert_close(dst(x), src(x).detach())
    assert dst[0].in_channels == 3 and dst[1].num_features == 4
    twin(zg.randn(1, 2, 5, 5))  # the deepcopy is still lazy and learns its own shapes
    assert tuple(twin[0].weight.shape) == (4, 2, 3, 3)
    with pytest.raises(ValueError, match="divisible by groups"):
        zg.nn.LazyConv2d(4, 3, groups=2)(zg.randn(1, 3, 5, 5))


# -- in-place random init -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [zg.float32, zg.float64, zg.float16])
def test_uniform_and_normal_init_statistics(dtype):
    zg.manual_seed(0)
    w = zg.empty(200, 300, dtype=dtype)
    zg.nn.init.uniform_(w, -2.0, 3.0)
    a = w.numpy().astype(np.float64)
    assert w.dtype == dtype and a.min() >= -2 and a.max() <= 3 and abs(a.mean() - 0.5) < 0.05
    zg.nn.init.normal_(w, mean=1.0, std=0.5)
    a = w.numpy().astype(np.float64)
    assert abs(a.mean() - 1) < 0.01 and abs(a.std() - 0.5) < 0.01
    view = w.t()  # a non-contiguous view takes the copying path and still writes through
    zg.nn.init.uniform_(view, 5.0, 6.0)
    assert w.numpy().min() >= 5
