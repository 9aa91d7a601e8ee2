"""``nn.Parameter``: a leaf tensor that a Module registers as trainable."""
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
