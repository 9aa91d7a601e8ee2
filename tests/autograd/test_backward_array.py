"""Ops with an array-level backward: ``backward_array`` (run by ``loss.backward()``) and
``backward`` (run under ``create_graph=True``) give the same gradients."""
import numpy as np
import pytest

import zerograd as zg
from tests.autograd.backward_array_check import check_backward_array

F = zg.nn.functional
RNG = np.random.default_rng(7)


def _batch_norm(x, w, b):
    return F.batch_norm(x, None, None, w, b, training=True)


def _layer_norm(x, w, b):
    return F.layer_norm(x, (4,), w, b)


def _sym(a):
    n = a.shape[-1]
    return a @ a.mT + n * zg.eye(n, dtype=a.dtype, device=a.device)


CASES = [
    ("batch_norm", _batch_norm, [(5, 3, 2), (3,), (3,)]),
    ("batch_norm without affine", lambda x: F.batch_norm(x, None, None, training=True),
     [(6, 2)]),
    ("layer_norm", _layer_norm, [(3, 2, 4), (4,), (4,)]),
    ("layer_norm without affine", lambda x: F.layer_norm(x, (2, 4)), [(3, 2, 4)]),
    ("gelu", F.gelu, [(3, 4)]),
    ("gelu tanh", lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    ("silu", F.silu, [(3, 4)]),
    ("softplus", lambda x: F.softplus(x, beta=2.0, threshold=1.0), [(3, 4)]),
    ("elu", lambda x: F.elu(x, 0.7), [(3, 4)]),
    ("selu", F.selu, [(3, 4)]),
    ("celu", lambda x: F.celu(x, 1.5), [(3, 4)]),
    ("cross_entropy", lambda x: F.cross_entropy(x, zg.tensor([0, 2, 1, 2], device=x.device),
                                                label_smoothing=0.1), [(4, 3)]),
    ("cross_entropy weighted sum", lambda x: F.cross_entropy(
        x, zg.tensor([1, 0, 1], device=x.device), reduction="sum",
        weight=zg.tensor([0.3, 2.0], dtype=zg.float64, device=x.device)), [(3, 2)]),
    ("mul", lambda a, b: a * b, [(3, 4), (4,)]),
    ("mul by a number", lambda a: a * 2.5, [(3, 4)]),
    ("sum all", lambda a: a.sum() * a, [(3, 4)]),
    ("sum dim keepdim", lambda a: a.sum(1, keepdim=True) * a, [(3, 4)]),
    ("sum of many (a broadcast view)", lambda a: a.sum((0, 1)), [(40, 5, 2)]),
    ("mean dims", lambda a: a.mean((0, 2)), [(3, 4, 5)]),
    ("mean all", lambda a: a.mean() * a, [(2, 3)]),
    ("prod with zeros", lambda a: (a * (a > 0)).prod(1), [(3, 4)]),
    ("prod all with one zero", lambda a: (a * (a != a.max())).prod(), [(2, 3)]),
    ("cumprod with zeros", lambda a: (a * (a > 0)).cumprod(1), [(3, 5)]),
    ("svdvals", lambda a: zg.linalg.svdvals(a), [(2, 4, 3)]),
    ("eigvalsh", lambda a: zg.linalg.eigvalsh(_sym(a)), [(2, 3, 3)]),
]


@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_backward_array_agrees_with_backward(name, fn, shapes, device):
    arrays = [RNG.standard_normal(s) for s in shapes]
    if name in ("svdvals", "eigvalsh"):
        # these have no second derivative: backward only refuses, with a clear message
        x = zg.tensor(arrays[0], device=device, requires_grad=True)
        (g,) = zg.autograd.grad(fn(x).sum(), x)
        assert str(g.device) == str(x.device)
        with pytest.raises(RuntimeError, match="twice"):
            zg.autograd.grad(fn(x).sum(), x, create_graph=True)
        return
    check_backward_array(fn, *arrays, device=device)
