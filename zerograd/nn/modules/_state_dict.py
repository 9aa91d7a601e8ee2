"""Saving and loading a ``Module``'s parameters and persistent buffers by dotted name.

``state_dict`` recurses through submodules with dotted prefixes; ``load_state_dict``
collects every key and shape problem across the tree and raises one error listing them,
worded as PyTorch's. Subclasses customise a single module's part by overriding
``_save_to_state_dict`` / ``_load_from_state_dict``, as in PyTorch.
"""
from collections import OrderedDict, namedtuple

from zerograd.autograd.grad_mode import no_grad
from zerograd.nn.parameter import Parameter, is_lazy
from zerograd.tensor import Tensor


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class _StateDictMixin:
    """The state-dict methods of ``Module`` (which supplies ``_parameters``, ``_buffers``,
    ``_modules`` and ``named_modules``)."""

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An ordered dict of every parameter and persistent buffer by dotted name.

        The values are detached tensors sharing memory with the module's (copy them,
        e.g. ``{k: v.clone() ...}``, to snapshot a model that keeps training).
        """
        if args:  # torch's deprecated positional form state_dict(destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict, prefix, error_msgs, assign):
        local = {k: v for k, v in self._parameters.items() if v is not None}
        local.update((k, v) for k, v in self._buffers.items()
                     if v is not None and k not in self._non_persistent_buffers_set)
        for name, param in local.items():
            key = prefix + name
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected '
                                  "zerograd.Tensor or Tensor-like object from checkpoint but "
                                  f"received {type(value)}")
                continue
            if is_lazy(param) and not is_lazy(value):
                param.materialize(value.shape)  # a lazy layer takes the checkpoint's shape
            if tuple(value.shape) != tuple(param.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{value.shape} from checkpoint, the shape in current model "
                                  f"is {param.shape}.")
                continue
            if assign:
                if isinstance(param, Parameter):
                    new = value if isinstance(value, Parameter) else \
                        Parameter(value, requires_grad=param.requires_grad)
                    self._parameters[name] = new
                else:
                    self._buffers[name] = value
                continue
            with no_grad():
                param.copy_(value)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Returns ``(missing_keys, unexpected_keys)``; with ``strict`` (default) any
        missing or unexpected key raises, and a shape mismatch always raises.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        expected = list(self.state_dict(keep_vars=True).keys())
        expected_set = set(expected)
        given = [k for k in state_dict.keys() if k != "_metadata"]
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in given if k not in expected_set]
        error_msgs = []
        for prefix, module in self.named_modules(remove_duplicate=False):
            module._load_from_state_dict(state_dict, prefix + "." if prefix else "",
                                         error_msgs, assign)
        if strict:
            if unexpected:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                self._get_name(), "\n\t".join(error_msgs)))
        return _IncompatibleKeys(missing, unexpected)
