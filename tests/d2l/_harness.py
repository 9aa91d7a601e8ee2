"""Run one d2l excerpt under zerograd and under PyTorch, then compare what both returned.

An excerpt is a function ``excerpt(torch, nn, F, data)`` whose body is the book's code
verbatim: the four parameters stand for ``import torch; from torch import nn;
from torch.nn import functional as F; from torch.utils import data``, so the same text runs
against ``zerograd`` (the promise under test) and against ``torch`` (the reference).
Excerpts return a dict of results; ``compare`` checks every entry of both dicts.
"""
import importlib

import numpy as np
import torch as _torch

import zerograd as _zg
from tests.oracle import assert_close, assert_like, assert_same


def libs(name):
    """``(torch, nn, F, data)`` for ``name`` in {"zerograd", "torch"}."""
    return (importlib.import_module(name), importlib.import_module(name + ".nn"),
            importlib.import_module(name + ".nn.functional"),
            importlib.import_module(name + ".utils.data"))


def run_both(excerpt, *args, **kwargs):
    """Results of ``excerpt`` under zerograd and under torch (zerograd first)."""
    return (excerpt(*libs("zerograd"), *args, **kwargs),
            excerpt(*libs("torch"), *args, **kwargs))


def _is_tensor(x):
    return isinstance(x, (_zg.Tensor, _torch.Tensor))


def compare(z, t, shapes_only=(), rtol=1e-5, atol=1e-6, key="result"):
    """Compare zerograd's results ``z`` with torch's ``t`` (dicts, lists, tensors, scalars)
    through the oracle's ``assert_close`` (``assert_same`` for strings).

    Keys named in ``shapes_only`` hold random values: only their shape and dtype must agree.
    """
    if isinstance(t, dict):
        assert isinstance(z, dict) and list(z) == list(t), f"{key}: keys {list(z)} != {list(t)}"
        for k in t:
            compare(z[k], t[k], shapes_only, rtol, atol,
                    key=k if key == "result" else f"{key}.{k}")
        return
    if isinstance(t, (list, tuple)) and not isinstance(t, _torch.Size):
        assert len(z) == len(t), f"{key}: length {len(z)} != torch's {len(t)}"
        for i, (a, b) in enumerate(zip(z, t)):
            compare(a, b, shapes_only, rtol, atol, key=f"{key}[{i}]")
        return
    assert type(z).__name__ == type(t).__name__ or _is_tensor(t) and _is_tensor(z), \
        f"{key}: type {type(z).__name__} != torch's {type(t).__name__}"
    if _is_tensor(t):
        assert_like(z, t, key)
        assert z.requires_grad == t.requires_grad, f"{key}: requires_grad differs"
    if key.split(".")[0].split("[")[0] in shapes_only:
        return
    if isinstance(t, str):
        assert_same(z, t, key)
    else:
        assert_close(z, t, rtol, atol, what=key)


def copy_weights(zg_module, torch_module):
    """Give ``torch_module`` the parameters and buffers of ``zg_module`` (same structure)."""
    state = {k: _torch.tensor(v.detach().numpy()) for k, v in zg_module.state_dict().items()}
    torch_module.load_state_dict(state)


def fake_fashion_mnist(n, seed):
    """Stand-in for Fashion-MNIST (no downloads in tests): 1x28x28 float32 images in [0, 1],
    each a randomly shaded copy of its class's silhouette, so that models learn in a few steps."""
    rng = np.random.default_rng(seed)
    silhouettes = np.random.default_rng(1234).random((10, 1, 28, 28)) < 0.3
    labels = rng.integers(0, 10, n)
    images = silhouettes[labels] * rng.random((n, 1, 28, 28), dtype=np.float32)
    return images, labels.astype(np.int64)


def fashion_loaders(torch, data, batch_size, n_train=1024, n_test=256):
    """What ``d2l.load_data_fashion_mnist(batch_size)`` returns, built on fake images."""
    train, test = fake_fashion_mnist(n_train, 0), fake_fashion_mnist(n_test, 1)
    return (data.DataLoader(data.TensorDataset(torch.tensor(train[0]), torch.tensor(train[1])),
                            batch_size, shuffle=True),
            data.DataLoader(data.TensorDataset(torch.tensor(test[0]), torch.tensor(test[1])),
                            batch_size, shuffle=False))
