"""Errors and warnings of the Python API where torch is clearer than NumPy's defaults:
ragged lists, integer overflow, ``.grad`` of a non-leaf, floating-point warnings
(issue 12, item 13)."""
import os
import subprocess
import sys
import warnings

import pytest
import torch

import zerograd as zg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("data", [[[1, 2], [3]], [[[1, 2], [3, 4]], [[1, 2], [3]]],
                                  [[1.0, 2.0, 3.0], [4.0, 5.0]]])
def test_ragged_lists_get_torchs_message(data):
    with pytest.raises(ValueError) as theirs:
        torch.tensor(data)
    with pytest.raises(ValueError) as ours:
        zg.tensor(data)
    assert str(ours.value) == str(theirs.value)  # "expected sequence of length 2 at dim 1 ..."


def test_numbers_mixed_with_lists_are_one_clear_line():
    with pytest.raises(ValueError, match="expected a sequence at dim 1 for every element"):
        zg.tensor([[1, 2], 3])


@pytest.mark.parametrize("data, dtype", [([2 ** 63], None), ([-2 ** 63 - 1], None),
                                         ([2 ** 31], zg.int32), ([300], zg.uint8)])
def test_integer_overflow_names_the_dtype_not_a_c_type(data, dtype):
    with pytest.raises(RuntimeError, match=r"value cannot be converted to type zerograd\."
                                           r"(int64|int32|uint8) without overflow") as err:
        zg.tensor(data, dtype=dtype)
    assert "C long" not in str(err.value) and "out of bounds" not in str(err.value)


def test_grad_of_a_non_leaf_warns_as_torch_does():
    x = zg.ones(2, requires_grad=True)
    y = x * 2
    with pytest.warns(UserWarning, match="The .grad attribute of a Tensor that is not a leaf "
                                         "Tensor is being accessed"):
        assert y.grad is None
    y.retain_grad()
    y.sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert y.grad.tolist() == [1.0, 1.0] and x.grad.tolist() == [2.0, 2.0]
        z = x * 3
        z.sum().backward(inputs=[z])  # backward(inputs=[non-leaf]) fills it, silently
        assert z._grad.tolist() == [1.0, 1.0]


_FLOATING_POINT = r"""
import numpy as np
import zerograd as zg
assert zg.exp(zg.tensor(100.0)).item() == float("inf")
assert zg.tensor([2.0 ** 200], dtype=zg.float32).tolist() == [float("inf")]
big = zg.tensor([1e30, -1e30], requires_grad=True)
(big * big).sum().backward()
p = zg.nn.Parameter(zg.ones(2))
opt = zg.optim.Adam([p], lr=float("inf"))  # adam.py:134 warned here
for _ in range(2):
    (p * 2).sum().backward()
    opt.step()
try:
    np.exp(np.float32(100.0))
except RuntimeWarning:
    print("the user's own NumPy code still warns")
"""


def test_floating_point_results_come_without_numpy_warnings():
    """As a script runs: pytest resets warning filters around each test, a script keeps
    the one zerograd installs. ``-W error`` turns any warning left into a failure."""
    result = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c",
                             _FLOATING_POINT], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "the user's own NumPy code still warns\n"
