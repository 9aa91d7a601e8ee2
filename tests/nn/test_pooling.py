"""Pooling against torch: max/avg/adaptive pooling, functional and layers.

Outputs, returned indices and input gradients are compared across kernel sizes, strides,
paddings, dilations, ceil_mode, count_include_pad and divisor_override; ties and NaNs
pick the same winner as torch. float64 gradcheck and gradgradcheck on small shapes.
"""
import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn
from zerograd.autograd import gradcheck, gradgradcheck
from tests.oracle import assert_close, check, check_module

RNG = np.random.default_rng(0)
F, TF = nn.functional, torch.nn.functional


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


WINDOWS_2D = [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((2, 3, 9, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 9, 9), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((2, 3, 11, 11), dict(kernel_size=3, stride=3, padding=1, ceil_mode=True)),
    ((2, 3, 10, 9), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))),
    ((3, 7, 7), dict(kernel_size=3, stride=1, padding=1)),  # unbatched, overlapping
]


@pytest.mark.parametrize("shape,kw", WINDOWS_2D, ids=[str(c[1]) for c in WINDOWS_2D])
@pytest.mark.parametrize("dilation", [1, 2])
def test_max_pool2d_matches_torch(shape, kw, dilation, device):
    kw = dict(kw, dilation=dilation)
    if dilation > 1 and kw.get("padding", 0) != 0:
        kw["padding"] = 1
    check(lambda x: F.max_pool2d(x, **kw, return_indices=True),
          lambda x: TF.max_pool2d(x, **kw, return_indices=True), randn(*shape), device=device)


@pytest.mark.parametrize("shape,kw", WINDOWS_2D, ids=[str(c[1]) for c in WINDOWS_2D])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 5])
def test_avg_pool2d_matches_torch(shape, kw, count_include_pad, divisor_override, device):
    kw = dict(kw, count_include_pad=count_include_pad, divisor_override=divisor_override)
    check(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), randn(*shape),
          device=device)


@pytest.mark.parametrize("shape,kernel", [((2, 3, 8, 8), 2), ((2, 3, 9, 8), (3, 2)),
                                          ((2, 3, 4, 9), (1, 3)), ((1, 2, 6, 6), 3)])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_avg_pool2d_tiling_windows_match_torch(shape, kernel, layout, device):
    """Windows that tile the input exactly (stride = kernel, no padding) add whole rows
    first, then strided columns; a strided input (a transposed view) too."""
    x = randn(*shape)
    if layout == "strided":
        x = np.ascontiguousarray(np.swapaxes(x, 2, 3)).swapaxes(2, 3)  # same values, F order
    check(lambda x: F.avg_pool2d(x, kernel), lambda x: TF.avg_pool2d(x, kernel), x,
          device=device)
    kw = dict(kernel_size=kernel, divisor_override=4)
    check(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), x, device=device)


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 8), dict(kernel_size=2)),
    ((2, 3, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((3, 10), dict(kernel_size=2, stride=1, dilation=3)),
])
def test_pool1d_matches_torch(shape, kw, device):
    check(lambda x: F.max_pool1d(x, **kw, return_indices=True),
          lambda x: TF.max_pool1d(x, **kw, return_indices=True), randn(*shape), device=device)
    kw = {k: v for k, v in kw.items() if k != "dilation"}
    check(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw), randn(*shape),
          device=device)


@pytest.mark.parametrize("shape,size", [
    ((2, 3, 8, 8), (4, 4)), ((2, 3, 7, 9), (3, 4)), ((2, 3, 5, 5), 1), ((3, 5, 6), (None, 4)),
    ((2, 3, 5, 5), 7), ((2, 3, 10, 10), (3, 5)), ((2, 3, 6, 6), (2, 3)),
])
def test_adaptive_pool2d_matches_torch(shape, size, device):
    check(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size),
          randn(*shape), device=device)
    check(lambda x: F.adaptive_max_pool2d(x, size, return_indices=True),
          lambda x: TF.adaptive_max_pool2d(x, size, return_indices=True), randn(*shape),
          device=device)


@pytest.mark.parametrize("size", [1, 3, 4])
def test_adaptive_pool1d_matches_torch(size, device):
    check(lambda x: F.adaptive_avg_pool1d(x, size), lambda x: TF.adaptive_avg_pool1d(x, size),
          randn(2, 3, 10), device=device)
    check(lambda x: F.adaptive_max_pool1d(x, size, return_indices=True),
          lambda x: TF.adaptive_max_pool1d(x, size, return_indices=True), randn(2, 3, 10),
          device=device)


def test_ties_pick_the_first_maximum_like_torch(device):
    x = np.ones((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 1] = 2
    check(lambda x: F.max_pool2d(x, 3, 1, 1, return_indices=True),
          lambda x: TF.max_pool2d(x, 3, 1, 1, return_indices=True), x, device=device)
    check(lambda x: F.adaptive_max_pool2d(x, 3, return_indices=True),
          lambda x: TF.adaptive_max_pool2d(x, 3, return_indices=True), x, device=device)


def test_nan_propagates_with_torchs_index(device):
    x = np.array([[[[1, np.nan, 3, np.nan], [np.nan, 0, 1, 2], [5, 6, 7, 8], [1, 2, 3, 4]]]],
                 np.float32)
    for k, s in [(2, 2), (3, 1)]:
        z = F.max_pool2d(zg.tensor(x, device=device), k, s, return_indices=True)
        t = TF.max_pool2d(torch.tensor(x), k, s, return_indices=True)
        assert str(z[0].device) == str(z[1].device) == device
        assert_close(z[0], t[0])
        assert_close(z[1], t[1])


def test_integer_max_pool(device):
    x = RNG.integers(-50, 50, (2, 3, 6, 6))
    z = F.max_pool2d(zg.tensor(x, device=device), 3, 2, 1)
    assert str(z.device) == device
    assert_close(z, TF.max_pool2d(torch.tensor(x), 3, 2, 1))


def test_float64_gradcheck_and_gradgradcheck():
    zg.manual_seed(0)
    x = zg.randn(1, 2, 5, 6, dtype=zg.float64, requires_grad=True)
    assert gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1), (x,))
    assert gradcheck(lambda x: F.max_pool2d(x, 2, 1, dilation=2), (x,))
    assert gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                     (x,))
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, (4, 4)), (x,))
    assert gradcheck(lambda x: F.adaptive_max_pool2d(x, (4, 4)), (x,))
    small = zg.randn(1, 1, 4, 4, dtype=zg.float64, requires_grad=True)
    assert gradgradcheck(lambda x: F.max_pool2d(x, 2, 1) ** 2, (small,))
    assert gradgradcheck(lambda x: F.avg_pool2d(x, 3, 1, 1) ** 2, (small,))
    assert gradgradcheck(lambda x: F.adaptive_max_pool2d(x, 3) ** 2, (small,))


@pytest.mark.parametrize("name,kw", [("max_pool2d", dict(kernel_size=3, stride=2, padding=1)),
                                     ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1)),
                                     ("adaptive_max_pool2d", dict(output_size=3))])
def test_double_backward_matches_torch(name, kw, device):
    """The gradient of a function of the gradient, and (the oracle's backward) its gradient:
    the backward of each pooling backward (WindowScatter -> WindowGather, and for unequal
    adaptive windows IndexScatter -> IndexGather) at second and third order."""
    def grad_of_grad(lib, fn):
        def run(x):
            (g,) = lib.autograd.grad((fn(x, **kw) ** 3).sum(), (x,), create_graph=True)
            (gg,) = lib.autograd.grad((g * g).sum(), (x,), create_graph=True)
            return gg
        return run

    check(grad_of_grad(zg, getattr(F, name)), grad_of_grad(torch, getattr(TF, name)),
          randn(2, 2, 7, 7, dtype=np.float64), device=device)


# -- layers ------------------------------------------------------------------------------------
LAYERS = [
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", (3, 2, 1), dict(ceil_mode=True, dilation=1), (2, 3, 9, 9)),
    ("MaxPool1d", (3,), dict(stride=2), (2, 3, 9)),
    ("AvgPool2d", (3, 1, 1), dict(count_include_pad=False), (2, 3, 6, 6)),
    ("AvgPool2d", (2,), dict(divisor_override=3), (2, 3, 6, 6)),
    ("AvgPool1d", (2,), {}, (2, 3, 6)),
    ("AdaptiveAvgPool2d", ((None, 3),), {}, (2, 3, 5, 7)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 5, 7)),
    ("AdaptiveMaxPool2d", (3,), {}, (2, 3, 5, 7)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveMaxPool1d", (4,), {}, (2, 3, 9)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS,
                         ids=[f"{c[0]}{c[1]}{c[2]}" for c in LAYERS])
def test_layer_matches_torch(name, args, kwargs, shape, device):
    z, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(z) == repr(t)
    check_module(z, t, randn(*shape), device=device)


def test_layers_return_indices(device):
    x = randn(2, 3, 8, 8)
    for z, t in [(nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True)),
                 (nn.AdaptiveMaxPool2d(3, return_indices=True),
                  torch.nn.AdaptiveMaxPool2d(3, return_indices=True))]:
        (zy, zi), (ty, ti) = z(zg.tensor(x, device=device)), t(torch.tensor(x))
        assert str(zy.device) == str(zi.device) == device
        assert_close(zy, ty)
        assert_close(zi, ti)


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda: F.max_pool2d(zg.randn(2, 3, 8, 8), 3, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3"),
    (lambda: F.max_pool2d(zg.randn(2, 3, 2, 2), 3),
     r"Given input size: \(3x2x2\). Calculated output size: \(3x0x0\). Output size is too small"),
    (lambda: F.avg_pool2d(zg.randn(2, 3, 2, 2), 3), "Output size is too small"),
    (lambda: F.max_pool2d(zg.randn(3, 2), 3), r"Expected 3D or 4D \(batch mode\) tensor"),
    (lambda: F.max_pool1d(zg.randn(2, 3, 4, 5), 2), "Expected 2D or 3D"),
    (lambda: F.max_pool2d(zg.randn(2, 3, 5, 5), 2, stride=0), "must be positive"),
    (lambda: F.max_pool2d(zg.randn(2, 3, 5, 5), 2, dilation=0), "dilation should be greater"),
    (lambda: F.max_pool2d(zg.randn(2, 3, 5, 5), (2, 2, 2)), "kernel_size must either be"),
    (lambda: F.avg_pool2d(zg.randn(2, 3, 5, 5), 2, divisor_override=0), "divisor must be not zero"),
    (lambda: F.adaptive_avg_pool2d(zg.randn(2, 3), 3),
     r"Expected 3D or 4D tensor, but got \[2, 3\]"),
    (lambda: F.adaptive_max_pool2d(zg.randn(2, 3), 3), "Expected 3D or 4D tensor"),
    (lambda: F.adaptive_avg_pool2d(zg.randn(2, 3, 5, 5), (1, 2, 3)), "output_size must be 2"),
])
def test_errors(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()
