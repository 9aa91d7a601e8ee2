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


class _UninitializedMixin:
    """State of a lazy module before its first forward: no shape yet.

    ``materialize(shape)`` allocates the storage and turns the object, in place, into
    the ordinary class (``cls_to_become``), so references an optimizer already holds
    stay valid.
    """

    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None):
        """Allocate ``shape`` (on this object's device and dtype unless given)."""
        from zerograd.ops.creation import empty
        self._data = empty(tuple(shape), dtype=dtype if dtype is not None else self.dtype,
                           device=device if device is not None else self.device)._data
        self._bump_version()
        self.__class__ = self.cls_to_become

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def __deepcopy__(self, memo):
        out = type(self)(requires_grad=self._requires_grad)
        out._data = self._data.copy()
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        return (type(self), (self._requires_grad,))


class UninitializedParameter(_UninitializedMixin, Parameter):
    """A Parameter of a lazy layer (e.g. ``LazyLinear``) whose shape is not known yet."""

    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        from zerograd.ops.creation import empty
        super().__init__(empty(0, dtype=dtype, device=device), requires_grad)


class UninitializedBuffer(_UninitializedMixin, Tensor):
    """A buffer of a lazy layer whose shape is not known yet."""

    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        from zerograd.ops.creation import empty
        self._init(empty(0, dtype=dtype, device=device)._data, False, None)
        if requires_grad:
            self.requires_grad_(True)


def is_lazy(param):
    """True for a parameter or buffer that is still uninitialized."""
    return isinstance(param, _UninitializedMixin)
