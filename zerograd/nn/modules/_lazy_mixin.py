"""``LazyModuleMixin``: parameters whose shapes come from the first input."""
from zerograd.nn.parameter import is_lazy

__all__ = ["LazyModuleMixin"]


class LazyModuleMixin:
    """Base for layers whose parameter shapes come from the first input (``LazyLinear``).

    Until the first call the parameters are ``UninitializedParameter`` objects; a forward
    pre-hook calls ``initialize_parameters(*inputs)``, which materializes them and runs
    ``reset_parameters()``, then the module becomes ``cls_to_become`` (e.g. ``Linear``).
    Loading a state_dict also materializes them, with the checkpoint's shapes.
    """

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters)

    def has_uninitialized_params(self):
        return any(is_lazy(t) for t in list(self._parameters.values()) +
                   list(self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def _infer_parameters(self, module, args):
        self.initialize_parameters(*args)
        if self.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        # by id on this module's own dict: a deepcopy's handle would point at the original's
        self._forward_pre_hooks.pop(self._initialize_hook.id, None)
        del self._initialize_hook
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become
