"""The affine map of ``nn.Linear``: ``x @ W.T + b`` as one fused op.

One node instead of a chain of transpose, matmul and broadcast-add nodes: the forward is a
single matmul plus an in-place add, the backward at most three matmuls. The products go
through the device's GEMM kernel where it has one (``kernels.gemm``: on the CPU it cuts
skinny products such as a 784-10 layer into the pieces OpenBLAS runs fastest).
"""
from zerograd.autograd.function import Function
from zerograd.ops.linalg import matmul

__all__ = ["linear"]


def _matmul_of(ctx):
    gemm = getattr(ctx.kernels, "gemm", None)
    return gemm.matmul if gemm is not None else ctx.xp.matmul


class Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        # every leading dim (none for an unbatched vector) is a row of the GEMM
        out = _matmul_of(ctx)(x.reshape(-1, x.shape[-1]), weight.T)
        out = out.reshape(x.shape[:-1] + (weight.shape[0],))
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
    def backward_array(ctx, grad_output):
        x, weight = (t._data for t in ctx.saved_tensors)
        need = ctx.needs_input_grad
        matmul = _matmul_of(ctx)
        out_features, in_features = weight.shape
        # every leading dim (none for an unbatched vector) is a row of the GEMMs
        g2, x2 = grad_output.reshape(-1, out_features), x.reshape(-1, in_features)
        grad_x = matmul(g2, weight).reshape(x.shape) if need[0] else None
        grad_w = matmul(g2.T, x2) if need[1] else None
        grad_b = g2.sum(0) if len(need) > 2 and need[2] else None
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


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` for ``input`` (*, in), ``weight`` (out, in), ``bias`` (out,).

    The shapes and dtypes are trusted (``nn.functional.linear`` checks them)."""
    return Linear.apply(input, weight, bias)
