"""Elementwise math functions of one tensor: exp/log family, roots, trig, tanh, sigmoid, erf.

Each is a ``Function`` whose backward is written with differentiable zerograd ops, so
second derivatives work. Integer and bool inputs are computed in the default float
dtype, as torch does (``torch.exp(torch.tensor([1]))`` is float32). Forwards compute
with ``ctx.xp``, the array module of the input's device.
"""
import math

from zerograd.autograd.function import Function
from zerograd.backend import backend_of
from zerograd.ops._util import float_operand

__all__ = [
    "abs", "absolute", "exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "rsqrt",
    "sin", "cos", "tan", "tanh", "sigmoid", "relu", "square", "reciprocal", "erf",
]


class _Pointwise(Function):
    """A one-input op given by ``forward`` and its derivative ``derivative(a, out)``
    (a static method every subclass defines).

    Reverse mode multiplies the incoming gradient by the derivative, forward mode the
    tangent: the two share one formula. ``forward`` saves ``(a, None)`` or ``(None, out)``,
    whichever the derivative needs.
    """

    @classmethod
    def backward(cls, ctx, grad_output):
        a, out = ctx.saved_tensors
        return grad_output * cls.derivative(a, out)

    @classmethod
    def jvp(cls, ctx, tangent, *_):
        return tangent * cls.derivative(ctx.fw_inputs[0], ctx.fw_output)


def _in_slices(ctx, run, first, *others, out=None, passes=1):
    """A new array shaped like ``first`` (or ``out``, C-contiguous) filled by
    ``run(out, first, *others)``, called on flat slices of equally shaped arrays: one slice
    per thread of the backend's pool for large arrays (``threads.split``), the whole array
    otherwise. On one thread, a run of several NumPy ``passes`` walks the array in
    cache-sized chunks (``threads.CHUNK_BYTES``), so its passes after the first read from
    cache. (Split over 2 threads, chunks measured slower: sigmoid's forward on (256, 6, 28,
    28) 826 -> 931 us, the threads' many short calls queueing for the GIL.)"""
    xp = ctx.xp
    if out is None:
        out = xp.empty(first.shape, dtype=first.dtype)  # C order, an array even when 0-d
    threads = getattr(ctx.kernels, "threads", None)
    n = out.size
    if threads is None or any(o.shape != first.shape for o in others):
        run(out, first, *others)
        return out
    one_thread = threads.threads_for(n, n) == 1
    chunk = max(1, threads.CHUNK_BYTES // out.itemsize) if passes > 1 and one_thread else n
    if one_thread and n <= chunk:
        run(out, first, *others)
        return out
    flat = [a.reshape(-1) for a in (out, first) + others]  # copies only non-contiguous input

    def on_slice(s0, s1):
        threads.in_chunks(s0, s1, chunk, lambda c0, c1: run(*[f[c0:c1] for f in flat]))
    threads.split(n, n, on_slice)
    return out


def _compiled(ctx):
    """The backend's compiled kernels (the CPU's, ``zerograd.backend.cpu.compiled``), or
    None: the NumPy passes."""
    return getattr(ctx.kernels, "compiled", None)


def _keep_input(ctx, a, out):
    ctx.save_for_backward(a, None)
    return out


def _keep_output(ctx, out):
    ctx.save_for_backward(None, out)
    return out


class Abs(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        return _keep_input(ctx, a, ctx.xp.abs(a))

    @staticmethod
    def derivative(a, out):
        return a.sign()  # 0 at a == 0, as torch


class Exp(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        return _keep_output(ctx, ctx.xp.exp(a))

    @staticmethod
    def derivative(a, out):
        return out


class Log(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        with ctx._backend.errstate(divide="ignore", invalid="ignore"):
            return _keep_input(ctx, a, ctx.xp.log(a))

    @staticmethod
    def derivative(a, out):
        return a.reciprocal()


class Log1p(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        with ctx._backend.errstate(divide="ignore", invalid="ignore"):
            return _keep_input(ctx, a, ctx.xp.log1p(a))

    @staticmethod
    def derivative(a, out):
        return (a + 1).reciprocal()

    @classmethod
    def name(cls):
        return "Log1PBackward0"


class Expm1(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        return _keep_output(ctx, ctx.xp.expm1(a))

    @staticmethod
    def derivative(a, out):
        return out + 1


class Log2(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        with ctx._backend.errstate(divide="ignore", invalid="ignore"):
            return _keep_input(ctx, a, ctx.xp.log2(a))

    @staticmethod
    def derivative(a, out):
        return (a * math.log(2.0)).reciprocal()


class Log10(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        with ctx._backend.errstate(divide="ignore", invalid="ignore"):
            return _keep_input(ctx, a, ctx.xp.log10(a))

    @staticmethod
    def derivative(a, out):
        return (a * math.log(10.0)).reciprocal()


class Sqrt(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        with ctx._backend.errstate(invalid="ignore"):
            return _keep_output(ctx, ctx.xp.sqrt(a))

    @staticmethod
    def derivative(a, out):
        return (2 * out).reciprocal()  # inf at 0, as torch


class Rsqrt(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        with ctx._backend.errstate(divide="ignore", invalid="ignore"):
            return _keep_output(ctx, 1 / ctx.xp.sqrt(a))

    @staticmethod
    def derivative(a, out):
        return out ** 3 * -0.5


class Sin(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        return _keep_input(ctx, a, ctx.xp.sin(a))

    @staticmethod
    def derivative(a, out):
        return cos(a)


class Cos(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        return _keep_input(ctx, a, ctx.xp.cos(a))

    @staticmethod
    def derivative(a, out):
        return -sin(a)


class Tan(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        return _keep_output(ctx, ctx.xp.tan(a))

    @staticmethod
    def derivative(a, out):
        return 1 + out * out


class Tanh(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        return _keep_output(ctx, _in_slices(ctx, lambda out, a: xp.tanh(a, out=out), a))

    @staticmethod
    def derivative(a, out):
        return 1 - out * out

    @staticmethod
    def backward_array(ctx, grad_output):
        # g * (1 - out^2) in one buffer: the loss.backward() path, no graph ops
        xp = ctx.xp

        def run(d, out, g):
            xp.multiply(out, out, out=d)
            xp.subtract(1, d, out=d)
            d *= g
        return _in_slices(ctx, run, ctx.saved_tensors[1]._data, grad_output, passes=3)


class Sigmoid(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        # 1 / (1 + exp(-a)) in place in one buffer: four passes, no temporaries (a where()
        # over two branches cost 8 passes and 6x the time). Full relative precision for
        # tiny outputs (sigmoid(-30) ~ 9e-14 does not round to 0); exp(-a) = inf below
        # a ~ -88 (float32) gives exactly 0, the limit.
        xp, errstate = ctx.xp, ctx._backend.errstate
        compiled = _compiled(ctx)
        if compiled is not None and compiled.sigmoid_applies(a):
            return _keep_output(ctx, compiled.sigmoid(a))  # one pass, float32

        def run(out, a):
            xp.negative(a, out=out)
            # exp(-a) = inf is the right limit; inside the run, because NumPy's error state
            # is per thread and the pool's threads run slices too
            with errstate(over="ignore"):
                xp.exp(out, out=out)
            out += 1
            xp.divide(1, out, out=out)
        return _keep_output(ctx, _in_slices(ctx, run, a, passes=4))

    @staticmethod
    def derivative(a, out):
        return out * (1 - out)

    @staticmethod
    def backward_array(ctx, grad_output):
        # g * out * (1 - out): the compiled kernel's one pass (written into the incoming
        # gradient when the engine says it is ours alone: one array less), else three
        # NumPy passes in one buffer
        xp, out = ctx.xp, ctx.saved_tensors[1]._data
        compiled = _compiled(ctx)
        if compiled is not None and compiled.sigmoid_grad_applies(out, grad_output):
            into = grad_output if ctx.grad_owned else None
            return compiled.sigmoid_grad(out, grad_output, out=into)

        def run(d, out, g):
            xp.subtract(1, out, out=d)
            d *= out
            d *= g
        return _in_slices(ctx, run, out, grad_output, passes=3)


class Relu(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        return _keep_output(ctx, _in_slices(ctx, lambda out, a: xp.maximum(a, 0, out=out), a))

    @staticmethod
    def derivative(a, out):
        return out > 0  # 0 at a == 0, as torch

    @staticmethod
    def backward(ctx, grad_output):
        _, out = ctx.saved_tensors
        return ReluMask.apply(grad_output, out)

    @staticmethod
    def backward_array(ctx, grad_output):
        xp = ctx.xp

        def run(d, out, g):
            xp.multiply(g, out > 0, out=d)
        # the mask applied in place when the engine says the gradient is ours alone: one
        # activation-sized array less per ReLU layer
        into = grad_output if ctx.grad_owned and grad_output.flags.c_contiguous else None
        return _in_slices(ctx, run, ctx.saved_tensors[1]._data, grad_output, out=into)

    @staticmethod
    def jvp(ctx, tangent, *_):
        return ReluMask.apply(tangent, ctx.fw_output)


class ReluMask(Function):
    """``g * (out > 0)`` in one fused pass: the hot part of every ReLU network's backward."""

    @staticmethod
    def forward(ctx, g, out):
        ctx.save_for_backward(out)
        return ctx.xp.multiply(g, out > 0, dtype=g.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors  # the mask is piecewise constant: no gradient to ``out``
        return ReluMask.apply(grad_output, out), None

    @staticmethod
    def jvp(ctx, tangent_g, tangent_out):
        return None if tangent_g is None else ReluMask.apply(tangent_g, ctx.fw_inputs[1])

    @classmethod
    def name(cls):
        return "ThresholdBackwardBackward0"


class Square(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        return _keep_input(ctx, a, a * a)

    @staticmethod
    def derivative(a, out):
        return 2 * a

    @classmethod
    def name(cls):
        return "PowBackward0"  # torch computes square as pow(x, 2)


class Reciprocal(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        with ctx._backend.errstate(divide="ignore"):
            return _keep_output(ctx, 1 / a)

    @staticmethod
    def derivative(a, out):
        return -(out * out)


class Erf(_Pointwise):
    @staticmethod
    def forward(ctx, a):
        return _keep_input(ctx, a, _erf_array(a))

    @staticmethod
    def derivative(a, out):
        return (2 / math.sqrt(math.pi)) * exp(-a * a)


def _erf_array(a):
    """erf to double precision, vectorized: Taylor series near 0, continued fraction outside.

    NumPy has no erf. For |x| < 3 the Maclaurin series converges (losing < 3 digits to
    cancellation); beyond, erfc's continued fraction (Abramowitz & Stegun 7.1.14)
    converges fast.
    """
    backend = backend_of(a)
    xp = backend.xp
    x = a.astype(xp.float64)
    ax = xp.abs(x)
    small = ax < 3.0
    xs = xp.where(small, x, 0.0)
    term = xs.copy()
    total = xs.copy()
    x2 = xs * xs
    for n in range(1, 60):
        term = term * -x2 / n
        total = total + term / (2 * n + 1)
    series = total * (2 / math.sqrt(math.pi))
    xl = xp.where(small, 3.0, ax)
    frac = xp.zeros_like(xl)
    for k in range(80, 0, -1):
        frac = (k / 2) / (xl + frac)
    with backend.errstate(over="ignore", invalid="ignore"):
        erfc = xp.exp(-xl * xl) / math.sqrt(math.pi) / (xl + frac)
    out = xp.where(small, series, xp.sign(x) * (1 - erfc))
    out = xp.where(xp.isnan(x), x, out)
    return out.astype(a.dtype, copy=False)


def _float_unary(op):
    def apply(input):
        return op.apply(float_operand(input))
    name = op.__name__.lower()
    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"Elementwise {name} (integer inputs give floats, as in torch)."
    return apply


exp = _float_unary(Exp)
log = _float_unary(Log)
log1p = _float_unary(Log1p)
expm1 = _float_unary(Expm1)
log2 = _float_unary(Log2)
log10 = _float_unary(Log10)
sqrt = _float_unary(Sqrt)
rsqrt = _float_unary(Rsqrt)
sin = _float_unary(Sin)
cos = _float_unary(Cos)
tan = _float_unary(Tan)
tanh = _float_unary(Tanh)
sigmoid = _float_unary(Sigmoid)
erf = _float_unary(Erf)
reciprocal = _float_unary(Reciprocal)


def _refuse_bool(input, op):
    if input._data.dtype == bool:
        raise RuntimeError(f"Boolean inputs not supported for {op}; convert first, e.g. "
                           "x.float() or x.long()")


def abs(input):
    """Elementwise |x|; the gradient at 0 is 0, as in torch."""
    _refuse_bool(input, "abs")
    return Abs.apply(input)


absolute = abs


def relu(input):
    """max(x, 0) elementwise; the gradient at 0 is 0, as in torch."""
    _refuse_bool(input, "relu")
    return Relu.apply(input)


def square(input):
    """x * x elementwise (bool inputs give int64, as torch's pow(x, 2))."""
    if input._data.dtype == bool:
        input = input.long()
    return Square.apply(input)
