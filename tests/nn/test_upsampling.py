"""F.interpolate and nn.Upsample against torch: every mode, size or scale_factor (incl.
non-integer factors and recompute_scale_factor), align_corners, shrinking, gradients,
float64 gradchecks and second order, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import zerograd as zg
import zerograd.nn.functional as F
from zerograd import nn
from zerograd.autograd import gradcheck, gradgradcheck
from tests.oracle import check

RNG = np.random.default_rng(0)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


CASES = [  # (input shape, kwargs)
    ((2, 3, 5), dict(scale_factor=2)),
    ((2, 3, 5), dict(size=7, mode="linear")),
    ((2, 3, 8), dict(size=3, mode="linear", align_corners=True)),
    ((1, 2, 4, 5), dict(scale_factor=2)),
    ((1, 2, 4, 5), dict(scale_factor=(1.5, 2.7))),
    ((1, 2, 4, 5), dict(size=(7, 3))),
    ((1, 2, 6, 5), dict(size=(3, 9), mode="nearest-exact")),
    ((1, 2, 4, 5), dict(scale_factor=1.7, mode="nearest-exact")),
    ((2, 1, 4, 5), dict(scale_factor=2, mode="bilinear")),
    ((2, 1, 4, 5), dict(scale_factor=2, mode="bilinear", align_corners=True)),
    ((2, 3, 7, 6), dict(size=(3, 4), mode="bilinear")),
    ((2, 3, 7, 6), dict(size=(1, 1), mode="bilinear", align_corners=True)),
    ((1, 2, 5, 5), dict(scale_factor=1.3, mode="bilinear")),
    ((1, 2, 5, 5), dict(scale_factor=1.3, mode="bilinear", recompute_scale_factor=True)),
    ((1, 2, 5, 5), dict(scale_factor=0.6, mode="nearest")),
    ((1, 2, 9, 7), dict(size=(4, 3), mode="area")),
    ((1, 2, 9), dict(size=4, mode="area")),
]


@pytest.mark.parametrize("shape,kwargs", CASES, ids=[str(k) for _, k in CASES])
def test_interpolate_matches_torch(shape, kwargs, device):
    check(lambda a: F.interpolate(a, **kwargs), lambda a: TF.interpolate(a, **kwargs),
          randn(*shape), device=device)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), oh=st.integers(1, 12), ow=st.integers(1, 12),
       mode=st.sampled_from(["nearest", "nearest-exact", "bilinear"]),
       align=st.sampled_from([None, True, False]))
def test_interpolate_any_sizes(h, w, oh, ow, mode, align):
    align = align if mode == "bilinear" else None
    kwargs = dict(size=(oh, ow), mode=mode, align_corners=align)
    check(lambda a: F.interpolate(a, **kwargs), lambda a: TF.interpolate(a, **kwargs),
          randn(2, 1, h, w))


@pytest.mark.parametrize("mode,align", [("nearest", None), ("bilinear", False),
                                        ("bilinear", True)])
def test_interpolate_gradcheck_and_second_order(mode, align):
    x = zg.tensor(randn(1, 2, 3, 4, dtype=np.float64), requires_grad=True)
    fn = lambda a: F.interpolate(a, size=(5, 6), mode=mode, align_corners=align)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(lambda a: fn(a) ** 2, (x,))


def test_integer_input_nearest_keeps_dtype(device):
    x = np.arange(12, dtype=np.uint8).reshape(1, 1, 3, 4)
    z = F.interpolate(zg.tensor(x, device=device), scale_factor=2)
    t = TF.interpolate(torch.tensor(x), scale_factor=2)
    assert z.dtype == zg.uint8 and str(z.device) == device
    np.testing.assert_array_equal(z.cpu().numpy(), t.numpy())


def test_resize_transform_agrees_with_interpolate():
    from zerograd.datasets.transforms import Resize
    x = randn(2, 1, 9, 7)
    resized = Resize((5, 11))(zg.tensor(x))
    expected = F.interpolate(zg.tensor(x), size=(5, 11), mode="bilinear")
    np.testing.assert_allclose(resized.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ctor,args", [
    ("Upsample", dict(scale_factor=2)),
    ("Upsample", dict(size=(5, 7), mode="bilinear")),
    ("Upsample", dict(scale_factor=(2, 3), mode="bilinear", align_corners=True)),
    ("UpsamplingNearest2d", dict(scale_factor=3)),
    ("UpsamplingBilinear2d", dict(size=(6, 6))),
])
def test_upsample_modules_match_torch(ctor, args, device):
    zm, tm = getattr(nn, ctor)(**args), getattr(torch.nn, ctor)(**args)
    assert repr(zm) == repr(tm)
    check(zm, tm, randn(2, 3, 4, 5), device=device)


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(), ValueError, "either size or scale_factor"),
    (dict(size=3, scale_factor=2), ValueError, "only one of size or scale_factor"),
    (dict(size=3, align_corners=True), ValueError, "align_corners option can only be set"),
    (dict(size=(3, 3, 3)), ValueError, "same number of spatial dimensions"),
    (dict(size=3, mode="linear"), ValueError, "Got 4D input, but linear mode needs 3D"),
    (dict(size=3, mode="cubic"), ValueError, "mode 'cubic' is not supported"),
    (dict(scale_factor=0.1), ValueError, "output size"),
])
def test_interpolate_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        F.interpolate(zg.ones(1, 1, 4, 4), **kwargs)
    with pytest.raises(ValueError, match="3-D .* or 4-D"):
        F.interpolate(zg.ones(4, 4), size=2)


def test_interpolate_forward_mode_matches_torch_jvp():
    x, v = randn(1, 2, 3, 4, dtype=np.float64), randn(1, 2, 3, 4, dtype=np.float64)
    kwargs = dict(size=(5, 7), mode="bilinear")
    _, z_tangent = zg.func.jvp(lambda a: F.interpolate(a, **kwargs), (zg.tensor(x),),
                               (zg.tensor(v),))
    _, t_tangent = torch.func.jvp(lambda a: TF.interpolate(a, **kwargs), (torch.tensor(x),),
                                  (torch.tensor(v),))
    np.testing.assert_allclose(z_tangent.numpy(), t_tangent.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch deprecates these aliases
@pytest.mark.parametrize("name,kwargs", [("upsample", dict(scale_factor=2, mode="bilinear")),
                                         ("upsample_nearest", dict(size=(5, 3))),
                                         ("upsample_bilinear", dict(scale_factor=2))])
def test_deprecated_aliases_match_torch(name, kwargs, device):
    check(lambda a: getattr(F, name)(a, **kwargs), lambda a: getattr(TF, name)(a, **kwargs),
          randn(1, 2, 3, 4), device=device)
