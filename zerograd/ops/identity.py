"""Identity nodes: ops that pass values and gradients through unchanged, so that
something else (a module's backward hooks) has a node of the graph to hang on."""
from zerograd.autograd.function import Function

__all__ = []


class BackwardHookFunction(Function):
    """The identity on any number of tensors: a node to hang a module's hooks on
    (torch's ``BackwardHookFunctionBackward``)."""

    @staticmethod
    def forward(ctx, *arrays, needs=()):
        ctx.mark_non_differentiable(*[a for a, need in zip(arrays, needs) if not need])
        return arrays

    @staticmethod
    def backward(ctx, *grad_outputs):
        return grad_outputs

    @staticmethod
    def jvp(ctx, *tangents):
        return tangents
