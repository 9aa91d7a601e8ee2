"""Convolutions against torch: F.conv1d/conv2d/conv_transpose1d/2d and the Conv layers.

Same inputs and weights in both frameworks; outputs, input gradients and weight/bias
gradients compared across strides, paddings ('same' with even kernels included),
dilations, groups (depthwise included), unbatched input, and the kernel's two internal
paths (blocks of samples, stride-1 "wide rows" vs strided columns, flipped-kernel vs
col2im input gradient). float64 gradcheck and gradgradcheck on small shapes.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, strategies as st

import zerograd as zg
from zerograd import nn
from zerograd.autograd import gradcheck, gradgradcheck
from zerograd.backend.cpu import conv_kernels as _conv_kernels
from tests.oracle import assert_close, check, check_module, copy_params

# torch warns that its 'same' padding with an even kernel copies the input: not our concern
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

RNG = np.random.default_rng(0)
TOL = dict(rtol=1e-4, atol=1e-4)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.fixture(params=["default", "tiny"])
def blocks(request, monkeypatch):
    """Run each case with the default block size and with 2-sample blocks (N=3 leaves a
    remainder block), so the blocked loop and its last, smaller block are both tested."""
    if request.param == "tiny":
        monkeypatch.setattr(_conv_kernels.ConvGeometry, "block",
                            lambda self, n, c, split=False: min(n, 2))
    return request.param


CONV2D = [
    ((3, 4, 9, 9), (6, 4, 3, 3), {}),
    ((3, 4, 9, 8), (6, 2, 3, 3), dict(stride=2, padding=1, groups=2)),
    ((3, 4, 10, 8), (4, 1, 3, 3), dict(padding=2, dilation=2, groups=4)),  # depthwise
    ((3, 4, 11, 11), (6, 2, 2, 3), dict(stride=(3, 2), padding=(1, 0), groups=2)),
    ((3, 4, 8, 8), (6, 4, 4, 4), dict(padding="same")),  # even kernel: 1 before, 2 after
    ((3, 4, 8, 7), (6, 4, 3, 2), dict(padding="same", dilation=(1, 3))),
    ((3, 4, 8, 8), (6, 4, 3, 3), dict(padding="valid", stride=2)),
    ((4, 9, 9), (6, 4, 3, 3), dict(padding=1)),  # unbatched
    ((3, 32, 6, 6), (8, 32, 3, 3), dict(padding=1)),  # input grad via the flipped kernel
    ((3, 32, 6, 7), (8, 16, 3, 3), dict(padding=(0, 1), dilation=2, groups=2)),
    ((3, 16, 6, 6), (4, 16, 3, 3), dict(padding=3)),  # pad > kernel extent: col2im
    ((3, 3, 5, 5), (2, 3, 1, 1), dict(stride=2)),
]


@pytest.mark.parametrize("xs,ws,kw", CONV2D, ids=[str(c[2]) for c in CONV2D])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(xs, ws, kw, bias, blocks, device):
    arrays = [randn(*xs), randn(*ws)] + ([randn(ws[0])] if bias else [])
    check(lambda *a: nn.functional.conv2d(*a, **kw),
          lambda *a: torch.nn.functional.conv2d(*a, **kw), *arrays, **TOL, device=device)


CONV1D = [
    ((3, 4, 9), (6, 4, 3), {}),
    ((3, 4, 9), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
    ((3, 4, 10), (6, 4, 4), dict(padding="same", dilation=3)),
    ((4, 12), (4, 1, 5), dict(groups=4, dilation=2)),
]


@pytest.mark.parametrize("xs,ws,kw", CONV1D, ids=[str(c[2]) for c in CONV1D])
def test_conv1d_matches_torch(xs, ws, kw, blocks, device):
    check(lambda x, w, b: nn.functional.conv1d(x, w, b, **kw),
          lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **kw),
          randn(*xs), randn(*ws), randn(ws[0]), **TOL, device=device)


CONV_T = [
    ((3, 4, 5, 5), (4, 3, 3, 3), {}),
    ((3, 4, 5, 5), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((3, 4, 5, 6), (4, 2, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(0, 2),
                                      groups=2)),
    ((3, 4, 5, 5), (4, 3, 3, 3), dict(dilation=2, output_padding=1)),
    ((3, 32, 5, 5), (32, 16, 3, 3), dict(padding=1)),
    ((32, 4, 4), (32, 4, 2, 2), dict(stride=2)),  # unbatched
]


@pytest.mark.parametrize("xs,ws,kw", CONV_T, ids=[str(c[2]) for c in CONV_T])
def test_conv_transpose2d_matches_torch(xs, ws, kw, blocks, device):
    out_channels = ws[1] * kw.get("groups", 1)
    check(lambda x, w, b: nn.functional.conv_transpose2d(x, w, b, **kw),
          lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kw),
          randn(*xs), randn(*ws), randn(out_channels), **TOL, device=device)


def test_conv_transpose1d_matches_torch(device):
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    check(lambda x, w, b: nn.functional.conv_transpose1d(x, w, b, **kw),
          lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, **kw),
          randn(2, 4, 6), randn(4, 3, 3), randn(6), **TOL, device=device)


@given(h=st.integers(4, 9), w=st.integers(4, 9), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), d=st.integers(1, 2), g=st.sampled_from([1, 2]))
def test_conv2d_any_geometry(h, w, k, s, p, d, g):
    assume(d * (k - 1) + 1 <= min(h, w) + 2 * p)  # torch rejects the rest (tested below)
    rng = np.random.default_rng(h * 1000 + w * 100 + k * 10 + s)
    x = rng.standard_normal((2, 4, h, w)).astype(np.float32)
    wt = rng.standard_normal((4, 4 // g, k, k)).astype(np.float32)
    kw = dict(stride=s, padding=p, dilation=d, groups=g)
    check(lambda x, w: nn.functional.conv2d(x, w, **kw),
          lambda x, w: torch.nn.functional.conv2d(x, w, **kw), x, wt, **TOL)


# (x shape, w shape, stride, padding (t, b, l, r), dilation, groups): stride-1 geometries whose
# padded rows are much longer than the output's (compact columns) and some that are not
COLUMN_LAYOUTS = [
    ((3, 6, 14, 14), (16, 6, 5, 5), (1, 1), (0, 0, 0, 0), (1, 1), 1),  # LeNet's conv 2
    ((3, 4, 10, 8), (4, 1, 3, 3), (1, 1), (2, 2, 2, 2), (2, 2), 4),
    ((2, 4, 7, 9), (6, 2, 3, 2), (1, 1), (1, 0, 0, 1), (2, 3), 2),
    ((2, 3, 9, 9), (5, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),  # wide rows kept
    ((2, 3, 9, 9), (5, 3, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),  # strided
]


@pytest.mark.parametrize("xs,ws,stride,pads,dilation,groups", COLUMN_LAYOUTS)
def test_compact_and_wide_columns_agree(xs, ws, stride, pads, dilation, groups):
    """The forward and weight gradient on compact columns (``ConvGeometry.for_columns``),
    the input gradient's two-stage col2im on wide rows, against the same kernels on wide
    rows / the plain definition: float64, so any misplaced window shows."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    g = _conv_kernels.ConvGeometry(xs[2], xs[3], ws[2], ws[3], stride, dilation, pads, groups)
    compact = g.for_columns()
    assert compact.wide == (g.wide and 4 * g.Wp < 5 * g.Wo)
    assert g.wide == (stride == (1, 1))  # for_columns leaves the geometry it was given alone
    y = _conv_kernels.conv_forward(x, w, None, g)
    gy = rng.standard_normal(y.shape)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(
        torch.nn.functional.pad(tx, (pads[2], pads[3], pads[0], pads[1])), tw, stride=stride,
        dilation=dilation, groups=groups)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    gx = _conv_kernels.conv_transpose_forward(gy, w, None, g)
    gw = _conv_kernels.conv_weight_forward(x, gy, g)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_lenet_second_conv_takes_compact_columns():
    g = _conv_kernels.ConvGeometry(14, 14, 5, 5, (1, 1), (1, 1), (0, 0, 0, 0), 1)
    assert g.wide and not g.for_columns().wide  # 14-wide rows for 10 outputs
    g = _conv_kernels.ConvGeometry(28, 28, 5, 5, (1, 1), (1, 1), (2, 2, 2, 2), 1)
    assert g.for_columns() is g  # LeNet's first conv: 32-wide rows for 28 outputs stay wide


def test_empty_batch():
    w, b = zg.randn(3, 2, 3, 3, requires_grad=True), zg.randn(3, requires_grad=True)
    out = nn.functional.conv2d(zg.zeros(0, 2, 5, 5), w, b)
    assert out.shape == (0, 3, 3, 3)
    out.sum().backward()
    assert not w.grad.numpy().any() and not b.grad.numpy().any()


def test_float64_gradcheck_and_gradgradcheck():
    zg.manual_seed(0)
    d = zg.float64
    x = zg.randn(2, 4, 5, 5, dtype=d, requires_grad=True)
    w = zg.randn(4, 2, 3, 3, dtype=d, requires_grad=True)
    b = zg.randn(4, dtype=d, requires_grad=True)
    assert gradcheck(lambda x, w, b: nn.functional.conv2d(x, w, b, stride=2, padding=1,
                                                          groups=2), (x, w, b))
    x1 = zg.randn(2, 2, 5, dtype=d, requires_grad=True)
    w1 = zg.randn(4, 2, 3, dtype=d, requires_grad=True)
    assert gradcheck(lambda x, w: nn.functional.conv1d(x, w, padding=2, dilation=2), (x1, w1))
    xt = zg.randn(1, 4, 3, 3, dtype=d, requires_grad=True)
    bt = zg.randn(2, dtype=d, requires_grad=True)
    assert gradcheck(lambda x, w, b: nn.functional.conv_transpose2d(
        x, w, b, stride=2, padding=1, output_padding=1), (xt, w, bt))
    xs = zg.randn(1, 2, 4, 4, dtype=d, requires_grad=True)
    ws = zg.randn(2, 1, 2, 2, dtype=d, requires_grad=True)
    assert gradgradcheck(lambda x, w: nn.functional.conv2d(x, w, padding=1, groups=2), (xs, ws))
    assert gradgradcheck(lambda x, w: nn.functional.conv_transpose2d(x, w, stride=2), (xs, ws))


@pytest.mark.parametrize("transposed", [False, True])
def test_double_backward_matches_torch(transposed, device):
    """Gradients of a function of first-order gradients (create_graph) agree with torch."""
    kw = dict(stride=2, padding=1, groups=2)
    if transposed:
        kw["output_padding"] = 1
    x, w = randn(2, 4, 5, 5, dtype=np.float64), randn(4, 3, 3, 3, dtype=np.float64)
    if not transposed:
        w = w[:, :2].copy()

    def run(lib, fn, **where):
        xx = lib.tensor(x, requires_grad=True, **where)
        ww = lib.tensor(w, requires_grad=True, **where)
        y = fn(xx, ww, **kw)
        gx, gw = lib.autograd.grad((y * y).sum(), (xx, ww), create_graph=True)
        ((gx * gx).sum() + (gw ** 3).sum()).backward()
        return xx.grad, ww.grad

    name = "conv_transpose2d" if transposed else "conv2d"
    z = run(zg, getattr(nn.functional, name), device=device)
    t = run(torch, getattr(torch.nn.functional, name))
    for a, b in zip(z, t):
        assert str(a.device) == device
        assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_grad_fn_names_and_no_grad():
    x, w = zg.randn(1, 2, 4, 4, requires_grad=True), zg.randn(3, 2, 3, 3)
    assert nn.functional.conv2d(x, w).grad_fn.name() == "ConvolutionBackward0"
    with zg.no_grad():
        assert not nn.functional.conv2d(x, w).requires_grad


# -- layers ------------------------------------------------------------------------------------
LAYERS = [
    ("Conv2d", (3, 6, 3), dict(stride=2, padding=1), (2, 3, 9, 9)),
    ("Conv2d", (4, 8, (3, 2)), dict(dilation=2, groups=4, bias=False), (2, 4, 9, 8)),
    ("Conv2d", (3, 4, 4), dict(padding="same"), (3, 7, 7)),
    ("Conv2d", (3, 4, 3), dict(padding=(1, 2), padding_mode="reflect"), (2, 3, 6, 6)),
    ("Conv2d", (3, 4, 3), dict(padding=1, padding_mode="replicate"), (2, 3, 6, 6)),
    ("Conv2d", (3, 4, 4), dict(padding="same", padding_mode="circular"), (2, 3, 6, 6)),
    ("Conv1d", (3, 6, 3), dict(stride=2, padding=1), (2, 3, 9)),
    ("Conv1d", (4, 4, 5), dict(padding="same", groups=4, padding_mode="reflect"), (2, 4, 9)),
    ("ConvTranspose2d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 4, 4)),
    ("ConvTranspose2d", (4, 6, 2), dict(groups=2, dilation=2, bias=False), (2, 4, 3, 3)),
    ("ConvTranspose1d", (3, 4, 3), dict(stride=3), (2, 3, 5)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS,
                         ids=[f"{c[0]}{c[2]}" for c in LAYERS])
def test_layer_matches_torch(name, args, kwargs, shape, device):
    check_module(getattr(nn, name)(*args, **kwargs),
                 getattr(torch.nn, name)(*args, **kwargs), randn(*shape), **TOL, device=device)


def test_conv_transpose2d_output_size():
    z, t = nn.ConvTranspose2d(2, 3, 3, stride=3), torch.nn.ConvTranspose2d(2, 3, 3, stride=3)
    copy_params(z, t)
    x = randn(1, 2, 4, 4)
    for size in ([12, 12], [13, 14], (1, 3, 14, 13)):
        zo = z(zg.tensor(x), output_size=size)
        to = t(torch.tensor(x), output_size=size)
        assert_close(zo, to, **TOL)
    with pytest.raises(ValueError, match="valid sizes range from"):
        z(zg.tensor(x), output_size=[20, 20])


def test_layer_init_bounds_repr_and_state():
    torch_layer = torch.nn.Conv2d(4, 8, (3, 2), stride=2, padding=1, groups=2, bias=False)
    layer = nn.Conv2d(4, 8, (3, 2), stride=2, padding=1, groups=2, bias=False)
    assert repr(layer) == repr(torch_layer)
    assert layer.weight.shape == (8, 2, 3, 2) and layer.bias is None
    assert list(layer.state_dict()) == ["weight"]
    zg.manual_seed(0)
    big = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)  # kaiming_uniform_(a=sqrt(5)) == U(-1/sqrt(fan_in), ..)
    w, b = big.weight.detach().numpy(), big.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert repr(nn.ConvTranspose2d(3, 6, 3, stride=2, output_padding=1)) == \
        repr(torch.nn.ConvTranspose2d(3, 6, 3, stride=2, output_padding=1))
    assert repr(nn.Conv1d(3, 6, 3, padding="same", padding_mode="reflect")) == \
        repr(torch.nn.Conv1d(3, 6, 3, padding="same", padding_mode="reflect"))
    assert nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape == (4, 3, 3, 3)


def test_lenet_style_training_step_matches_torch():
    def build(lib):
        n = lib.nn
        return n.Sequential(n.Conv2d(1, 6, 5, padding=2), n.ReLU(), n.MaxPool2d(2),
                            n.Conv2d(6, 16, 5), n.ReLU(), n.AvgPool2d(2), n.Flatten(),
                            n.Linear(16, 10))
    t_model, z_model = build(torch), build(zg)
    copy_params(z_model, t_model)
    x, y = randn(8, 1, 12, 12), RNG.integers(0, 10, 8)
    zl = zg.nn.functional.cross_entropy(z_model(zg.tensor(x)), zg.tensor(y))
    tl = torch.nn.functional.cross_entropy(t_model(torch.tensor(x)), torch.tensor(y))
    zl.backward()
    tl.backward()
    assert_close(zl, tl, **TOL)
    for (name, zp), tp in zip(z_model.named_parameters(), t_model.parameters()):
        assert_close(zp.grad, tp.grad, what=name, **TOL)


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,error,match", [
    (lambda: nn.functional.conv2d(zg.randn(2, 3, 28, 28), zg.randn(6, 1, 5, 5)), RuntimeError,
     r"Given groups=1, weight of size \[6, 1, 5, 5\], expected input\[2, 3, 28, 28\] to have 1 "
     r"channels, but got 3 channels instead"),
    (lambda: nn.functional.conv2d(zg.randn(2, 3), zg.randn(6, 1, 5, 5)), RuntimeError,
     r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: "
     r"\[2, 3\]"),
    (lambda: nn.functional.conv2d(zg.randn(2, 1, 2, 2), zg.randn(6, 1, 3, 3)), RuntimeError,
     r"padded input size per channel: \(2 x 2\). Kernel size: \(3 x 3\). Kernel size can't be "
     r"greater than actual input size"),
    (lambda: nn.functional.conv1d(zg.randn(2, 1, 4), zg.randn(6, 1, 3), dilation=2),
     RuntimeError, r"\(4\). Kernel size: \(5\)"),
    (lambda: nn.functional.conv2d(zg.randn(2, 2, 8, 8), zg.randn(5, 1, 3, 3), groups=2),
     RuntimeError, r"expected weight to be divisible by 2 at dimension 0"),
    (lambda: nn.functional.conv2d(zg.randn(2, 1, 8, 8), zg.randn(6, 1, 3, 3),
                                  bias=zg.randn(5)), RuntimeError,
     r"expected bias to be 1-dimensional with 6 elements, but got bias of size \[5\]"),
    (lambda: nn.functional.conv2d(zg.randn(2, 1, 8, 8), zg.randn(6, 1, 3, 3), padding="same",
                                  stride=2), RuntimeError, "not supported for strided"),
    (lambda: nn.functional.conv2d(zg.randn(2, 1, 8, 8), zg.randn(6, 1, 3, 3), padding="foo"),
     RuntimeError, "Invalid padding string: 'foo'"),
    (lambda: nn.functional.conv2d(zg.randn(2, 1, 8, 8), zg.randn(6, 1, 3, 3), stride=0),
     RuntimeError, "non-positive stride"),
    (lambda: nn.functional.conv2d(zg.randn(2, 1, 8, 8), zg.randn(6, 1, 3, 3), padding=-1),
     RuntimeError, "negative padding"),
    (lambda: nn.functional.conv2d(zg.randn(2, 1, 8, 8, dtype=zg.float64),
                                  zg.randn(6, 1, 3, 3)), RuntimeError,
     "expected scalar type Double but found Float"),
    (lambda: nn.functional.conv2d(zg.randn(2, 1, 8, 8), zg.randn(6, 1, 3)), RuntimeError,
     r"4-D weight"),
    (lambda: nn.functional.conv2d(zg.randn(2, 1, 8, 8), zg.randn(6, 1, 3, 3),
                                  stride=(1, 1, 1)), RuntimeError, "list of 2 values"),
    (lambda: nn.functional.conv_transpose2d(zg.randn(2, 3, 8, 8), zg.randn(6, 1, 3, 3)),
     RuntimeError, r"Given transposed=1, weight of size \[6, 1, 3, 3\], expected "
     r"input\[2, 3, 8, 8\] to have 6 channels, but got 3 channels instead"),
    (lambda: nn.functional.conv_transpose2d(zg.randn(2, 3, 8, 8), zg.randn(3, 1, 3, 3),
                                            output_padding=1), RuntimeError,
     "output padding must be smaller than either stride or dilation"),
    (lambda: nn.functional.conv_transpose2d(zg.randn(2, 4, 2, 2), zg.randn(4, 1, 3, 3),
                                            padding=3), RuntimeError, "not positive"),
    (lambda: nn.Conv2d(3, 6, 3, groups=2), ValueError, "in_channels must be divisible by groups"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError, "out_channels must be divisible by groups"),
    (lambda: nn.Conv2d(4, 6, 3, padding="same", stride=2), ValueError, "strided convolutions"),
    (lambda: nn.Conv2d(4, 6, 3, padding_mode="mirror"), ValueError, "padding_mode must be one of"),
    (lambda: nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect"), ValueError,
     'Only "zeros" padding mode'),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_wrong_channels_message_matches_torch_exactly():
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.functional.conv2d(torch.randn(2, 3, 28, 28), torch.randn(6, 1, 5, 5))
    with pytest.raises(RuntimeError) as ours:
        nn.functional.conv2d(zg.randn(2, 3, 28, 28), zg.randn(6, 1, 5, 5))
    assert str(ours.value) == str(theirs.value)
