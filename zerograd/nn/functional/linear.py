"""``F.linear`` and ``F.bilinear``: affine maps, the workhorse of every network.

``linear`` is one fused op: ``x @ W.T + b`` in a single NumPy expression forward, and a
hand-written backward (three matmuls at most) instead of a chain of transpose, matmul
and broadcast-add nodes.
"""
from zerograd.autograd.function import Function
from zerograd.ops import matmul
from zerograd.tensor import Tensor

__all__ = ["linear", "bilinear"]


class Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        out_features, in_features = weight.shape
        g = grad_output
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = matmul(g, weight)
        if ctx.needs_input_grad[1] or (len(ctx.needs_input_grad) > 2 and
                                       ctx.needs_input_grad[2]):
            # every leading dim is a batch dim: fold them into one for dW = g^T x
            g2 = g.reshape(-1, out_features)
            if ctx.needs_input_grad[1]:
                grad_w = matmul(g2.mT, x.reshape(-1, in_features))
            if ctx.needs_input_grad[2]:
                grad_b = g2.sum(0)
        return grad_x, grad_w, grad_b

    @staticmethod
    def jvp(ctx, t_x, t_w, t_b):
        # bilinear in (x, W) plus b: d(x W^T + b) = dx W^T + x dW^T + db
        x, weight, _ = ctx.fw_inputs
        parts = [Linear.apply(t_x, weight, None) if t_x is not None else None,
                 Linear.apply(x, t_w, None) if t_w is not None else None, t_b]
        out = None
        for p in parts:
            if p is not None:
                out = p if out is None else out + p
        return out


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
    return Linear.apply(input, weight, bias)


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
