"""Whether operations record the graph: one thread-local flag, switched by context managers.

``no_grad``, ``enable_grad`` and ``set_grad_enabled`` work both as ``with`` blocks and
as function decorators (``@no_grad()`` or ``@no_grad``), like PyTorch's.
"""
import functools
import threading

class _State(threading.local):
    enabled = True  # every thread starts with grad mode on


# Function.apply reads ``_state.enabled`` directly: it runs for every op.
_state = _State()


def is_grad_enabled() -> bool:
    return _state.enabled


def _set_enabled(mode: bool) -> None:
    _state.enabled = bool(mode)


def _run_with_mode(mode, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        prev = is_grad_enabled()
        _set_enabled(mode)
        try:
            return func(*args, **kwargs)
        finally:
            _set_enabled(prev)
    return wrapper


class _GradModeContext:
    """Base: subclasses pick the mode in ``_mode``; the previous mode is restored on exit."""

    _mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        _set_enabled(self._mode)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._prev)
        return False

    def __call__(self, func):
        return _run_with_mode(self._mode, func)


class no_grad(_GradModeContext):
    """Disable graph recording: results have ``requires_grad=False``."""
    _mode = False

    def __new__(cls, orig_func=None):
        if callable(orig_func):  # bare @no_grad
            return _run_with_mode(cls._mode, orig_func)
        return super().__new__(cls)

    def __init__(self, orig_func=None):
        pass


class enable_grad(no_grad):
    """Re-enable graph recording inside a ``no_grad`` block."""
    _mode = True


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` acts at once when called, and also works as a context."""

    def __init__(self, mode: bool):
        self._prev = is_grad_enabled()
        self._mode = bool(mode)
        _set_enabled(self._mode)

    def __enter__(self):
        return self

    def __call__(self, func):
        _set_enabled(self._prev)  # used as a decorator: the call in __init__ must not stick
        return _run_with_mode(self._mode, func)


class inference_mode(_GradModeContext):
    """Same as ``no_grad`` here (there are no separate inference tensors)."""

    def __init__(self, mode: bool = True):
        self._mode = not mode
