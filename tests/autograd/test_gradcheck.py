"""gradcheck and gradgradcheck themselves: they pass correct derivatives, catch wrong ones
(first and second order) the way torch's do, and handle empty inputs."""
import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd.autograd import Function, gradcheck, gradgradcheck
from zerograd.autograd.gradcheck import GradcheckError
from zerograd.ops._util import const


def wrong_square(lib):
    """x**2 with a backward off by a factor of 1.5, as a Function of ``lib`` (zerograd or
    torch: the same text, so both gradchecks judge the same mistake)."""

    class WrongSquare(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return 3 * x * grad_output

    return WrongSquare.apply


class FlatSquare(Function):
    """x**2 whose backward is right but built from a constant: no second derivative."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        return const(2 * ctx.x) * grad_output


def _x(lib, shape=(3,)):
    return lib.tensor(np.linspace(-1, 2, int(np.prod(shape))).reshape(shape),
                      dtype=lib.float64, requires_grad=True)


def test_correct_derivatives_pass():
    assert gradcheck(lambda x: (x.sin() * x).sum(), (_x(zg),))
    assert gradgradcheck(lambda x: x.sin() * x, (_x(zg),))


def test_wrong_backward_is_caught_like_torch():
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(wrong_square(zg), (_x(zg),))
    assert gradcheck(wrong_square(zg), (_x(zg),), raise_exception=False) is False
    assert torch.autograd.gradcheck(wrong_square(torch), (_x(torch),),
                                    raise_exception=False) is False


def test_missing_second_derivative_is_caught():
    assert gradcheck(FlatSquare.apply, (_x(zg),))
    assert gradgradcheck(FlatSquare.apply, (_x(zg),), raise_exception=False) is False


def test_empty_inputs_pass_like_torch():
    fn = lambda x: zg.cat([x * 2, zg.ones(2, dtype=zg.float64)])  # noqa: E731
    assert gradcheck(fn, (_x(zg, (0,)),))
    assert torch.autograd.gradcheck(lambda x: torch.cat([x * 2, torch.ones(2, dtype=x.dtype)]),
                                    (_x(torch, (0,)),))


def test_float32_inputs_warn():
    x = zg.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda a: a * 2, (x,), eps=1e-2, atol=1e-2, rtol=1e-2)
