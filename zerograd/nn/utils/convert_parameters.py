"""Flatten parameters into one vector and back (e.g. for second-order methods)."""
from zerograd.ops.join import cat
from zerograd.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """Concatenate the flattened ``parameters`` into one 1-D tensor (differentiable)."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (their ``.data``).

    As in torch, each parameter's data becomes a view of ``vec``'s memory.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected zerograd.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    total = vec.numel()
    for param in parameters:
        n = param.numel()
        if pointer + n > total:
            raise RuntimeError(f"vector_to_parameters: the vector has {total} elements, fewer "
                               "than the parameters need")
        param.data = vec._data[pointer:pointer + n].reshape(param._data.shape)
        pointer += n
