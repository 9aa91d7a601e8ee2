"""Backward hooks of ``nn.Module``: ``register_full_backward_hook`` and its pre-hook.

As in torch, a call to a module with such hooks passes its tensor inputs and outputs
through an identity ``Function`` with several outputs (``BackwardHookFunction``). In
backward, that node at the outputs sees the gradients w.r.t. the module's outputs (the
pre-hooks run there and may replace them), and the node at the inputs sees the
gradients w.r.t. the module's inputs (the hooks run there, ``hook(module, grad_input,
grad_output)``, and may replace ``grad_input``). The wrapping is done by a forward
pre-hook and a forward hook this mixin registers once, kept last in their tables, so a
module without backward hooks pays nothing and ``Module.__call__`` needs no special case.
"""
import warnings
from collections import OrderedDict

from zerograd.autograd.grad_mode import is_grad_enabled
from zerograd.nn.modules._hooks import RemovableHandle
from zerograd.ops.identity import BackwardHookFunction
from zerograd.tensor import Tensor

__all__ = []


class _BackwardHooksMixin:
    """``register_full_backward_hook`` / ``register_full_backward_pre_hook`` for ``Module``."""

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output)`` once the gradients w.r.t. the module's
        inputs are computed; a non-None result (a tuple) replaces ``grad_input``."""
        return self._add_backward_hook("_backward_hooks", hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """``hook(module, grad_output)`` once the gradients w.r.t. the module's outputs are
        computed; a non-None result (a tuple) replaces ``grad_output``."""
        return self._add_backward_hook("_backward_pre_hooks", hook, prepend)

    def _add_backward_hook(self, table_name, hook, prepend):
        d = self.__dict__
        if "_backward_hooks" not in d:
            d["_backward_hooks"] = OrderedDict()
            d["_backward_pre_hooks"] = OrderedDict()
            d["_backward_hook_stack"] = []  # one _BackwardHook per call in progress
            d["_backward_hook_wrappers"] = (self.register_forward_pre_hook(_wrap_inputs),
                                            self.register_forward_hook(_wrap_outputs))
        table = d[table_name]
        handle = RemovableHandle(table)
        table[handle.id] = hook
        if prepend:
            table.move_to_end(handle.id, last=False)
        return handle


def _wrap_inputs(module, args):
    d = module.__dict__
    if not (d["_backward_hooks"] or d["_backward_pre_hooks"]):
        return None
    pre, post = d["_backward_hook_wrappers"]
    module._forward_pre_hooks.move_to_end(pre.id)  # run last (from the next call on)
    module._forward_hooks.move_to_end(post.id)     # run after every other forward hook
    state = _BackwardHook(module, list(d["_backward_hooks"].values()),
                          list(d["_backward_pre_hooks"].values()))
    d["_backward_hook_stack"].append(state)
    return state.setup_input_hook(args)


def _wrap_outputs(module, args, output):
    stack = module.__dict__["_backward_hook_stack"]
    if not stack:
        return None
    return stack.pop().setup_output_hook(output)


class _BackwardHook:
    """One call of a hooked module: the gradients seen at its outputs, handed to the hooks
    that run at its inputs (torch's ``utils.hooks.BackwardHook``)."""

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_inputs = self.n_outputs = -1
        self.input_index = self.output_index = None

    @staticmethod
    def _pack_with_none(indices, values, size):
        res = [None] * size
        for i, v in zip(indices, values):
            res[i] = v
        return tuple(res)

    def _apply_on_tensors(self, register, args):
        index = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in index]
        if not (any(t._requires_grad for t in tensors) and is_grad_enabled()):
            return args, None
        needs = tuple(t._requires_grad for t in tensors)
        outs = BackwardHookFunction.apply(*tensors, needs=needs)
        for t, o in zip(tensors, outs):
            o._version_box = t._version_box  # the same memory: in-place changes show in both
        node = next(o.grad_fn for o in outs if o.grad_fn is not None)
        register(node)
        new = list(args)
        for i, o in zip(index, outs):
            new[i] = o
        return tuple(new), index

    def setup_input_hook(self, args):
        def register(node):
            node.register_hook(self._input_hook)
        result, self.input_index = self._apply_on_tensors(register, args)
        self.n_inputs = len(args)
        return result

    def setup_output_hook(self, output):
        def register(node):
            node.register_hook(self._output_hook)
        single = not isinstance(output, tuple)
        outs = (output,) if single else output
        result, self.output_index = self._apply_on_tensors(register, outs)
        self.n_outputs = len(outs)
        return result[0] if single else result

    def _output_hook(self, _, grad_outputs):
        self.grad_outputs = self._pack_with_none(self.output_index, grad_outputs,
                                                 self.n_outputs)
        for hook in self.pre_hooks:
            result = hook(self.module, self.grad_outputs)
            if result is None:
                continue
            if len(result) != len(self.grad_outputs):
                raise RuntimeError("Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(result)}, but expected "
                                   f"{len(self.grad_outputs)}")
            self.grad_outputs = tuple(result)
        grad_outputs = self.grad_outputs
        if self.input_index is None:  # no input needs a gradient: the hooks run here
            grad_inputs = (None,) * self.n_inputs
            if self.hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients.",
                              stacklevel=2)
            for hook in self.hooks:
                result = hook(self.module, grad_inputs, self.grad_outputs)
                if result is not None and not all(r is None for r in result):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return tuple(grad_outputs[i] for i in self.output_index)

    def _input_hook(self, grad_inputs, _):
        if self.grad_outputs is None:
            # the gradient reached the inputs without passing the outputs (double backward)
            return None
        res = self._pack_with_none(self.input_index, grad_inputs, self.n_inputs)
        for hook in self.hooks:
            out = hook(self.module, res, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(res):
                raise RuntimeError("Backward hook returned an invalid number of grad_input, "
                                   f"got {len(out)}, but expected {len(res)}")
            res = tuple(out)
        self.grad_outputs = None
        return tuple(res[i] for i in self.input_index)
