"""NumPy's argument spellings that torch accepts too: ``axis`` for ``dim``, ``keepdims`` for
``keepdim``.

torch's argument parser maps these aliases for every native op taking ``dim``, so code such
as d2l's ``A.sum(axis=0, keepdims=True)`` or ``y_hat.argmax(axis=1)`` runs. zerograd's op
wrappers and Tensor methods opt in with the ``numpy_aliases`` decorator.
"""
import functools

_ALIASES = (("axis", "dim"), ("keepdims", "keepdim"))


def numpy_aliases(fn):
    """Let ``fn`` take ``axis=``/``keepdims=`` as names for its ``dim``/``keepdim``."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs:
            for alias, name in _ALIASES:
                if alias in kwargs:
                    if name in kwargs:  # torch's parser reports the alias as unknown here
                        raise TypeError(f"{fn.__name__}() got an unexpected keyword argument "
                                        f"'{alias}' (it is an alias of '{name}'; pass one)")
                    kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)
    return wrapper
