"""MNIST and Fashion-MNIST from their IDX files, with torchvision's dataset signature.

The files (gzip or raw) are looked for, in order, in ``root`` (``root/<ClassName>/raw``,
``root/<ClassName>``, ``root/<name>``, ``root``; a ``root`` that does not exist is an
error, as in torchvision, unless ``download=True``), then ``$ZEROGRAD_DATA`` (same
layout), the user cache ``~/.cache/zerograd/<name>``, and system folders (Debian's
``dataset-fashion-mnist`` package installs Fashion-MNIST in
``/usr/share/datasets/fashion-mnist``). ``download=True`` fetches missing files from
the official mirror, checking their MD5.

Unlike torchvision (which returns PIL images), a sample's image is a uint8 ``28x28``
zerograd tensor when there is no transform; ``transforms.ToTensor()`` turns it into a
float ``1x28x28`` tensor in [0, 1].
"""
import os
from pathlib import Path

import numpy as np

from zerograd.datasets.download import cache_dir, check_md5, download_url
from zerograd.datasets.idx import IDXError, read_idx_images, read_idx_labels
from zerograd.tensor import Tensor
from zerograd.utils.data.dataset import Dataset, as_index_array

__all__ = ["MNIST", "FashionMNIST"]


class MNIST(Dataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test 28x28 images.

    Args:
        root: a folder to look in first (optional; see the module docstring for the
            other places searched).
        train: the training split (True) or the test split.
        transform: applied to each image (a uint8 28x28 tensor).
        target_transform: applied to each label (an int).
        download: fetch the files into ``root/<ClassName>/raw`` (or the user cache when
            ``root`` is None) if they are not found.

    ``data`` is a uint8 ``N x 28 x 28`` tensor and ``targets`` an int64 tensor. With no
    transform, or one with a batched form (``ToTensor``, ``Normalize``, ...), a
    DataLoader gathers whole batches at once (``__getbatch__``).
    """

    name = "mnist"
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]
    system_dirs = ()
    install_hint = None

    def __init__(self, root=None, train=True, transform=None, target_transform=None,
                 download=False):
        self.root = None if root is None else os.path.expanduser(os.fspath(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if self.root is not None and not download and not os.path.isdir(self.root):
            # Searching elsewhere would quietly use another copy than the one asked for.
            raise FileNotFoundError(f"{type(self).__name__}: root folder {self.root} does not "
                                    "exist; give the folder that holds the files, root=None "
                                    "to search the usual places, or download=True")
        folder = self._find_folder()
        if folder is None and download:
            folder = self.download()
        if folder is None:
            raise FileNotFoundError(self._not_found_message())
        self.folder = folder
        images, labels = self._load(folder)
        self.data = Tensor._make(images)
        self.targets = Tensor._make(labels.astype(np.int64))

    # -- finding and reading the files ---------------------------------------------------
    @property
    def _split_files(self):
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"

    def search_dirs(self):
        """Every folder looked in, in order."""
        dirs = []
        for base in (self.root, os.environ.get("ZEROGRAD_DATA") or None):
            if base is not None:
                base = Path(base)
                dirs += [base / type(self).__name__ / "raw", base / type(self).__name__,
                         base / self.name, base]
        dirs.append(cache_dir(self.name))
        dirs += [Path(d) for d in self.system_dirs]
        return list(dict.fromkeys(dirs))

    @staticmethod
    def _file_in(folder, stem):
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
        return None

    def _find_folder(self):
        for folder in self.search_dirs():
            if all(self._file_in(folder, stem) for stem in self._split_files):
                return folder
        return None

    def _load(self, folder):
        images_path, labels_path = (self._file_in(folder, stem) for stem in self._split_files)
        images = read_idx_images(images_path, size=(28, 28))
        labels = read_idx_labels(labels_path, num_classes=len(self.classes))
        if images.shape[0] != labels.shape[0]:
            raise IDXError(f"{images_path} holds {images.shape[0]} images but {labels_path} "
                           f"holds {labels.shape[0]} labels; the two files do not belong "
                           f"together")
        return images, labels

    def _not_found_message(self):
        split = "training" if self.train else "test"
        images, labels = self._split_files
        lines = [f"{type(self).__name__} {split} files ({images}[.gz] and {labels}[.gz]) were "
                 f"not found. Looked in:"]
        lines += [f"  {d}" for d in self.search_dirs()]
        lines.append("To get them:")
        if self.install_hint:
            lines.append(f"  - {self.install_hint}")
        lines.append(f"  - pass download=True to fetch them from {self.mirrors[0]} (needs "
                     f"internet)")
        lines.append(f"  - or put the four files {', '.join(r[0] for r in self.resources)} "
                     f"(gzip or not) in {cache_dir(self.name)}, in <root>/"
                     f"{type(self).__name__}/raw, or in a folder named by $ZEROGRAD_DATA")
        return "\n".join(lines)

    def download(self):
        """Fetch all four files (MD5-checked) and return the folder they are in."""
        folder = (Path(self.root) / type(self).__name__ / "raw" if self.root is not None
                  else cache_dir(self.name))
        for filename, md5 in self.resources:
            if check_md5(folder / filename, md5):
                continue
            errors = []
            for mirror in self.mirrors:
                try:
                    download_url(mirror + filename, folder / filename, md5)
                    break
                except (ConnectionError, RuntimeError) as err:
                    errors.append(str(err))
            else:
                hint = f" Or {self.install_hint}." if self.install_hint else ""
                raise RuntimeError(f"Downloading {type(self).__name__} failed: "
                                   f"{'; '.join(errors)}. Without internet, copy the files "
                                   f"into {folder} by hand.{hint}")
        return folder

    # -- the dataset -------------------------------------------------------------------------
    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, index):
        img = Tensor._make(self.data._data[index])
        target = int(self.targets._data[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    @property
    def __getbatch__(self):
        """The batch protocol, present when both transforms are None or batch-capable."""
        for t in (self.transform, self.target_transform):
            if t is not None and not getattr(t, "supports_batch", False):
                raise AttributeError(f"{t!r} has no batched form, so batches are built "
                                     f"sample by sample")
        return self._get_batch

    def _get_batch(self, indices):
        idx = as_index_array(indices)
        images = Tensor._make(self.data._data[idx])
        targets = Tensor._make(self.targets._data[idx])
        if self.transform is not None:
            images = self.transform.batch(images)
        if self.target_transform is not None:
            targets = self.target_transform.batch(targets)
        return [images, targets]

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.folder}",
                 f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grayscale images of 10 kinds of clothing.

    Same interface as ``MNIST``. On Debian/Ubuntu ``apt-get install dataset-fashion-mnist``
    installs the files where this class finds them with no arguments.
    """

    name = "fashion-mnist"
    mirrors = ["https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    system_dirs = ("/usr/share/datasets/fashion-mnist",)
    install_hint = ("install the Debian package: sudo apt-get install dataset-fashion-mnist "
                    "(files go to /usr/share/datasets/fashion-mnist)")
