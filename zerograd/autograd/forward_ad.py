"""Forward-mode automatic differentiation with dual tensors (``torch.autograd.forward_ad``).

A dual tensor carries a tangent beside its value. Inside ``dual_level()``, every op that
sees a tangent on an input computes its output's tangent right away with the op's own
JVP rule (``Function.jvp``): the derivative is pushed forward through the computation
together with the values, one directional derivative per pass. That is the textbook's
forward accumulation, as opposed to the reverse accumulation of ``backward``.

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)
        value, jvp = forward_ad.unpack_dual(y)
"""
import threading
import weakref
from collections import namedtuple

from zerograd.tensor import Tensor

_state = threading.local()

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


def _levels():
    levels = getattr(_state, "levels", None)
    if levels is None:
        levels = _state.levels = []
    return levels


def is_active() -> bool:
    """True while some dual level is open and JVPs are not suspended."""
    return bool(getattr(_state, "levels", None)) and not getattr(_state, "suspended", False)


class _Suspend:
    """Compute a JVP rule without pushing tangents through the rule's own ops."""

    def __enter__(self):
        self._prev = getattr(_state, "suspended", False)
        _state.suspended = True

    def __exit__(self, *exc):
        _state.suspended = self._prev


suspended = _Suspend


class dual_level:
    """Context in which dual tensors live; leaving it drops every tangent made inside."""

    def __enter__(self):
        _levels().append([])
        return len(_levels()) - 1

    def __exit__(self, *exc):
        for ref in _levels().pop():
            t = ref()
            if t is not None:
                t._fw_grad = None
        return False


def enter_dual_level():
    return dual_level().__enter__()


def exit_dual_level(*, level=None):
    dual_level().__exit__(None, None, None)


def _register(t):
    if _levels():
        _levels()[-1].append(weakref.ref(t))


def make_dual(tensor, tangent, *, level=None):
    """A view of ``tensor`` whose tangent is ``tangent`` (same shape and dtype)."""
    if not _levels():
        raise RuntimeError("make_dual: no dual level is active; use it inside "
                           "`with forward_ad.dual_level():`")
    if tangent.shape != tensor.shape:
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")
    if not tensor.is_floating_point():
        raise ValueError(f"make_dual expects a floating point tensor, got {tensor.dtype}")
    from zerograd.ops.shape import Reshape
    dual = Reshape.apply(tensor, tuple(tensor.shape))  # a view that keeps reverse-mode history
    dual._fw_grad = tangent if tangent.dtype is tensor.dtype else tangent.to(tensor.dtype)
    _register(dual)
    return dual


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)``: the value without its tangent, and the tangent (or None)."""
    tangent = tensor._fw_grad if _levels() else None
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    from zerograd.ops.shape import Reshape
    with suspended():
        primal = Reshape.apply(tensor, tuple(tensor.shape))
    return UnpackedDualTensor(primal, tangent)


def push_tangent(cls, ctx, args, kwargs, result):
    """Set ``result``'s tangent from the inputs' tangents with ``cls``'s JVP rule."""
    tangents = [a._fw_grad if isinstance(a, Tensor) else None for a in args]
    if all(t is None for t in tangents):
        return
    with suspended():
        if getattr(cls, "jvp_linear", False):
            # A linear op's JVP is the op itself applied to the tangents.
            from zerograd.ops.creation import zeros_like
            inputs = [t if t is not None else (zeros_like(a) if isinstance(a, Tensor) else a)
                      for a, t in zip(args, tangents)]
            out = cls.apply(*inputs, **kwargs)
        else:
            jvp = getattr(cls, "jvp", None)
            if jvp is None:
                raise RuntimeError(f"forward-mode AD: {cls.__name__} has no JVP rule")
            ctx.fw_inputs, ctx.fw_kwargs, ctx.fw_output = args, kwargs, result
            out = jvp(ctx, *tangents)
    if out is None:
        return
    if out._data.shape != result._data.shape:
        out = out.expand(result.shape) if out.ndim <= result.ndim else out.sum_to_size(result.shape)
    if out._data.dtype != result._data.dtype:
        out = out.to(result.dtype)
    result._fw_grad = out
    _register(result)
