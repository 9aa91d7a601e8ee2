"""The basic Tensor surface against torch: construction, NumPy interop, conversion,
metadata, and the printed form."""
import math

import numpy as np
import pytest
import torch

import zerograd as zg


def _same(z, t):
    assert str(z.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    assert tuple(z.shape) == tuple(t.shape)
    np.testing.assert_array_equal(z.detach().numpy(), t.detach().numpy())


# -- construction ---------------------------------------------------------------------------
@pytest.mark.parametrize("data", [
    [1, 2, 3], [1.5, 2.0], [True, False], [1, 2.5], [[1, 2], [3, 4]], 3, 3.5, True, [],
    [[]], [True, 2], np.array([1.0, 2.0]), np.array([1, 2], dtype=np.int32),
    np.array([[1.5]], dtype=np.float32), np.array(2.5), np.float64(1.5), np.int64(7),
    [np.float32(1.5), 2.0], np.zeros((2, 0)), np.array([1, 2], dtype=np.uint8),
])
def test_tensor_infers_dtype_like_torch(data):
    _same(zg.tensor(data), torch.tensor(data))


def test_tensor_from_float64_numpy_keeps_float64_and_copies():
    a = np.array([1.0, 2.0])
    t = zg.tensor(a)
    assert t.dtype is zg.float64
    a[0] = 10
    assert t[0].item() == 1.0  # a copy


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool", "uint8",
                                   "float16", "int8", "int16"])
def test_tensor_dtype_argument(dtype):
    _same(zg.tensor([0, 1, 2], dtype=getattr(zg, dtype)),
          torch.tensor([0, 1, 2], dtype=getattr(torch, dtype)))


def test_tensor_requires_grad_and_refusal_for_integers():
    t = zg.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None
    with pytest.raises(RuntimeError, match="floating point"):
        zg.tensor([1, 2], requires_grad=True)


def test_as_tensor_shares_memory_when_it_can():
    a = np.array([1.0, 2.0, 3.0])
    t = zg.as_tensor(a)
    a[0] = 7.0
    assert t[0].item() == 7.0
    t32 = zg.as_tensor(a, dtype=zg.float32)  # a cast cannot share
    a[1] = 9.0
    assert t32.dtype is zg.float32 and t32[1].item() == 2.0
    x = zg.ones(2)
    assert zg.as_tensor(x) is x
    assert zg.as_tensor([1, 2]).dtype is zg.int64


def test_from_numpy_and_numpy_share_memory_both_ways():
    a = np.arange(6.0).reshape(2, 3)
    t = zg.from_numpy(a)
    assert t.dtype is zg.float64 and tuple(t.shape) == (2, 3)
    a[0, 0] = 100.0
    assert t[0, 0].item() == 100.0
    t.add_(1)  # in place on the tensor shows in the array
    assert a[0, 0] == 101.0
    n = t.numpy()
    n[1, 2] = -1.0
    assert t[1, 2].item() == -1.0 and np.shares_memory(n, a)
    with pytest.raises(TypeError):
        zg.from_numpy([1, 2])


def test_numpy_of_a_tensor_that_requires_grad():
    t = zg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    assert np.shares_memory(t.detach().numpy(), t.detach().numpy())
    np.testing.assert_array_equal(t.detach().numpy(), [1.0, 1.0])


# -- Python conversions ----------------------------------------------------------------------
def test_item_tolist_and_python_numbers():
    assert zg.tensor(2.5).item() == 2.5 and isinstance(zg.tensor(2.5).item(), float)
    assert zg.tensor([7]).item() == 7 and isinstance(zg.tensor([7]).item(), int)
    assert zg.tensor([[True]]).item() is True
    with pytest.raises(RuntimeError):
        zg.tensor([1, 2]).item()
    assert zg.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert zg.tensor(3).tolist() == 3
    assert zg.tensor([1.5, 2.5]).tolist() == torch.tensor([1.5, 2.5]).tolist()
    assert float(zg.tensor([2])) == 2.0 and int(zg.tensor(3.9)) == 3
    assert bool(zg.tensor([0.0])) is False and bool(zg.tensor(2)) is True
    with pytest.raises(RuntimeError):
        bool(zg.tensor([1, 2]))
    assert math.isclose(float(zg.tensor([1.0, 2.0]).sum()), 3.0)
    assert [1, 2, 3][zg.tensor(1)] == 2  # __index__
    assert f"{zg.tensor(2.5):.2f}" == "2.50"


@pytest.mark.parametrize("method,dtype", [
    ("float", "float32"), ("double", "float64"), ("long", "int64"), ("int", "int32"),
    ("bool", "bool"), ("half", "float16"), ("short", "int16"), ("byte", "uint8"),
])
def test_conversion_methods(method, dtype):
    data = [-1.7, 0.0, 2.5]
    z = getattr(zg.tensor(data), method)()
    t = getattr(torch.tensor(data), method)()
    _same(z, t)
    assert z.dtype is getattr(zg, dtype)


def test_to_dtype_forms_and_gradient_through_casts():
    x = zg.tensor([1.5, -2.5], requires_grad=True)
    assert x.to(zg.float32) is x  # no cast, no copy (as torch)
    y = x.to(zg.float64)
    assert y.dtype is zg.float64 and y.grad_fn is not None
    assert x.to(zg.ones(1, dtype=zg.int32)).dtype is zg.int32
    assert x.to("cpu") is x and x.to("cpu", zg.float64).dtype is zg.float64
    assert x.to(dtype=zg.float16).dtype is zg.float16
    (y * y).sum().backward()
    assert x.grad.dtype is zg.float32 and x.grad.tolist() == [3.0, -5.0]
    assert x.type_as(zg.tensor([1])).dtype is zg.int64
    assert x.detach().long().tolist() == [1, -2]  # truncates toward zero, as torch


# -- metadata --------------------------------------------------------------------------------
def test_shape_size_dim_numel_dtype_device():
    z = zg.zeros(2, 3, 4)
    t = torch.zeros(2, 3, 4)
    assert z.shape == t.shape and z.size() == t.size() and z.size(1) == 3 and z.size(-1) == 4
    assert repr(z.shape) == "zerograd.Size([2, 3, 4])"
    assert z.dim() == z.ndim == 3 and z.numel() == 24 and z.nelement() == 24
    assert z.dtype is zg.float32 and z.element_size() == 4
    assert str(z.device) == "cpu" and z.is_cuda is False
    assert z.is_floating_point() and not zg.tensor([1]).is_floating_point()
    assert z.is_contiguous() and not z.transpose(0, 2).is_contiguous()
    assert z.stride() == t.stride() and len(z) == 2
    s = zg.tensor(5.0)
    assert s.shape == () and s.dim() == 0 and s.numel() == 1
    with pytest.raises(IndexError):
        z.size(3)
    with pytest.raises(TypeError):
        len(s)


# -- printing, compared with torch's own text --------------------------------------------------
REPR_CASES = [
    lambda m: m.tensor([1, 2, 3]),
    lambda m: m.tensor([[1, -20], [300, 4]]),
    lambda m: m.tensor([1.5, 2.25, -3.125]),
    lambda m: m.tensor([1.0, 2.0, -3.0]),
    lambda m: m.tensor([1e-5, 1.0, 1e5]),
    lambda m: m.tensor([1e10, 1.0]),
    lambda m: m.tensor([0.001, 1000.0]),
    lambda m: m.tensor([123456789.0]),
    lambda m: m.tensor([float("nan"), float("inf"), -float("inf"), 1.5]),
    lambda m: m.tensor([float("nan"), 2.0]),
    lambda m: m.tensor([0.0, -0.0]),
    lambda m: m.tensor(3.5),
    lambda m: m.tensor(7),
    lambda m: m.tensor(True),
    lambda m: m.tensor([True, False]),
    lambda m: m.tensor([]),
    lambda m: m.zeros(2, 0),
    lambda m: m.zeros(0, dtype=m.int64),
    lambda m: m.zeros(3, 0, 2, dtype=m.int32),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    lambda m: m.tensor([1, 2], dtype=m.int32),
    lambda m: m.tensor([1, 2], dtype=m.uint8),
    lambda m: m.tensor([1.5, 2.0], dtype=m.float16),
    lambda m: m.tensor([[1.5, 2.0]], requires_grad=True),
    lambda m: m.tensor([1.5, 2.0], dtype=m.float64, requires_grad=True),
    lambda m: m.tensor([1.5, 2.0], requires_grad=True) * 2,
    lambda m: m.tensor([1.5, 2.0], requires_grad=True).sum(),
    lambda m: m.tensor([1.5, 2.0], requires_grad=True).mean(),
    lambda m: m.tensor([[1.5, 2.0]], dtype=m.float64, requires_grad=True).exp(),
    lambda m: m.arange(12.0).reshape(3, 4) / 7,
    lambda m: m.arange(24).reshape(2, 3, 4),
    lambda m: m.arange(30.0) * 1.5,
    lambda m: m.arange(2000.0),
    lambda m: m.arange(2000).reshape(40, 50),
    lambda m: m.ones(100, 100),
    lambda m: m.linspace(-1, 1, 17).reshape(1, 17) * 1e-3,
    lambda m: m.arange(60.0).reshape(3, 20).requires_grad_() * 3,
]


@pytest.mark.parametrize("k", range(len(REPR_CASES)))
def test_repr_matches_torch(k):
    z = REPR_CASES[k](zg)
    t = REPR_CASES[k](torch)
    expected = str(t).replace("torch.", "zerograd.")
    assert str(z) == expected
    assert repr(z) == expected


def test_repr_of_random_values_matches_torch():
    rng = np.random.default_rng(0)
    for shape, scale in [((3, 4), 1.0), ((5,), 1e-3), ((2, 2, 3), 1e4), ((7, 3), 50.0)]:
        a = (rng.standard_normal(shape) * scale).astype(np.float32)
        assert str(zg.tensor(a)) == str(torch.tensor(a))


@pytest.mark.parametrize("make,text", [
    (lambda d: zg.tensor([1.0, 2.0], device=d), "tensor([1., 2.], device='standin')"),
    (lambda d: zg.tensor([1, 2], dtype=zg.int32, device=d),
     "tensor([1, 2], device='standin', dtype=zerograd.int32)"),
    (lambda d: zg.zeros(2, 0, device=d), "tensor([], device='standin', size=(2, 0))"),
    (lambda d: zg.tensor([1.5], device=d, requires_grad=True),
     "tensor([1.5000], device='standin', requires_grad=True)"),
    (lambda d: zg.tensor([1.5], device=d, requires_grad=True) * 2,
     "tensor([3.], device='standin', grad_fn=<MulBackward0>)"),
])
def test_repr_names_a_device_other_than_the_cpu_like_torch(make, text):
    # torch prints "tensor([1., 2.], device='cuda:0')": the values, then the device
    assert repr(make("standin")) == text
    assert "device" not in repr(make("cpu"))


def test_new_tensor_methods_follow_the_tensors_device_and_dtype(device):
    x = zg.ones(2, dtype=zg.float64, device=device)
    for made in (x.new_zeros(3), x.new_ones((2, 2)), x.new_full((2,), 7.0), x.new_empty(1),
                 x.new_tensor([1.0, 2.0])):
        assert str(made.device) == device and made.dtype is zg.float64
    assert x.new_zeros(2, dtype=zg.int64).dtype is zg.int64
    assert str(x.new_ones(2, device="cpu").device) == "cpu"
    assert x.new_full((2,), 7.0).tolist() == [7.0, 7.0]
