"""Reading IDX files (the MNIST family's format), gzip-compressed or raw, with validation.

An IDX file is a 4-byte magic number -- two zero bytes, a type code, the number of
dimensions -- then one big-endian int32 per dimension, then the values in C order.
MNIST images are magic 2051 (uint8, 3 dims: N x rows x cols), labels 2049 (uint8,
1 dim). Every problem (unreadable gzip, wrong magic, short or over-long data, images
and labels that disagree) raises ``IDXError`` naming the file and what is wrong.
"""
import gzip
import os
import zlib

import numpy as np

__all__ = ["IDXError", "read_idx", "read_idx_images", "read_idx_labels"]

# type code -> big-endian dtype of the values
_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_SIGNATURE = b"\x1f\x8b"


class IDXError(ValueError):
    """An IDX file is missing, unreadable or inconsistent."""


def _read_bytes(path):
    """The decompressed content of ``path`` (gzip is detected by its signature, not name)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except IsADirectoryError:
        raise IDXError(f"{path}: is a directory, expected an IDX file") from None
    except FileNotFoundError:
        raise IDXError(f"{path}: no such file") from None
    if raw[:2] != _GZIP_SIGNATURE:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise IDXError(f"{path}: not a valid gzip file or truncated while compressed ({err}); "
                       f"delete it and fetch it again") from None


def _parse(path, content):
    if len(content) < 4:
        raise IDXError(f"{path}: file is truncated: {len(content)} bytes, too short for the "
                       f"4-byte IDX magic number")
    zero, code, ndim = int.from_bytes(content[:2], "big"), content[2], content[3]
    magic = int.from_bytes(content[:4], "big")
    if zero != 0 or code not in _TYPES or ndim == 0:
        raise IDXError(f"{path}: wrong magic number {magic} (0x{magic:08x}); not an IDX file "
                       f"(expected 2051 for images, 2049 for labels)")
    header = 4 + 4 * ndim
    if len(content) < header:
        raise IDXError(f"{path}: file is truncated inside the header ({len(content)} bytes, "
                       f"the header of a {ndim}-d IDX file needs {header})")
    shape = tuple(int.from_bytes(content[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[code])
    expected = dtype.itemsize
    for s in shape:
        expected *= s
    found = len(content) - header
    if found < expected:
        raise IDXError(f"{path}: file is truncated: header says shape {shape} "
                       f"({expected} bytes of data), but only {found} bytes follow")
    if found > expected:
        raise IDXError(f"{path}: {found - expected} unexpected bytes after the data of shape "
                       f"{shape}; the file is corrupt")
    return magic, shape, dtype, header


def _load(path):
    path = os.fspath(path)
    content = _read_bytes(path)
    magic, shape, dtype, header = _parse(path, content)
    array = np.frombuffer(content, dtype=dtype, offset=header).reshape(shape)
    # frombuffer views read-only bytes: copy (and fix the byte order) into a normal array
    return path, magic, array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path):
    """The array stored in an IDX file (gzip or raw), in native byte order, writable."""
    return _load(path)[2]


def _read_expecting(path, magic, what):
    path, found, array = _load(path)
    if found != magic:
        raise IDXError(f"{path}: wrong magic number {found} for {what} (expected {magic}); is "
                       f"this the right file?")
    return array


def read_idx_images(path, size=None):
    """uint8 images N x rows x cols from an IDX file with magic 2051.

    ``size=(rows, cols)`` also checks the image size (MNIST's is 28 x 28).
    """
    images = _read_expecting(path, IMAGES_MAGIC, "images")
    if size is not None and tuple(images.shape[1:]) != tuple(size):
        raise IDXError(f"{os.fspath(path)}: images are {images.shape[1]}x{images.shape[2]}, "
                       f"expected {size[0]}x{size[1]}")
    return images


def read_idx_labels(path, num_classes=None):
    """uint8 labels (1-d) from an IDX file with magic 2049, optionally range-checked."""
    labels = _read_expecting(path, LABELS_MAGIC, "labels")
    if num_classes is not None and labels.size and int(labels.max()) >= num_classes:
        raise IDXError(f"{os.fspath(path)}: label {int(labels.max())} is out of range for "
                       f"{num_classes} classes")
    return labels
