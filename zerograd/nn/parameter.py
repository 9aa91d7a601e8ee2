"""``nn.Parameter`` and ``nn.Buffer``: tensors a Module registers by assignment.

A Parameter is trainable state (``Module.parameters()`` yields it); a Buffer is
non-trainable state that still belongs in ``state_dict`` (running statistics, masks).
"""
from zerograd.tensor import Tensor


class Parameter(Tensor):
    """A tensor that requires grad by default and is picked up by ``Module.parameters()``.

    It shares memory with the data it is built from (like torch's Parameter).
    """

    def __init__(self, data=None, requires_grad=True):
        from zerograd.ops.creation import empty
        if data is None:
            data = empty(0)
        array = data._data if isinstance(data, Tensor) else Tensor(data)._data
        self._init(array, False, None)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (Parameter, (Tensor._make(self._data), self._requires_grad))

    def __deepcopy__(self, memo):
        out = Parameter(Tensor._make(self._data.copy()), self._requires_grad)
        if self.grad is not None:
            out.grad = Tensor._make(self.grad._data.copy())
        memo[id(self)] = out
        return out


class _BufferMeta(type):
    # A Buffer is a plain Tensor marked ``_is_buffer``; isinstance must see the mark.
    def __instancecheck__(cls, instance):
        if cls is Buffer and isinstance(instance, Tensor) and \
                getattr(instance, "_is_buffer", False):
            return True
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Mark a tensor as a buffer: assigning it to a Module attribute registers it.

    ``persistent=False`` keeps it out of ``state_dict`` (as ``register_buffer`` does).
    """

    def __new__(cls, data=None, *, persistent=True):
        from zerograd.ops.creation import empty
        if data is None:
            data = empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t
