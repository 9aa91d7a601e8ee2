"""``autograd.Variable``: torch's legacy wrapper, kept for its ``_execution_engine``.

``Variable(tensor, requires_grad=False)`` returns a new leaf sharing ``tensor``'s memory;
every tensor is an instance of ``Variable``. The engine handle is how code that extends
backward (DistributedDataParallel waiting for its all-reduces) reaches the engine:

    Variable._execution_engine.queue_callback(fn)   # from a hook: fn() after this backward
"""
from zerograd.autograd import engine
from zerograd.tensor import Tensor

__all__ = ["Variable"]


class _ExecutionEngine:
    """The backward engine as torch exposes it to Python."""

    @staticmethod
    def queue_callback(callback):
        """Run ``callback()`` once, when the backward pass now running has finished (all of
        it, not just the node whose hook queued it). Only valid during a backward pass."""
        engine.queue_callback(callback)

    @staticmethod
    def run_backward(tensors, grad_tensors, keep_graph, create_graph, inputs=(),
                     allow_unreachable=True, accumulate_grad=True):
        """torch's low-level entry: ``backward`` when ``accumulate_grad``, else ``grad``."""
        inputs = tuple(inputs) if inputs else None
        if accumulate_grad and inputs is None:
            engine.run_backward(tuple(tensors), tuple(grad_tensors), keep_graph, create_graph)
            return ()
        return tuple(engine.run_backward(tuple(tensors), tuple(grad_tensors), keep_graph,
                                         create_graph, inputs=inputs,
                                         accumulate=accumulate_grad))


class _VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(data, requires_grad=False)``: a leaf tensor sharing ``data``'s memory."""

    _execution_engine = _ExecutionEngine()

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if data is None:
            from zerograd.ops import empty
            return empty(0, requires_grad=requires_grad)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)
