"""The PyTorch method surface of Tensor: one-line delegations to ``zerograd.ops``.

``Tensor`` (zerograd.tensor) keeps storage, metadata, autograd attributes and conversion;
this mixin holds the sugar (operators, in-place methods, math, reductions, shape,
indexing, linear algebra and ``new_*`` creation helpers) so each file has one job. Every
body is a single call into ``zerograd.ops``, where the op's forward and backward live.
"""
import builtins

from zerograd._aliases import numpy_aliases
from zerograd.size import Size

# zerograd.ops imports the Tensor class, and Tensor needs this mixin as its base, so ops
# cannot be imported here; zerograd.tensor binds it right after defining Tensor. Methods
# read the module global at call time, so a call costs one global lookup, as before.
_ops = None


class TensorMethods:
    """Mixin base of ``Tensor``; no state of its own (empty ``__slots__``)."""
    __slots__ = ()

    # -- operators -----------------------------------------------------------------------
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __floordiv__(self, other): return _ops.floor_divide(self, other)
    def __rfloordiv__(self, other): return _ops.floor_divide(other, self)
    def __mod__(self, other): return _ops.remainder(self, other)
    def __rmod__(self, other): return _ops.remainder(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    def __invert__(self): return _ops.bitwise_not(self)
    def __and__(self, other): return _ops.bitwise_and(self, other)
    def __rand__(self, other): return _ops.bitwise_and(other, self)
    def __or__(self, other): return _ops.bitwise_or(self, other)
    def __ror__(self, other): return _ops.bitwise_or(other, self)
    def __xor__(self, other): return _ops.bitwise_xor(self, other)
    def __rxor__(self, other): return _ops.bitwise_xor(other, self)
    def __eq__(self, other): return _ops.eq(self, other)
    def __ne__(self, other): return _ops.ne(self, other)
    def __lt__(self, other): return _ops.lt(self, other)
    def __le__(self, other): return _ops.le(self, other)
    def __gt__(self, other): return _ops.gt(self, other)
    def __ge__(self, other): return _ops.ge(self, other)
    def __iadd__(self, other): return self.add_(other)
    def __isub__(self, other): return self.sub_(other)
    def __imul__(self, other): return self.mul_(other)
    def __itruediv__(self, other): return self.div_(other)
    def __getitem__(self, index): return _ops.getitem(self, index)
    def __setitem__(self, index, value): _ops.setitem_(self, index, value)

    # -- in-place operations (all through ops.inplace, which checks leaves and versions) --
    def add_(self, other, alpha=1): return _ops.inplace(self, _ops.add, other, alpha=alpha)
    def sub_(self, other, alpha=1): return _ops.inplace(self, _ops.sub, other, alpha=alpha)
    def mul_(self, other): return _ops.inplace(self, _ops.mul, other)
    def div_(self, other, rounding_mode=None):
        return _ops.inplace(self, _ops.div, other, rounding_mode=rounding_mode)
    def pow_(self, exponent): return _ops.inplace(self, _ops.pow, exponent)
    def clamp_(self, min=None, max=None): return _ops.inplace(self, _ops.clamp, min, max)
    clip_ = clamp_
    def neg_(self): return _ops.inplace(self, _ops.neg)
    def abs_(self): return _ops.inplace(self, _ops.abs)
    def exp_(self): return _ops.inplace(self, _ops.exp)
    def log_(self): return _ops.inplace(self, _ops.log)
    def sqrt_(self): return _ops.inplace(self, _ops.sqrt)
    def sigmoid_(self): return _ops.inplace(self, _ops.sigmoid)
    def tanh_(self): return _ops.inplace(self, _ops.tanh)
    def relu_(self): return _ops.inplace(self, _ops.relu)
    def masked_fill_(self, mask, value): return _ops.inplace(self, _ops.masked_fill, mask, value)
    def addcmul_(self, t1, t2, value=1): return _ops.inplace(self, _ops.addcmul, t1, t2, value=value)
    def addcdiv_(self, t1, t2, value=1): return _ops.inplace(self, _ops.addcdiv, t1, t2, value=value)
    def lerp_(self, end, weight): return _ops.inplace(self, _ops.lerp, end, weight)
    def copy_(self, src, non_blocking=False): return _ops.copy_(self, src)
    def zero_(self): return _ops.fill_(self, 0)
    def fill_(self, value): return _ops.fill_(self, value)
    def uniform_(self, a=0.0, b=1.0, generator=None):
        return _ops.random_fill_(self, "uniform", a, b, generator=generator)
    def normal_(self, mean=0.0, std=1.0, generator=None):
        return _ops.random_fill_(self, "normal", mean, std, generator=generator)
    def bernoulli_(self, p=0.5, generator=None):
        return _ops.random_fill_(self, "bernoulli", p, generator=generator)
    def exponential_(self, lambd=1.0, generator=None):
        return _ops.random_fill_(self, "exponential", lambd, generator=generator)
    def random_(self, low=0, high=None, generator=None):
        return _ops.random_fill_(self, "integers", low, high, generator=generator)
    def scatter_(self, dim, index, src=None, value=None, reduce=None):
        return _ops.inplace(self, _ops.scatter, dim, index, src, value=value, reduce=reduce)
    def scatter_add_(self, dim, index, src): return _ops.inplace(self, _ops.scatter_add, dim, index, src)
    def index_add_(self, dim, index, source, alpha=1):
        return _ops.inplace(self, _ops.index_add, dim, index, source, alpha=alpha)

    # -- elementwise math --------------------------------------------------------------------
    def add(self, other, alpha=1): return _ops.add(self, other, alpha=alpha)
    def sub(self, other, alpha=1): return _ops.sub(self, other, alpha=alpha)
    subtract = sub
    def mul(self, other): return _ops.mul(self, other)
    multiply = mul
    def div(self, other, rounding_mode=None): return _ops.div(self, other, rounding_mode=rounding_mode)
    divide = true_divide = div
    def floor_divide(self, other): return _ops.floor_divide(self, other)
    def remainder(self, other): return _ops.remainder(self, other)
    def fmod(self, other): return _ops.fmod(self, other)
    def pow(self, exponent): return _ops.pow(self, exponent)
    def neg(self): return _ops.neg(self)
    negative = neg
    def abs(self): return _ops.abs(self)
    absolute = abs
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def log1p(self): return _ops.log1p(self)
    def expm1(self): return _ops.expm1(self)
    def log2(self): return _ops.log2(self)
    def log10(self): return _ops.log10(self)
    def sqrt(self): return _ops.sqrt(self)
    def rsqrt(self): return _ops.rsqrt(self)
    def sin(self): return _ops.sin(self)
    def cos(self): return _ops.cos(self)
    def tan(self): return _ops.tan(self)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def square(self): return _ops.square(self)
    def reciprocal(self): return _ops.reciprocal(self)
    def erf(self): return _ops.erf(self)
    def sign(self): return _ops.sign(self)
    def floor(self): return _ops.floor(self)
    def ceil(self): return _ops.ceil(self)
    def round(self, decimals=0): return _ops.round(self, decimals=decimals)
    def trunc(self): return _ops.trunc(self)
    def clamp(self, min=None, max=None): return _ops.clamp(self, min, max)
    clip = clamp
    def maximum(self, other): return _ops.maximum(self, other)
    def minimum(self, other): return _ops.minimum(self, other)
    def lerp(self, end, weight): return _ops.lerp(self, end, weight)
    def addcmul(self, t1, t2, value=1): return _ops.addcmul(self, t1, t2, value=value)
    def addcdiv(self, t1, t2, value=1): return _ops.addcdiv(self, t1, t2, value=value)
    def eq(self, other): return _ops.eq(self, other)
    def ne(self, other): return _ops.ne(self, other)
    def lt(self, other): return _ops.lt(self, other)
    def le(self, other): return _ops.le(self, other)
    def gt(self, other): return _ops.gt(self, other)
    def ge(self, other): return _ops.ge(self, other)
    def equal(self, other): return _ops.equal(self, other)
    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        return _ops.allclose(self, other, rtol, atol, equal_nan)
    def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        return _ops.isclose(self, other, rtol, atol, equal_nan)
    def logical_and(self, other): return _ops.logical_and(self, other)
    def logical_or(self, other): return _ops.logical_or(self, other)
    def logical_not(self): return _ops.logical_not(self)
    def logical_xor(self, other): return _ops.logical_xor(self, other)
    def isnan(self): return _ops.isnan(self)
    def isinf(self): return _ops.isinf(self)
    def isfinite(self): return _ops.isfinite(self)
    def where(self, condition, other): return _ops.where(condition, self, other)
    def sum_to_size(self, *size): return _ops.sum_to_size(self, *size)

    # -- reductions ------------------------------------------------------------------------
    # sum and mean end most training steps: the method maps the aliases once and calls the
    # op beneath its own alias wrapper (``__wrapped__``), one call frame less per step.
    @numpy_aliases
    def sum(self, dim=None, keepdim=False, dtype=None):
        return _ops.sum.__wrapped__(self, dim, keepdim, dtype=dtype)
    @numpy_aliases
    def mean(self, dim=None, keepdim=False, dtype=None):
        return _ops.mean.__wrapped__(self, dim, keepdim, dtype=dtype)
    @numpy_aliases
    def prod(self, dim=None, keepdim=False, dtype=None): return _ops.prod(self, dim, keepdim, dtype=dtype)
    @numpy_aliases
    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return _ops.var(self, dim, unbiased, keepdim, correction=correction)
    @numpy_aliases
    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return _ops.std(self, dim, unbiased, keepdim, correction=correction)
    @numpy_aliases
    def max(self, dim=None, keepdim=False): return _ops.max(self, dim, keepdim)
    @numpy_aliases
    def min(self, dim=None, keepdim=False): return _ops.min(self, dim, keepdim)
    @numpy_aliases
    def amax(self, dim=(), keepdim=False): return _ops.amax(self, dim, keepdim)
    @numpy_aliases
    def amin(self, dim=(), keepdim=False): return _ops.amin(self, dim, keepdim)
    @numpy_aliases
    def argmax(self, dim=None, keepdim=False): return _ops.argmax(self, dim, keepdim)
    @numpy_aliases
    def argmin(self, dim=None, keepdim=False): return _ops.argmin(self, dim, keepdim)
    @numpy_aliases
    def all(self, dim=None, keepdim=False): return _ops.all(self, dim, keepdim)
    @numpy_aliases
    def any(self, dim=None, keepdim=False): return _ops.any(self, dim, keepdim)
    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return _ops.norm(self, p, dim, keepdim, dtype=dtype)
    @numpy_aliases
    def cumsum(self, dim, dtype=None): return _ops.cumsum(self, dim, dtype=dtype)
    @numpy_aliases
    def cumprod(self, dim, dtype=None): return _ops.cumprod(self, dim, dtype=dtype)
    @numpy_aliases
    def logsumexp(self, dim, keepdim=False): return _ops.logsumexp(self, dim, keepdim)
    @numpy_aliases
    def softmax(self, dim, dtype=None): return _ops.softmax(self, dim, dtype=dtype)
    @numpy_aliases
    def log_softmax(self, dim, dtype=None): return _ops.log_softmax(self, dim, dtype=dtype)

    # -- shape -----------------------------------------------------------------------------
    def reshape(self, *shape): return _ops.reshape(self, *shape)
    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (builtins.int, tuple, list, Size)):
            return self.to(shape[0])  # view(dtype) — only same-size reinterpretation in torch
        return _ops.view(self, *shape)
    def view_as(self, other): return _ops.view(self, other.shape)
    def reshape_as(self, other): return _ops.reshape(self, other.shape)
    def flatten(self, start_dim=0, end_dim=-1): return _ops.flatten(self, start_dim, end_dim)
    def ravel(self): return _ops.ravel(self)
    def unflatten(self, dim, sizes): return _ops.unflatten(self, dim, sizes)
    @numpy_aliases
    def squeeze(self, dim=None): return _ops.squeeze(self, dim)
    @numpy_aliases
    def unsqueeze(self, dim): return _ops.unsqueeze(self, dim)
    def transpose(self, dim0, dim1): return _ops.transpose(self, dim0, dim1)
    swapaxes = swapdims = transpose
    def permute(self, *dims): return _ops.permute(self, *dims)
    def movedim(self, source, destination): return _ops.movedim(self, source, destination)
    def expand(self, *sizes): return _ops.expand(self, *sizes)
    def expand_as(self, other): return _ops.expand(self, other.shape)
    def broadcast_to(self, shape): return _ops.broadcast_to(self, shape)
    def repeat(self, *sizes): return _ops.repeat(self, *sizes)
    def tile(self, *dims): return _ops.tile(self, *dims)
    def flip(self, *dims): return _ops.flip(self, *dims)
    def roll(self, shifts, dims=None): return _ops.roll(self, shifts, dims)
    def split(self, split_size, dim=0): return _ops.split(self, split_size, dim)
    def chunk(self, chunks, dim=0): return _ops.chunk(self, chunks, dim)
    def unbind(self, dim=0): return _ops.unbind(self, dim)
    def narrow(self, dim, start, length): return _ops.narrow(self, dim, start, length)
    def select(self, dim, index): return _ops.select(self, dim, index)
    def contiguous(self, memory_format=None): return _ops.contiguous(self)
    def clone(self, memory_format=None): return _ops.clone(self)
    def t(self): return _ops.t(self)
    @property
    def T(self): return _ops.permute(self, *reversed(range(self._data.ndim)))
    @property
    def mT(self): return _ops.transpose(self, -2, -1)

    # -- indexing ---------------------------------------------------------------------------
    def gather(self, dim, index): return _ops.gather(self, dim, index)
    def scatter(self, dim, index, src=None, value=None, reduce=None):
        return _ops.scatter(self, dim, index, src, value=value, reduce=reduce)
    def scatter_add(self, dim, index, src): return _ops.scatter_add(self, dim, index, src)
    def index_select(self, dim, index): return _ops.index_select(self, dim, index)
    def index_add(self, dim, index, source, alpha=1): return _ops.index_add(self, dim, index, source, alpha=alpha)
    def masked_fill(self, mask, value): return _ops.masked_fill(self, mask, value)
    def masked_select(self, mask): return _ops.masked_select(self, mask)
    def take(self, index): return _ops.take(self, index)
    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        return _ops.repeat_interleave(self, repeats, dim, output_size=output_size)
    def nonzero(self, as_tuple=False): return _ops.nonzero(self, as_tuple=as_tuple)
    @numpy_aliases
    def sort(self, dim=-1, descending=False, stable=False): return _ops.sort(self, dim, descending, stable=stable)
    @numpy_aliases
    def argsort(self, dim=-1, descending=False, stable=False): return _ops.argsort(self, dim, descending, stable=stable)
    def topk(self, k, dim=-1, largest=True, sorted=True): return _ops.topk(self, k, dim, largest, sorted)
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return _ops.unique(self, sorted, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength=0):
        return _ops.bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):
        return _ops.histc(self, bins, min, max)

    # -- linear algebra -----------------------------------------------------------------------
    def matmul(self, other): return _ops.matmul(self, other)
    def mm(self, other): return _ops.mm(self, other)
    def bmm(self, other): return _ops.bmm(self, other)
    def mv(self, vec): return _ops.mv(self, vec)
    def dot(self, other): return _ops.dot(self, other)
    def outer(self, other): return _ops.outer(self, other)
    ger = outer
    def inverse(self): return _ops.inv(self)
    def det(self): return _ops.det(self)
    def pinverse(self, rcond=1e-15): return _ops.pinverse(self, rcond)
    def tril(self, diagonal=0): return _ops.tril(self, diagonal)
    def triu(self, diagonal=0): return _ops.triu(self, diagonal)
    def tril_(self, diagonal=0): return _ops.inplace(self, _ops.tril, diagonal)
    def triu_(self, diagonal=0): return _ops.inplace(self, _ops.triu, diagonal)
    def diag(self, diagonal=0): return _ops.diag(self, diagonal)
    def diagonal(self, offset=0, dim1=0, dim2=1): return _ops.diagonal(self, offset, dim1, dim2)
    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        return _ops.diag_embed(self, offset, dim1, dim2)
    def trace(self): return _ops.trace(self)
    def index_put(self, indices, values, accumulate=False):
        return _ops.index_put(self, indices, values, accumulate)
    def index_put_(self, indices, values, accumulate=False):
        return _ops.inplace(self, _ops.index_put, indices, values, accumulate)

    # -- creation helpers as methods (on this tensor's device, as torch) ---------------------
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return _ops.zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                          requires_grad=requires_grad)
    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return _ops.ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                         requires_grad=requires_grad)
    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return _ops.full(size, fill_value, dtype=dtype or self.dtype,
                         device=device or self.device, requires_grad=requires_grad)
    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return _ops.empty(*size, dtype=dtype or self.dtype, device=device or self.device,
                          requires_grad=requires_grad)
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return _ops.tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                           requires_grad=requires_grad)
