"""Forward hooks of ``nn.Module``: registration and the handle that removes them.

``Module.__call__`` runs the hooks; this file only stores them. Hooks live in ordered
dicts keyed by a handle id, so ``prepend=True`` is a ``move_to_end`` and removal is a
dict deletion (through weak references, so a handle never keeps a module alive).
"""
from zerograd.autograd.graph import RemovableHandle  # one handle type for every hook

__all__ = ["RemovableHandle"]


class _ForwardHooksMixin:
    """``register_forward_pre_hook`` / ``register_forward_hook`` for ``Module``; the hook
    dicts themselves are created in ``Module.__init__``."""

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` runs before forward; a non-None return replaces args."""
        handle = RemovableHandle(self._forward_pre_hooks, self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """``hook(module, args, output)`` runs after forward; a non-None return replaces
        the output."""
        handle = RemovableHandle(self._forward_hooks, self._forward_hooks_with_kwargs,
                                 self._forward_hooks_always_called)
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle
