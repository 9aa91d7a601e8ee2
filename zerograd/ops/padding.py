"""Constant padding: ``constant_pad_nd`` pads (or, with negative amounts, crops) any dims.

Padding and cropping are adjoint, so the backward is the same op with the amounts negated.
"""
from zerograd.autograd.function import Function

__all__ = ["constant_pad_nd"]


class ConstantPad(Function):
    @staticmethod
    def forward(ctx, a, pads, value):
        """``pads``: one (before, after) pair per dim of ``a``; negative means crop."""
        ctx.pads = pads
        crop = tuple(slice(max(-b, 0), s - max(-e, 0)) for (b, e), s in zip(pads, a.shape))
        cropped = a[crop]
        widths = tuple((max(b, 0), max(e, 0)) for b, e in pads)
        if not any(b or e for b, e in widths):
            return cropped.copy()
        return ctx.xp.pad(cropped, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad_output):
        return ConstantPad.apply(grad_output, tuple((-b, -e) for b, e in ctx.pads), 0), \
            None, None

    @staticmethod
    def jvp(ctx, tangent, *_):
        return ConstantPad.apply(tangent, ctx.pads, 0)  # the fill value is a constant


def constant_pad_nd(input, pad, value=0):
    """Pad with ``value``; ``pad`` = (last_before, last_after, second_last_before, ...).

    Negative amounts crop. The amounts are trusted (``nn.functional.pad`` checks them)."""
    pairs = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):  # pad lists the LAST dim first
        pairs[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return ConstantPad.apply(input, tuple(pairs), value)
