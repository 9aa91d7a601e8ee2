"""Recomputation: a segment of the forward pass run without recording, whose backward
reruns it with recording on and backpropagates through the rerun (activation
checkpointing with ``use_reentrant=True``; ``zerograd.utils.checkpoint`` is the API).
"""
from zerograd.autograd.function import Function
from zerograd.autograd.grad_mode import enable_grad, no_grad
from zerograd.random import default_generator, default_generator_of, fork_rng
from zerograd.tensor import Tensor

__all__ = []


def _rng_snapshot(args):
    """The default generators' states: the CPU's and those of the inputs' other devices."""
    devices = sorted({str(a.device) for a in args
                      if isinstance(a, Tensor) and a.device.type != "cpu"})
    return devices, [default_generator.get_state()] + [
        default_generator_of(d).get_state() for d in devices]


def _replaying(snapshot):
    """A context that runs with the generators as in ``snapshot`` and restores them after."""
    devices, states = snapshot

    class _Replay:
        def __enter__(self):
            self._fork = fork_rng(devices=devices)
            self._fork.__enter__()
            default_generator.set_state(states[0])
            for d, state in zip(devices, states[1:]):
                default_generator_of(d).set_state(state)

        def __exit__(self, *exc):
            return self._fork.__exit__(*exc)
    return _Replay()


class CheckpointFunction(Function):
    """Runs the segment without recording; its backward reruns it and backpropagates."""

    @staticmethod
    def forward(ctx, run_function, preserve, *arrays, tensor_mask, requires):
        ctx.run_function, ctx.tensor_mask, ctx.requires = run_function, tensor_mask, requires
        inputs = [Tensor._make(a) if is_tensor else a for a, is_tensor in zip(arrays, tensor_mask)]
        ctx.snapshot = _rng_snapshot(inputs) if preserve else None
        ctx.save_for_backward(*[a for a, is_tensor in zip(arrays, tensor_mask) if is_tensor])
        ctx.others = [None if is_tensor else a for a, is_tensor in zip(arrays, tensor_mask)]
        with no_grad():
            outputs = run_function(*inputs)
        if isinstance(outputs, tuple):
            return tuple(o._data if isinstance(o, Tensor) else o for o in outputs)
        return outputs._data

    @staticmethod
    def backward(ctx, *grad_outputs):
        from zerograd.autograd import backward
        saved = iter(ctx.saved_tensors)
        inputs = [next(saved).detach().requires_grad_(need) if is_tensor else other
                  for is_tensor, need, other in zip(ctx.tensor_mask, ctx.requires, ctx.others)]
        with enable_grad():
            if ctx.snapshot is None:
                outputs = ctx.run_function(*inputs)
            else:
                with _replaying(ctx.snapshot):
                    outputs = ctx.run_function(*inputs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs)
                 if isinstance(o, Tensor) and o._requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is "
                               "not necessary")
        backward([o for o, _ in pairs], [g for _, g in pairs])
        grads = tuple(t.grad if isinstance(t, Tensor) else None for t in inputs)
        return (None, None) + grads
