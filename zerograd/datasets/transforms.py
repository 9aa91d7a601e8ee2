"""Image transforms (torchvision.transforms' names and arguments), vectorized over batches.

Lives at ``zerograd.datasets.transforms`` only (there is no ``zerograd.transforms``).

Images are zerograd tensors or NumPy arrays (a PIL image also works, through
``numpy.asarray``). Each transform is called on one sample, ``t(img)``; those with
``supports_batch = True`` also have ``t.batch(imgs)`` acting on a whole batch with a
leading sample dimension in one vectorized step. Datasets such as ``MNIST`` use
``batch`` to build DataLoader batches without a per-sample loop. Random transforms draw
from a ``zerograd.Generator`` (the default one unless ``generator=`` is given); in
``batch`` each sample gets its own draw (its own flip, its own crop).
"""
import numbers

import numpy as np

from zerograd import dtypes
from zerograd.nn.functional.upsampling import linear_weights, nearest_index
from zerograd.random import rng_of
from zerograd.tensor import Tensor

__all__ = ["Compose", "ToTensor", "Normalize", "Resize", "RandomHorizontalFlip", "RandomCrop",
           "Lambda"]


def _array(img):
    return img._data if isinstance(img, Tensor) else np.asarray(img)


def _tensor(array):
    return Tensor._make(np.ascontiguousarray(array))


class Compose:
    """Apply ``transforms`` one after another."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    @property
    def supports_batch(self):
        return all(getattr(t, "supports_batch", False) for t in self.transforms)

    def batch(self, imgs):
        for t in self.transforms:
            if not getattr(t, "supports_batch", False):
                raise TypeError(f"{t!r} has no batched form; apply the Compose per sample")
            imgs = t.batch(imgs)
        return imgs

    def __repr__(self):
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class ToTensor:
    """uint8 ``HxW`` or ``HxWxC`` image -> float ``CxHxW`` in [0, 1] (default float dtype).

    As in torchvision, only uint8 input is scaled by 1/255; other dtypes keep their
    values and only move the channel dimension first. ``batch`` takes ``NxHxW``
    (-> ``Nx1xHxW``) or ``NxHxWxC`` (-> ``NxCxHxW``).
    """

    supports_batch = True

    @staticmethod
    def _convert(array):
        if array.dtype == np.uint8:
            out = array.astype(dtypes.get_default_dtype().np, order="C")
            out /= 255  # a true division, bit-identical to torchvision's div(255)
            return _tensor(out)
        return _tensor(array)

    def __call__(self, pic):
        array = _array(pic)
        if array.ndim == 2:
            return self._convert(array[None])
        if array.ndim == 3:
            return self._convert(array.transpose(2, 0, 1))
        raise ValueError(f"pic should be 2/3 dimensional. Got {array.ndim} dimensions. (for a "
                         f"batch of images use ToTensor().batch)")

    def batch(self, pics):
        array = _array(pics)
        if array.ndim == 3:
            return self._convert(array[:, None])
        if array.ndim == 4:
            return self._convert(array.transpose(0, 3, 1, 2))
        raise ValueError(f"a batch of images should be NxHxW or NxHxWxC; got {array.ndim} "
                         f"dimensions")

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a float ``(..., C, H, W)`` tensor."""

    supports_batch = True

    def __init__(self, mean, std, inplace=False):
        self.mean = list(mean) if isinstance(mean, (list, tuple)) else [mean]
        self.std = list(std) if isinstance(std, (list, tuple)) else [std]
        self.inplace = inplace

    def __call__(self, tensor):
        array = _array(tensor)
        if array.dtype.kind != "f":
            raise TypeError(f"Input tensor should be a float tensor. Got {array.dtype}; apply "
                            f"ToTensor() first")
        if array.ndim < 3:
            raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                             f"tensor.size() = {tuple(array.shape)}")
        mean = np.asarray(self.mean, dtype=array.dtype)
        std = np.asarray(self.std, dtype=array.dtype)
        if (std == 0).any():
            raise ValueError(f"std evaluated to zero after conversion to {array.dtype}, leading "
                             f"to division by zero.")
        if mean.size not in (1, array.shape[-3]):
            raise ValueError(f"Normalize has {mean.size} means for {array.shape[-3]} channels")
        out = array if self.inplace and isinstance(tensor, Tensor) else array.copy()
        out -= mean[:, None, None]
        out /= std[:, None, None]
        if out is array:
            tensor._bump_version()
            return tensor
        return _tensor(out)

    batch = __call__

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


def _mode_name(interpolation):
    name = getattr(interpolation, "value", interpolation)
    if name not in ("nearest", "bilinear"):
        raise ValueError(f"Resize supports interpolation 'nearest' and 'bilinear', got "
                         f"{interpolation!r}")
    return name


def resize_array(array, size, interpolation="bilinear"):
    """Resize the last two dims of ``array`` to ``size=(h, w)``; matches torch's
    ``F.interpolate(mode=..., align_corners=False, antialias=False)``."""
    out_h, out_w = size
    in_h, in_w = array.shape[-2:]
    if _mode_name(interpolation) == "nearest":
        rows = np.take(array, nearest_index(out_h, in_h), axis=-2)
        return np.take(rows, nearest_index(out_w, in_w), axis=-1)
    work = array if array.dtype.kind == "f" else array.astype(np.float32)
    y0, y1, wy0, wy1 = linear_weights(out_h, in_h, work.dtype)
    x0, x1, wx0, wx1 = linear_weights(out_w, in_w, work.dtype)
    # along the width first, then the height: the same order of operations as torch's kernel.
    # take() along one axis plus in-place updates is several times faster than fancy indexing
    rows = np.take(work, x0, axis=-1)
    rows *= wx0
    other = np.take(work, x1, axis=-1)
    other *= wx1
    rows += other
    out = np.take(rows, y0, axis=-2)
    out *= wy0[:, None]
    other = np.take(rows, y1, axis=-2)
    other *= wy1[:, None]
    out += other
    if array.dtype.kind in "iub":
        info = np.iinfo(array.dtype) if array.dtype.kind != "b" else None
        out = np.rint(out)
        if info is not None:
            out = np.clip(out, info.min, info.max)
        out = out.astype(array.dtype)
    return out


class Resize:
    """Resize to ``size``: ``(h, w)``, or an int for the shorter side (aspect ratio kept).

    Acts on the last two dimensions, so one call resizes a whole ``NxCxHxW`` batch.
    ``interpolation`` is ``'bilinear'`` (default) or ``'nearest'``; results match
    ``torch.nn.functional.interpolate(align_corners=False, antialias=False)``. Integer
    images are interpolated in float32 and rounded back. Antialiasing is not available.
    """

    supports_batch = True

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=None):
        if isinstance(size, numbers.Integral):
            size = int(size)
        elif not (isinstance(size, (list, tuple)) and len(size) in (1, 2)):
            raise TypeError(f"Size should be int or sequence of length 1 or 2. Got {size!r}")
        if antialias:
            raise ValueError("Resize(antialias=True) is not supported; zerograd resizes like "
                             "interpolate(antialias=False)")
        self.size = size[0] if isinstance(size, (list, tuple)) and len(size) == 1 else size
        self.interpolation = _mode_name(interpolation)
        self.max_size = max_size

    def output_size(self, h, w):
        """The (height, width) an ``h x w`` image is resized to (torchvision's rule)."""
        if not isinstance(self.size, int):
            return tuple(self.size)
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = self.size, int(self.size * long / short)
        if self.max_size is not None and new_long > self.max_size:
            new_short, new_long = int(self.max_size * new_short / new_long), self.max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)

    def __call__(self, img):
        array = _array(img)
        if array.ndim < 2:
            raise ValueError(f"Resize needs an image with at least 2 dims (..., H, W), got "
                             f"shape {tuple(array.shape)}")
        return _tensor(resize_array(array, self.output_size(*array.shape[-2:]),
                                    self.interpolation))

    batch = __call__

    def __repr__(self):
        return f"Resize(size={self.size}, interpolation={self.interpolation})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p`` (each sample on its own in ``batch``)."""

    supports_batch = True

    def __init__(self, p=0.5, generator=None):
        self.p = p
        self.generator = generator

    def __call__(self, img):
        if rng_of(self.generator).random() < self.p:
            return _tensor(_array(img)[..., ::-1])
        return img if isinstance(img, Tensor) else _tensor(_array(img))

    def batch(self, imgs):
        array = _array(imgs)
        flip = rng_of(self.generator).random(array.shape[0]) < self.p
        out = array.copy()
        out[flip] = array[flip][..., ::-1]
        return _tensor(out)

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


def _padding_widths(padding):
    """torchvision's padding forms -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * 4
    padding = tuple(int(p) for p in padding)
    if len(padding) == 1:
        return padding * 4
    if len(padding) == 2:
        return padding * 2
    if len(padding) == 4:
        return padding
    raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                     f"{len(padding)} element tuple")


class RandomCrop:
    """Crop a random ``size`` window, after optional ``padding`` (torchvision's arguments).

    ``padding_mode`` is ``'constant'`` (with ``fill``), ``'edge'``, ``'reflect'`` or
    ``'symmetric'``. In ``batch`` every sample gets its own window, gathered in one step.
    """

    supports_batch = True

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant",
                 generator=None):
        self.size = (int(size), int(size)) if isinstance(size, numbers.Integral) else \
            tuple(int(s) for s in (size * 2 if len(size) == 1 else size))
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"padding_mode should be 'constant', 'edge', 'reflect' or "
                             f"'symmetric', got {padding_mode!r}")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self.generator = generator

    def _pad(self, array):
        left, top, right, bottom = _padding_widths(self.padding) if self.padding is not None \
            else (0, 0, 0, 0)
        th, tw = self.size
        h, w = array.shape[-2] + top + bottom, array.shape[-1] + left + right
        if self.pad_if_needed:  # torchvision pads both sides by the missing amount
            extra_w, extra_h = max(tw - w, 0), max(th - h, 0)
            left, right, top, bottom = left + extra_w, right + extra_w, top + extra_h, \
                bottom + extra_h
        if not any((left, top, right, bottom)):
            return array
        widths = [(0, 0)] * (array.ndim - 2) + [(top, bottom), (left, right)]
        if self.padding_mode == "constant":
            return np.pad(array, widths, mode="constant", constant_values=self.fill)
        return np.pad(array, widths, mode=self.padding_mode)

    def _offsets(self, h, w, n):
        th, tw = self.size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        rng = rng_of(self.generator)
        return rng.integers(0, h - th + 1, n), rng.integers(0, w - tw + 1, n)

    def __call__(self, img):
        array = self._pad(_array(img))
        th, tw = self.size
        i, j = (int(v[0]) for v in self._offsets(*array.shape[-2:], 1))
        return _tensor(array[..., i:i + th, j:j + tw])

    def batch(self, imgs):
        array = self._pad(_array(imgs))
        th, tw = self.size
        i, j = self._offsets(*array.shape[-2:], array.shape[0])
        windows = np.lib.stride_tricks.sliding_window_view(array, (th, tw), axis=(-2, -1))
        # windows: N x ... x (H-th+1) x (W-tw+1) x th x tw; pick each sample's own window
        n = np.arange(array.shape[0])
        moved = np.moveaxis(windows, (-4, -3), (1, 2))  # N x oy x ox x ... x th x tw
        return _tensor(moved[n, i, j])

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class Lambda:
    """Wrap a function as a transform; ``supports_batch=True`` declares it works on batches."""

    def __init__(self, lambd, supports_batch=False):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd
        self.supports_batch = supports_batch

    def __call__(self, img):
        return self.lambd(img)

    def batch(self, imgs):
        if not self.supports_batch:
            raise TypeError("this Lambda was not declared batch-capable; pass "
                            "Lambda(fn, supports_batch=True) if fn works on batches")
        return self.lambd(imgs)

    def __repr__(self):
        return "Lambda()"
