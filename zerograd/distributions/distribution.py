"""The ``Distribution`` base: shapes, argument validation and the default switch."""
from zerograd.size import Size

__all__ = ["Distribution"]

_DEFAULT_VALIDATE = [__debug__]  # torch validates by default unless Python runs with -O


class Distribution:
    """Base of every distribution: ``batch_shape``, ``event_shape`` and validation.

    ``validate_args=None`` follows ``Distribution.set_default_validate_args`` (True by
    default, as in torch): parameters and sample values are checked, and a bad one raises
    ``ValueError`` naming the constraint.
    """

    has_rsample = False
    has_enumerate_support = False

    @staticmethod
    def set_default_validate_args(value):
        if value not in (True, False):
            raise ValueError
        _DEFAULT_VALIDATE[0] = value

    def __init__(self, batch_shape=Size(), event_shape=Size(), validate_args=None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        self._validate_args = _DEFAULT_VALIDATE[0] if validate_args is None else validate_args

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=Size()):
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def sample_n(self, n):
        return self.sample(Size((n,)))

    def perplexity(self):
        return self.entropy().exp()

    def __repr__(self):
        args = ", ".join(f"{name}: {getattr(self, name).size()}" for name in self._param_names
                         if name in self.__dict__)
        return f"{type(self).__name__}({args})"
