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

Levels. As in torch, the public ``dual_level`` cannot be nested. The transforms of
``zerograd.func`` (``jvp``, ``jacfwd``) may nest, e.g. ``jacfwd(jacfwd(f))``, so a tensor
keeps one tangent per open level: ``tensor._fw_grad`` is None or a dict
``{level: tangent}``. A level-k JVP rule runs with only the levels below k visible, so
the tangent it computes carries its own derivatives along the outer levels (the
perturbations of different levels never mix up).
"""
import threading
import weakref
from collections import namedtuple

from zerograd.tensor import Tensor

__all__ = ["dual_level", "make_dual", "unpack_dual", "enter_dual_level", "exit_dual_level",
           "UnpackedDualTensor"]

_state = threading.local()

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


def _levels():
    """One list per open level (outermost first) of weakrefs to the tensors given a tangent."""
    levels = getattr(_state, "levels", None)
    if levels is None:
        levels = _state.levels = []
    return levels


def is_active() -> bool:
    """True while ops must push tangents (some level is open and visible)."""
    return getattr(_state, "visible", 0) > 0


class _Visible:
    """Within it ops push tangents for the ``n`` outermost levels only."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self._prev = getattr(_state, "visible", 0)
        _state.visible = self.n

    def __exit__(self, *exc):
        _state.visible = self._prev


def suspended():
    """Run ops without pushing any tangent (every level hidden)."""
    return _Visible(0)


def tangent_of(t, level):
    """``t``'s tangent at ``level`` (None when it has none)."""
    fw = t._fw_grad
    return fw.get(level) if fw else None


def _set_tangent(t, level, tangent):
    if t._fw_grad is None:
        t._fw_grad = {}
    t._fw_grad[level] = tangent
    _levels()[level].append(weakref.ref(t))


def copy_tangents(src, dst):
    """Give ``dst`` (a new alias of ``src``, e.g. a detached copy) ``src``'s tangents."""
    fw = src._fw_grad
    if fw:
        for level, tangent in fw.items():
            _set_tangent(dst, level, tangent)
    return dst


# -- levels ------------------------------------------------------------------------------------
def _enter(nested):
    levels = _levels()
    if levels and not nested:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    levels.append([])
    _state.visible = len(levels)
    return len(levels) - 1


def _exit(level=None):
    levels = _levels()
    if not levels:
        raise RuntimeError("Trying to exit a forward AD level but no level is currently "
                           "active; use `with forward_ad.dual_level():`")
    if level is not None and level != len(levels) - 1:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that "
                           "was created. This is not supported.")
    index = len(levels) - 1
    for ref in levels.pop():
        t = ref()
        if t is not None and t._fw_grad:
            t._fw_grad.pop(index, None)
            if not t._fw_grad:
                t._fw_grad = None
    _state.visible = len(levels)


class dual_level:
    """Context in which dual tensors live; leaving it drops every tangent made inside.

    Entering returns the level's index (0). Levels cannot be nested, as in torch; use the
    transforms of ``zerograd.func`` for higher-order forward mode.
    """

    def __enter__(self):
        return _enter(nested=False)

    def __exit__(self, *exc):
        _exit()
        return False


class _nested_level(dual_level):
    """A level that may open inside another one (for ``zerograd.func``'s transforms)."""

    def __enter__(self):
        self.level = _enter(nested=True)
        return self.level

    def __exit__(self, *exc):
        _exit(self.level)
        return False


def enter_dual_level():
    """Open a dual level without a ``with`` block; returns its index."""
    return _enter(nested=False)


def exit_dual_level(*, level=None):
    """Close the innermost dual level (``level``, if given, must be that one)."""
    _exit(level)


def _current_level(level, what):
    levels = _levels()
    if not levels:
        raise RuntimeError(f"Trying to {what} for forward AD but no level exists, make sure "
                           "to enter_dual_level() first.")
    if level is None:
        return len(levels) - 1
    if not 0 <= level < len(levels):
        raise RuntimeError(f"{what}: level {level} is not an open forward AD level "
                           f"(open levels: 0..{len(levels) - 1})")
    return level


# -- dual tensors ------------------------------------------------------------------------------
def make_dual(tensor, tangent, *, level=None):
    """A view of ``tensor`` whose tangent is ``tangent`` (same shape; cast to its dtype).

    The view stays connected to ``tensor``'s reverse-mode graph, so forward and reverse
    mode compose (Hessian-vector products by forward-over-reverse).
    """
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError(f"make_dual expects two Tensors, got {type(tensor).__name__} and "
                        f"{type(tangent).__name__}")
    level = _current_level(level, "create a dual Tensor")
    if not tensor.is_floating_point():
        raise ValueError(f"Expected primal to be floating point or complex, but got: "
                         f"{tensor.dtype}")
    if tangent.shape != tensor.shape:
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")
    from zerograd.ops.shape import Reshape
    with _Visible(level):  # the view keeps the tangents of outer levels, not this one
        dual = Reshape.apply(tensor, tuple(tensor.shape))
        if tangent.dtype is not tensor.dtype:
            tangent = tangent.to(tensor.dtype)
    _set_tangent(dual, level, tangent)
    return dual


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)``: a view of the value without its tangent, and the tangent (or None)."""
    levels = _levels()
    if not levels or not isinstance(tensor, Tensor):
        return UnpackedDualTensor(tensor, None)
    level = _current_level(level, "unpack a dual Tensor")
    tangent = tangent_of(tensor, level)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    from zerograd.ops.shape import Reshape
    with _Visible(level):
        primal = Reshape.apply(tensor, tuple(tensor.shape))
    return UnpackedDualTensor(primal, tangent)


# -- the hook of Function.apply ------------------------------------------------------------------
def push_tangent(cls, ctx, args, kwargs, result):
    """Set ``result``'s tangents from the inputs' tangents with ``cls``'s JVP rule.

    Levels go outermost first: the level-k rule may read ``result``, whose tangents at the
    outer levels are then already there (e.g. exp's rule ``t * out``). ``result`` is a
    tuple for a multi-output op, whose rule then returns one tangent per output.
    """
    multi = isinstance(result, tuple)
    results = result if multi else (result,)
    # integer and bool results (casts, comparisons, indices) carry no tangent, as in torch
    if not any(r._data.dtype.kind in "fc" for r in results):
        return
    for level in range(_state.visible):
        tangents = [tangent_of(a, level) if isinstance(a, Tensor) else None for a in args]
        if all(t is None for t in tangents):
            continue
        with _Visible(level):
            out = _apply_rule(cls, ctx, args, kwargs, result, tangents)
            if out is None:
                continue  # a zero tangent (piecewise-constant ops)
            if multi and not isinstance(out, (tuple, list)):
                raise RuntimeError(f"{cls.__name__}.jvp must return one tangent per output "
                                   f"({len(results)}), got a single {type(out).__name__}")
            fitted = [(r, _fit(t, r)) for r, t in zip(results, out if multi else (out,))
                      if t is not None and r._data.dtype.kind in "fc"]
        for r, t in fitted:
            _set_tangent(r, level, t)


def _fit(tangent, result):
    """A tangent with its result's shape and dtype."""
    if tangent._data.shape != result._data.shape:
        tangent = tangent.expand(result.shape) if tangent.ndim <= result.ndim else \
            tangent.sum_to_size(result.shape)
    if tangent._data.dtype != result._data.dtype:
        tangent = tangent.to(result.dtype)
    return tangent


def _apply_rule(cls, ctx, args, kwargs, result, tangents):
    if cls.jvp_linear:
        # A linear op's JVP is the op itself applied to the tangents (zeros where missing).
        from zerograd.ops.creation import zeros_like
        inputs = [t if t is not None else (zeros_like(a) if isinstance(a, Tensor) else a)
                  for a, t in zip(args, tangents)]
        return cls.apply(*inputs, **kwargs)
    jvp = getattr(cls, "jvp", None)
    if jvp is None:
        raise RuntimeError(f"Trying to use forward AD with {cls.__name__}, which does not "
                           "define a forward-mode (jvp) formula; compute this derivative with "
                           "reverse mode (backward, zerograd.func.jacrev) instead")
    ctx.fw_inputs, ctx.fw_kwargs, ctx.fw_output = args, kwargs, result
    return jvp(ctx, *tangents)
