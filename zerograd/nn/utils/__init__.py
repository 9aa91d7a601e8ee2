"""Gradient clipping, parameter/vector conversion, and padding/packing of sequences (``rnn``)."""
from zerograd.nn.utils.clip_grad import (  # noqa: F401
    clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm)
from zerograd.nn.utils.convert_parameters import (  # noqa: F401
    parameters_to_vector, vector_to_parameters)
from zerograd.nn.utils import clip_grad, convert_parameters, rnn  # noqa: F401

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm", "parameters_to_vector", "vector_to_parameters"]
