"""Convolutions: ``conv1d``, ``conv2d``, ``conv_transpose2d`` (``zerograd.nn.functional``).

Three ops make a closed family under differentiation, so gradients of gradients work:

* ``Convolution``           y = conv(x, w) + b
* ``ConvolutionTranspose``  the adjoint of conv(., w): how dL/dy reaches x (and the forward
                            of ``conv_transpose2d``)
* ``ConvolutionWeight``     the adjoint of conv(x, .): how dL/dy reaches w

The backward of each is written with the other two (``<conv(x, w), g> = <x, convT(g, w)>
= <w, convW(x, g)>``). The array work is the device's conv kernels (``kernels.conv`` of
the inputs' backend; ``zerograd.backend.cpu.conv_kernels`` on the CPU: im2col + GEMM),
and so is the ``ConvGeometry`` the wrappers resolve the arguments into.
1-D convolutions run as 2-D ones over a height of 1.
"""
from zerograd.autograd.function import Function
from zerograd.backend import backend_of
from zerograd.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


def _bilinear_jvp(cls, ctx, t_first, t_second, t_bias=None):
    """Forward mode for ops bilinear in their first two inputs (plus a per-channel bias):
    d op(a, b) + db = op(da, b) + op(a, db) + db."""
    a, b = ctx.fw_inputs[:2]
    geom = ctx.fw_inputs[-1]
    extra = (None,) if len(ctx.fw_inputs) == 4 else ()  # the bias slot, if the op has one
    out = None
    for term in (cls.apply(t_first, b, *extra, geom) if t_first is not None else None,
                 cls.apply(a, t_second, *extra, geom) if t_second is not None else None,
                 t_bias.reshape(1, -1, 1, 1) if t_bias is not None else None):
        if term is not None:
            out = term if out is None else out + term
    return out


class Convolution(Function):
    """y = conv(x, w) + b: NCHW ``x``, OIHW ``w``, optional bias ``b``; ``geom`` the rest."""

    @staticmethod
    def forward(ctx, x, w, b, geom):
        ctx.geom = geom
        ctx.save_for_backward(x, w)
        return ctx.kernels.conv.conv_forward(x, w, b, geom)

    @staticmethod
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        g = ctx.geom
        return (ConvolutionTranspose.apply(grad_output, w, None, g) if need_x else None,
                ConvolutionWeight.apply(x, grad_output, g) if need_w else None,
                ChannelSum.apply(grad_output) if need_b else None, None)

    @staticmethod
    def backward_array(ctx, grad_output):
        # loss.backward(): both gradients in one kernel call (one im2col of gy where the
        # geometry allows), the bias gradient from the same gy
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        k, x, w, g = ctx.kernels.conv, x._data, w._data, ctx.geom
        if hasattr(k, "conv_backward"):
            gx, gw = k.conv_backward(x, w, grad_output, g, need_x, need_w)
        else:  # kernels without a fused backward
            gx = k.conv_transpose_forward(grad_output, w, None, g) if need_x else None
            gw = k.conv_weight_forward(x, grad_output, g) if need_w else None
        gb = _channel_sum(ctx.xp, grad_output) if need_b else None
        return gx, gw, gb, None

    @staticmethod
    def jvp(ctx, t_x, t_w, t_b, _):
        return _bilinear_jvp(Convolution, ctx, t_x, t_w, t_b)


class ConvolutionTranspose(Function):
    """z = convT(y, w) + b, with ``w`` in conv layout (O, C/groups, kh, kw) and z x-shaped."""

    @staticmethod
    def forward(ctx, y, w, b, geom):
        ctx.geom = geom
        ctx.save_for_backward(y, w)
        return ctx.kernels.conv.conv_transpose_forward(y, w, b, geom)

    @staticmethod
    def backward(ctx, grad_output):
        y, w = ctx.saved_tensors
        need_y, need_w, need_b = ctx.needs_input_grad[:3]
        g = ctx.geom
        return (Convolution.apply(grad_output, w, None, g) if need_y else None,
                ConvolutionWeight.apply(grad_output, y, g) if need_w else None,
                ChannelSum.apply(grad_output) if need_b else None, None)

    @staticmethod
    def jvp(ctx, t_y, t_w, t_b, _):
        return _bilinear_jvp(ConvolutionTranspose, ctx, t_y, t_w, t_b)


class ConvolutionWeight(Function):
    """gw = convW(x, gy): the weight gradient of conv(x, .) for upstream ``gy``."""

    @staticmethod
    def forward(ctx, x, gy, geom):
        ctx.geom = geom
        ctx.save_for_backward(x, gy)
        return ctx.kernels.conv.conv_weight_forward(x, gy, geom)

    @staticmethod
    def backward(ctx, grad_output):
        x, gy = ctx.saved_tensors
        need_x, need_gy = ctx.needs_input_grad[:2]
        g = ctx.geom
        return (ConvolutionTranspose.apply(gy, grad_output, None, g) if need_x else None,
                Convolution.apply(x, grad_output, None, g) if need_gy else None, None)

    @staticmethod
    def jvp(ctx, t_x, t_gy, _):
        return _bilinear_jvp(ConvolutionWeight, ctx, t_x, t_gy)


def _channel_sum(xp, g):
    N, C = g.shape[:2]
    g3 = g.reshape(N, C, g.size // max(N * C, 1))
    if g.dtype.kind != "f":
        return g3.sum(axis=(0, 2))
    return (g3 @ xp.ones(g3.shape[2], dtype=g.dtype)).sum(axis=0)


class ChannelSum(Function):
    """(N, C, H, W) -> (C,): the bias gradient. A batched GEMV against ones reads the array
    once at BLAS speed; ``sum(axis=(0, 2, 3))`` is several times slower."""

    jvp_linear = True

    @staticmethod
    def forward(ctx, g):
        ctx.shape = g.shape
        return _channel_sum(ctx.xp, g)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.reshape(1, -1, 1, 1).expand(ctx.shape)


# -- argument handling shared by the wrappers ------------------------------------------------
def _conv_kernels(x):
    """The convolution kernels (and their geometry) of tensor ``x``'s device."""
    return backend_of(x._data).kernels.conv


def _tuple(value, n, name):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={list(value)}")
    return value


def _check_operands(fn, input, weight, bias, nd):
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{fn}(): input and weight must be Tensors, got "
                        f"{type(input).__name__} and {type(weight).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{fn}, but got input of size: {list(input.shape)}")
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{fn}: expected a {nd + 2}-D weight (out_channels, "
                           f"in_channels/groups, {', '.join('k' * nd)}), but got weight of "
                           f"size {list(weight.shape)}")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"expected scalar type {_scalar(input)} but found {_scalar(weight)} "
                           f"(input is {input.dtype}, weight is {weight.dtype}); convert one, "
                           "e.g. input.float()")
    if input.dtype.name == "bool":
        raise RuntimeError(f"{fn}: bool tensors are not supported; convert to float first")
    if bias is not None and bias.dtype is not input.dtype:
        raise RuntimeError(f"Input type ({_scalar(input).lower()}) and bias type "
                           f"({_scalar(bias).lower()}) should be the same")


def _scalar(t):
    return {"float32": "Float", "float64": "Double", "float16": "Half",
            "int64": "Long", "int32": "Int"}.get(t.dtype.name, t.dtype.name)


def _check_hyper(stride, dilation, groups):
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def _check_groups_weight(weight, groups):
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                           f"{groups} at dimension 0, but got weight of size "
                           f"[{list(weight.shape)}] instead")


def _check_bias(weight, bias, channels):
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != channels):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {channels} elements, but got bias of size "
                           f"{list(bias.shape)} instead")


def _resolve_padding(padding, kernel, dilation, stride, nd):
    """(before, after) per spatial dim; 'same' splits odd totals like torch (extra after)."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nd
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'; use 'same', 'valid' or "
                               "integers")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
        return pads
    padding = _tuple(padding, nd, "padding")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    return [(p, p) for p in padding]


def _conv_nd(fn, input, weight, bias, stride, padding, dilation, groups, nd):
    _check_operands(fn, input, weight, bias, nd)
    stride, dilation = _tuple(stride, nd, "stride"), _tuple(dilation, nd, "dilation")
    _check_hyper(stride, dilation, groups)
    _check_groups_weight(weight, groups)
    kernel = tuple(weight.shape[2:])
    pads = _resolve_padding(padding, kernel, dilation, stride, nd)
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(x.shape)} to have {weight.shape[1] * groups} "
                           f"channels, but got {x.shape[1]} channels instead")
    _check_bias(weight, bias, weight.shape[0])
    spatial = tuple(x.shape[2:])
    padded = [s + b + a for s, (b, a) in zip(spatial, pads)]
    effective = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(p < e for p, e in zip(padded, effective)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, effective))}). Kernel size can't be greater "
                           "than actual input size")
    w = weight
    if nd == 1:  # a 1-D conv is a 2-D conv over a height of 1
        x, w = x.unsqueeze(2), weight.unsqueeze(2)
        spatial, kernel = (1,) + spatial, (1,) + kernel
        stride, dilation, pads = (1,) + stride, (1,) + dilation, [(0, 0)] + pads
    geom = _conv_kernels(x).ConvGeometry(spatial[0], spatial[1], kernel[0], kernel[1], stride,
                                         dilation, (*pads[0], *pads[1]), groups)
    out = Convolution.apply(x, w, bias, geom)
    if nd == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) of (N, C, L) ``input`` with (O, C/groups, k) ``weight``.

    ``padding`` is an int, a 1-tuple, ``'valid'`` (none) or ``'same'`` (output length =
    input length; stride 1 only). Unbatched (C, L) input is accepted.
    """
    return _conv_nd("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of (N, C, H, W) ``input`` with (O, C/groups, kH, kW).

    ``stride``, ``padding`` and ``dilation`` are ints or pairs; ``padding`` may also be
    ``'valid'`` or ``'same'``. ``groups`` splits channels into independent convolutions
    (``groups == C`` is a depthwise convolution). Unbatched (C, H, W) input is accepted.
    """
    return _conv_nd("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


def _conv_transpose_nd(fn, input, weight, bias, stride, padding, output_padding, groups,
                       dilation, nd):
    _check_operands(fn, input, weight, bias, nd)
    if isinstance(padding, str):
        raise TypeError(f"{fn}(): argument 'padding' must be tuple of ints, not str")
    stride, dilation = _tuple(stride, nd, "stride"), _tuple(dilation, nd, "dilation")
    padding = _tuple(padding, nd, "padding")
    output_padding = _tuple(output_padding, nd, "output_padding")
    _check_hyper(stride, dilation, groups)
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)) or \
            any(op < 0 for op in output_padding):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, "
                           f"but got output_padding={list(output_padding)}, "
                           f"stride={list(stride)}, dilation={list(dilation)}")
    _check_groups_weight(weight, groups)
    unbatched = input.ndim == nd + 1
    y = input.unsqueeze(0) if unbatched else input
    if y.shape[1] != weight.shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"input{list(y.shape)} to have {weight.shape[0]} channels, but got "
                           f"{y.shape[1]} channels instead")
    out_channels = weight.shape[1] * groups
    _check_bias(weight, bias, out_channels)
    kernel = tuple(weight.shape[2:])
    in_size = tuple(y.shape[2:])
    out_size = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, d, k, op in
                     zip(in_size, stride, padding, dilation, kernel, output_padding))
    if any(o <= 0 for o in out_size):
        raise RuntimeError(f"{fn}: the output size {list(out_size)} is not positive "
                           f"(input size {list(in_size)}, kernel {list(kernel)}, stride "
                           f"{list(stride)}, padding {list(padding)}); reduce the padding")
    w = weight
    pads = [(p, p) for p in padding]
    if nd == 1:
        y, w = y.unsqueeze(2), weight.unsqueeze(2)
        in_size, out_size, kernel = (1,) + in_size, (1,) + out_size, (1,) + kernel
        stride, dilation, pads = (1,) + stride, (1,) + dilation, [(0, 0)] + pads
    # The geometry of the conv this op is the adjoint of: out_size -> in_size. The
    # output_padding rows are input rows that no window of that conv reaches.
    geom = _conv_kernels(y).ConvGeometry(out_size[0], out_size[1], kernel[0], kernel[1], stride,
                                         dilation, (*pads[0], *pads[1]), groups,
                                         out_size=in_size)
    out = ConvolutionTranspose.apply(y, w, bias, geom)
    if nd == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 1-D convolution; ``weight`` is (in_channels, out_channels/groups, k)."""
    return _conv_transpose_nd("conv_transpose1d", input, weight, bias, stride, padding,
                              output_padding, groups, dilation, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution (the gradient of conv2d w.r.t. its input, as a layer).

    ``weight`` is (in_channels, out_channels/groups, kH, kW). The output size per dim is
    ``(in - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``.
    """
    return _conv_transpose_nd("conv_transpose2d", input, weight, bias, stride, padding,
                              output_padding, groups, dilation, 2)
