"""The IDX reader on small generated files: formats, dtypes, and every kind of corruption."""
import gzip

import numpy as np
import pytest

from zerograd.datasets.idx import IDXError, read_idx, read_idx_images, read_idx_labels

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
         np.float64: 0x0E}


def idx_bytes(array, code=None):
    array = np.asarray(array)
    code = CODES[array.dtype.type] if code is None else code
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, content, compress=False):
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("compress", [False, True])
def test_reads_images_and_labels(tmp_path, images, compress):
    img = write(tmp_path / "img", idx_bytes(images), compress)
    lab = write(tmp_path / "lab", idx_bytes(np.array([3, 1, 4, 1, 5], np.uint8)), compress)
    got = read_idx_images(img, size=(28, 28))
    np.testing.assert_array_equal(got, images)
    assert got.dtype == np.uint8 and got.flags.writeable
    np.testing.assert_array_equal(read_idx_labels(lab, num_classes=10), [3, 1, 4, 1, 5])


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_big_endian_types_come_back_native(tmp_path, dtype):
    values = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    got = read_idx(write(tmp_path / "x.gz", idx_bytes(values), compress=True))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, values)


def test_wrong_magic_names_the_file(tmp_path, images):
    labels = write(tmp_path / "labels-as-images", idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(IDXError, match=r"labels-as-images: wrong magic number 2049 for images "
                                       r"\(expected 2051\)"):
        read_idx_images(labels)
    img = write(tmp_path / "images-as-labels", idx_bytes(images))
    with pytest.raises(IDXError, match="images-as-labels: wrong magic number 2051 for labels"):
        read_idx_labels(img)
    junk = write(tmp_path / "junk.bin", b"PK\x03\x04 not an idx file at all")
    with pytest.raises(IDXError, match=r"junk.bin: wrong magic number .*not an IDX file"):
        read_idx(junk)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data(tmp_path, images, compress):
    content = idx_bytes(images)[:-100]
    path = write(tmp_path / "short", content, compress)
    with pytest.raises(IDXError, match=r"short: file is truncated: header says shape "
                                       r"\(5, 28, 28\) \(3920 bytes of data\), but only 3820"):
        read_idx_images(path)


def test_truncated_header_and_tiny_files(tmp_path, images):
    with pytest.raises(IDXError, match="truncated inside the header"):
        read_idx(write(tmp_path / "h", idx_bytes(images)[:9]))
    with pytest.raises(IDXError, match="too short for the 4-byte IDX magic"):
        read_idx(write(tmp_path / "t", b"\x00\x00"))


def test_trailing_bytes(tmp_path, images):
    path = write(tmp_path / "long", idx_bytes(images) + b"\x00" * 7)
    with pytest.raises(IDXError, match="long: 7 unexpected bytes after the data"):
        read_idx_images(path)


def test_corrupt_gzip(tmp_path, images):
    packed = gzip.compress(idx_bytes(images))
    path = write(tmp_path / "cut.gz", packed[: len(packed) // 2])
    with pytest.raises(IDXError, match="cut.gz: not a valid gzip file or truncated"):
        read_idx_images(path)


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(IDXError, match="is a directory, expected an IDX file"):
        read_idx(tmp_path)
    with pytest.raises(IDXError, match="nope.gz: no such file"):
        read_idx(tmp_path / "nope.gz")


def test_image_size_and_label_range_checks(tmp_path):
    small = write(tmp_path / "small", idx_bytes(np.zeros((2, 8, 8), np.uint8)))
    with pytest.raises(IDXError, match="small: images are 8x8, expected 28x28"):
        read_idx_images(small, size=(28, 28))
    labels = write(tmp_path / "lab", idx_bytes(np.array([0, 12], np.uint8)))
    with pytest.raises(IDXError, match="lab: label 12 is out of range for 10 classes"):
        read_idx_labels(labels, num_classes=10)
