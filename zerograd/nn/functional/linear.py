"""``F.linear`` and ``F.bilinear``: affine maps, the workhorse of every network.

``linear`` checks its arguments (torch's messages) and runs the fused op of
``zerograd.ops.affine``; ``bilinear`` is a composition of differentiable ops.
"""
from zerograd.ops import affine
from zerograd.ops.linalg import matmul
from zerograd.tensor import Tensor

__all__ = ["linear", "bilinear"]


def _shape(t):
    return tuple(t.shape)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` for input of shape ``(*, in_features)``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"linear(): argument 'input' must be a Tensor, not "
                        f"{type(input).__name__}")
    if weight.ndim != 2:
        raise RuntimeError(f"linear(): weight must be 2-D (out_features, in_features), got "
                           f"shape {_shape(weight)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise RuntimeError(
            f"linear(): expected input with last dimension in_features={weight.shape[1]} "
            f"(weight shape {_shape(weight)}), but got input of shape {_shape(input)}; "
            f"reshape or flatten the input (e.g. nn.Flatten()) so its last dimension is "
            f"{weight.shape[1]}")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"linear(): input dtype {input.dtype} and weight dtype "
                           f"{weight.dtype} differ; convert the input (x.to({weight.dtype})) "
                           "or the layer (e.g. net.double())")
    if bias is not None:
        if _shape(bias) not in ((weight.shape[0],), ()) and bias.numel() != 1:
            raise RuntimeError(f"linear(): bias of shape {_shape(bias)} does not match "
                               f"out_features={weight.shape[0]}")
        if bias.dtype is not weight.dtype:
            bias = bias.to(weight.dtype)
    return affine.linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """``y_o = x1^T W_o x2 + b_o`` with weight of shape ``(out, in1, in2)``."""
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D (out, in1, in2), got shape "
                           f"{_shape(weight)}")
    out_f, in1, in2 = _shape(weight)
    if input1.ndim == 0 or input1.shape[-1] != in1 or input2.ndim == 0 or \
            input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): expected inputs with last dimensions in1_features={in1} "
                           f"and in2_features={in2}, got shapes {_shape(input1)} and "
                           f"{_shape(input2)}")
    if _shape(input1)[:-1] != _shape(input2)[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                           f"{_shape(input1)[:-1]} and {_shape(input2)[:-1]}")
    # (..., in1) @ (in1, out*in2) -> (..., out, in2), then contract in2 with x2
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    t = matmul(input1, w).reshape(*_shape(input1)[:-1], out_f, in2)
    out = (t * input2.unsqueeze(-2)).sum(-1)
    if bias is not None:
        out = out + bias
    return out
