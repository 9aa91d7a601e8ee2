"""``zerograd.autograd``: reverse-mode differentiation of the recorded graph."""
from zerograd.autograd.grad_mode import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled)
from zerograd.autograd.function import Function  # noqa: F401
from zerograd.autograd.engine import run_backward
from zerograd.autograd import graph  # noqa: F401
from zerograd.autograd.variable import Variable  # noqa: F401


def _as_tuple(x):
    if x is None:
        return None
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves (or of ``inputs``)."""
    if grad_tensors is None and not isinstance(tensors, (tuple, list)):
        tensors, grads = (tensors,), (None,)  # loss.backward(): the common case, kept short
    else:
        tensors = _as_tuple(tensors)
        grads = _as_tuple(grad_tensors) or (None,) * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        run_backward(tensors, grads, retain_graph, create_graph)
        return
    inputs = _as_tuple(inputs)
    # leaves among inputs accumulate in the engine (with their hooks); others come back
    found = run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs,
                         accumulate=True)
    for t, g in zip(inputs, found):
        if g is not None:
            t.grad = g if t._grad is None else t._grad + g  # (no non-leaf warning)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` w.r.t. ``inputs``, returned (not accumulated into ``.grad``).

    With ``create_graph=True`` the results are themselves differentiable, which is how
    second derivatives (Hessians, gradient penalties) are computed.
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    grads = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    result = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs)
    for i, g in enumerate(result):
        if g is None:
            if materialize_grads:
                from zerograd.ops import zeros_like
                result[i] = zeros_like(inputs[i])
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
    return tuple(result)


from zerograd.autograd.gradcheck import gradcheck, gradgradcheck  # noqa: E402,F401
from zerograd.autograd import functional  # noqa: E402,F401
