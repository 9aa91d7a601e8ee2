"""Activation checkpointing (``torch.utils.checkpoint``): trade compute for memory.

``checkpoint(fn, *args, use_reentrant=False)`` runs ``fn`` without keeping the tensors its
ops save for backward; when backward first needs one of them, ``fn`` runs again (with
the random state it had, so dropout draws the same mask) and the recomputed tensors are
used instead. A stack of ``n`` checkpointed blocks then holds the blocks' inputs and one
block's intermediates at a time, instead of every intermediate of every block.

Two implementations, as in torch:

* ``use_reentrant=False`` (recommended): ``autograd.graph.saved_tensors_hooks`` replaces
  each saved tensor by a placeholder while ``fn`` runs; unpacking a placeholder in
  backward triggers the recomputation. Works with ``autograd.grad``, keyword arguments,
  and inputs that do not require grad.
* ``use_reentrant=True``: ``fn`` runs under ``no_grad`` inside one ``Function`` whose
  backward recomputes ``fn`` with grad enabled and runs a nested backward through it.
"""
import warnings
import weakref

from zerograd.autograd.grad_mode import enable_grad
from zerograd.autograd.graph import saved_tensors_hooks
from zerograd.ops.recompute import CheckpointFunction, _replaying, _rng_snapshot
from zerograd.tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


def _noop_context_fn():
    from contextlib import nullcontext
    return nullcontext(), nullcontext()


def checkpoint(function, *args, use_reentrant=None, context_fn=_noop_context_fn,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """``function(*args, **kwargs)``, with its intermediates recomputed in backward instead
    of kept. ``preserve_rng_state=True`` (a keyword) replays the random state."""
    if use_reentrant is None:
        warnings.warn("zerograd.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly; use_reentrant=False is recommended. Defaulting to True, as "
                      "torch does.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if context_fn is not _noop_context_fn:
            raise ValueError("Passing `context_fn` is only supported when use_reentrant=False.")
        return _checkpoint_reentrant(function, preserve, args)
    return _checkpoint_hooked(function, preserve, context_fn, args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a list or ``nn.Sequential``) in ``segments`` chunks, checkpointing
    all but the last; the input of each checkpointed chunk is what stays in memory."""
    if use_reentrant is None:
        warnings.warn("zerograd.utils.checkpoint.checkpoint_sequential: the use_reentrant "
                      "parameter should be passed explicitly; use_reentrant=False is "
                      "recommended. Defaulting to True, as torch does.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))

    def run_function(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    from zerograd.nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run_function(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1)(input)


# -- the random state ---------------------------------------------------------------------------
# -- use_reentrant=False: saved-tensor hooks ----------------------------------------------------
class _Holder:
    """What the graph keeps instead of a saved tensor: filled by the recomputation."""
    __slots__ = ("frame", "index", "value", "__weakref__")

    def __init__(self, frame, index):
        self.frame, self.index, self.value = frame, index, None


class _Frame:
    """One checkpointed call: how to rerun it, and the placeholders it handed out."""

    def __init__(self, recompute):
        self.recompute = recompute
        self.holders = []  # weak references: a holder dies with the node that saved it

    def pack(self, tensor):
        holder = _Holder(self, len(self.holders))
        self.holders.append(weakref.ref(holder))
        return holder

    def fill(self):
        """Rerun the function; every live placeholder gets its recomputed tensor."""
        count = [0]

        def pack_recomputed(tensor):
            i = count[0]
            count[0] += 1
            holder = self.holders[i]() if i < len(self.holders) else None
            if holder is not None:
                holder.value = tensor.detach()
            return None

        def unpack_recomputed(_):
            raise RuntimeError("checkpoint: the recomputed graph cannot be differentiated")

        with saved_tensors_hooks(pack_recomputed, unpack_recomputed):
            self.recompute()
        if count[0] != len(self.holders):
            raise RuntimeError(
                "zerograd.utils.checkpoint: the recomputed forward saved a different number of "
                f"tensors ({count[0]}) than the original forward ({len(self.holders)}); the "
                "checkpointed function must do the same operations each time it runs")


def _unpack_holder(holder):
    if holder.value is None:
        holder.frame.fill()
    return holder.value


def _checkpoint_hooked(function, preserve, context_fn, args, kwargs):
    snapshot = _rng_snapshot(args) if preserve else None
    forward_context, recompute_context = context_fn()

    def recompute():
        with enable_grad(), recompute_context:
            if snapshot is None:
                function(*args, **kwargs)
            else:
                with _replaying(snapshot):
                    function(*args, **kwargs)

    frame = _Frame(recompute)
    with saved_tensors_hooks(frame.pack, _unpack_holder), forward_context:
        return function(*args, **kwargs)


def _checkpoint_reentrant(function, preserve, args):
    tensor_mask = tuple(isinstance(a, Tensor) for a in args)
    requires = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
    if not any(requires):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=3)
    return CheckpointFunction.apply(function, preserve, *args, tensor_mask=tensor_mask,
                                    requires=requires)
