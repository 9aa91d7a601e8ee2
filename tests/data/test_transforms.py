"""Image transforms: torchvision's semantics, torch.nn.functional.interpolate as the oracle for
Resize, and the batched forms agreeing with per-sample calls."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import zerograd as zg
from zerograd.datasets import transforms as T


@pytest.fixture
def uint8_images():
    return np.random.default_rng(0).integers(0, 256, size=(6, 28, 28), dtype=np.uint8)


# -- ToTensor / Normalize -----------------------------------------------------------------------
def test_to_tensor_gray_and_color(uint8_images):
    out = T.ToTensor()(zg.tensor(uint8_images[0]))
    assert out.dtype == zg.float32 and tuple(out.shape) == (1, 28, 28)
    np.testing.assert_array_equal(out.numpy()[0],
                                  (torch.from_numpy(uint8_images[0]).float() / 255).numpy())
    hwc = np.random.default_rng(1).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    chw = T.ToTensor()(hwc)
    assert tuple(chw.shape) == (3, 5, 7) and chw.is_contiguous()
    np.testing.assert_array_equal(chw.numpy(), np.transpose(hwc, (2, 0, 1)) / np.float32(255))
    floats = np.ones((4, 4), np.float64) * 7  # only uint8 is rescaled, like torchvision
    kept = T.ToTensor()(floats)
    assert kept.dtype == zg.float64 and kept.numpy().max() == 7
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional. Got 4 dimensions"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))


def test_to_tensor_batch_equals_per_sample(uint8_images):
    batch = T.ToTensor().batch(zg.tensor(uint8_images))
    assert tuple(batch.shape) == (6, 1, 28, 28)
    for i in range(6):
        np.testing.assert_array_equal(batch.numpy()[i], T.ToTensor()(uint8_images[i]).numpy())
    color = np.zeros((2, 5, 6, 3), np.uint8)
    assert tuple(T.ToTensor().batch(color).shape) == (2, 3, 5, 6)


def test_normalize_matches_torch_arithmetic():
    x = np.random.default_rng(2).random((2, 3, 4, 5)).astype(np.float32)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    got = T.Normalize(mean, std)(zg.tensor(x))
    want = (torch.tensor(x) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    single = T.Normalize(mean, std)(zg.tensor(x[0]))
    np.testing.assert_array_equal(single.numpy(), want.numpy()[0])
    t = zg.tensor(x[0])
    assert T.Normalize(mean, std, inplace=True)(t) is t
    np.testing.assert_array_equal(t.numpy(), want.numpy()[0])


def test_normalize_errors():
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        T.Normalize(0.5, 0.5)(zg.zeros(1, 2, 2, dtype=zg.uint8))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize(0.5, 0.0)(zg.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"size \(..., C, H, W\)"):
        T.Normalize(0.5, 0.5)(zg.zeros(2, 2))


# -- Resize -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("in_hw,out_hw", [((28, 28), (224, 224)), ((28, 28), (14, 14)),
                                          ((5, 7), (3, 11)), ((9, 13), (18, 26)),
                                          ((10, 10), (10, 10)), ((6, 17), (23, 4))])
def test_resize_matches_interpolate(mode, in_hw, out_hw):
    x = np.random.default_rng(3).standard_normal((2, 3) + in_hw).astype(np.float32)
    got = T.Resize(out_hw, interpolation=mode)(zg.tensor(x))
    kwargs = {} if mode == "nearest" else dict(align_corners=False, antialias=False)
    want = F.interpolate(torch.tensor(x), size=out_hw, mode=mode, **kwargs)
    assert tuple(got.shape) == tuple(want.shape) and got.dtype == zg.float32
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


def test_resize_float64_and_single_image():
    x = np.random.default_rng(4).random((1, 8, 8))
    got = T.Resize((5, 12))(x)
    want = F.interpolate(torch.tensor(x)[None], size=(5, 12), mode="bilinear")[0]
    assert got.dtype == zg.float64
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


def test_resize_int_size_keeps_aspect_ratio():
    assert T.Resize(224).output_size(28, 28) == (224, 224)
    assert T.Resize(10).output_size(20, 40) == (10, 20)
    assert T.Resize(10).output_size(45, 30) == (15, 10)
    assert T.Resize(10, max_size=15).output_size(20, 40) == (7, 15)
    assert tuple(T.Resize([8])(np.zeros((1, 16, 32), np.float32)).shape) == (1, 8, 16)


def test_resize_uint8_rounds_back(uint8_images):
    got = T.Resize(56)(uint8_images[:2])
    float_version = T.Resize(56)(uint8_images[:2].astype(np.float32))
    assert got.dtype == zg.uint8
    np.testing.assert_array_equal(got.numpy(), np.rint(float_version.numpy()).astype(np.uint8))


def test_resize_argument_errors():
    with pytest.raises(ValueError, match="supports interpolation 'nearest' and 'bilinear'"):
        T.Resize(4, interpolation="bicubic")
    with pytest.raises(ValueError, match=r"antialias=True\) is not supported"):
        T.Resize(4, antialias=True)
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize((1, 2, 3))


# -- random transforms --------------------------------------------------------------------------
def test_random_horizontal_flip(uint8_images):
    x = zg.tensor(uint8_images[:, None])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x[0]).numpy(),
                                  uint8_images[0][None, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x[0]).numpy(),
                                  uint8_images[0][None])
    flip = T.RandomHorizontalFlip(generator=zg.Generator().manual_seed(0))
    out = flip.batch(x).numpy()
    flipped = [np.array_equal(out[i, 0], uint8_images[i][:, ::-1]) for i in range(6)]
    kept = [np.array_equal(out[i, 0], uint8_images[i]) for i in range(6)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    again = T.RandomHorizontalFlip(generator=zg.Generator().manual_seed(0)).batch(x).numpy()
    np.testing.assert_array_equal(out, again)


def test_random_crop_with_padding_batch(uint8_images):
    x = uint8_images[:, None]  # N x 1 x 28 x 28
    crop = T.RandomCrop(28, padding=4, generator=zg.Generator().manual_seed(1))
    out = crop.batch(x).numpy()
    assert out.shape == (6, 1, 28, 28)
    padded = np.pad(x, ((0, 0), (0, 0), (4, 4), (4, 4)))
    rng = zg.Generator().manual_seed(1).rng  # the same draws, replayed
    rows, cols = rng.integers(0, 9, 6), rng.integers(0, 9, 6)
    for n in range(6):
        np.testing.assert_array_equal(out[n], padded[n, :, rows[n]:rows[n] + 28,
                                                     cols[n]:cols[n] + 28])
    assert len({(r, c) for r, c in zip(rows, cols)}) > 1


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_random_crop_single_and_padding_modes(mode):
    img = np.arange(30, dtype=np.float32).reshape(1, 5, 6)
    crop = T.RandomCrop((5, 6), padding=(1, 2), padding_mode=mode, fill=-1,
                        generator=zg.Generator().manual_seed(2))
    out = crop(img).numpy()
    widths = ((0, 0), (2, 2), (1, 1))
    padded = np.pad(img, widths, mode=mode, **({"constant_values": -1} if mode == "constant"
                                                else {}))
    windows = [padded[:, i:i + 5, j:j + 6] for i in range(5) for j in range(3)]
    assert any(np.array_equal(out, w) for w in windows)


def test_random_crop_errors_and_pad_if_needed():
    with pytest.raises(ValueError, match=r"Required crop size \(10, 10\) is larger than input "
                                         r"image size \(5, 5\)"):
        T.RandomCrop(10)(np.zeros((1, 5, 5)))
    assert tuple(T.RandomCrop(10, pad_if_needed=True)(np.zeros((1, 5, 5))).shape) == (1, 10, 10)
    with pytest.raises(ValueError, match="padding_mode should be"):
        T.RandomCrop(3, padding_mode="wrap")


# -- composition ---------------------------------------------------------------------------------
def test_compose_and_lambda(uint8_images):
    pipeline = T.Compose([T.ToTensor(), T.Resize(14), T.Normalize((0.5,), (0.25,))])
    assert pipeline.supports_batch
    batch = pipeline.batch(uint8_images)
    for i in range(6):
        np.testing.assert_allclose(batch.numpy()[i], pipeline(uint8_images[i]).numpy(),
                                   rtol=1e-6, atol=1e-6)
    with_lambda = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2)])
    assert not with_lambda.supports_batch
    with pytest.raises(TypeError, match="has no batched form"):
        with_lambda.batch(uint8_images)
    doubled = T.Lambda(lambda t: t * 2, supports_batch=True)
    np.testing.assert_array_equal(doubled.batch(zg.ones(2, 2)).numpy(), 2 * np.ones((2, 2)))
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)
    assert "ToTensor()" in repr(pipeline)
