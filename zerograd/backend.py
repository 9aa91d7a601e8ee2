"""The one place that imports the array library.

Every op reaches array math through ``xp`` (NumPy today). A GPU backend swaps in
CuPy here, behind the same name, so no op code has to change.
"""
import numpy as xp  # noqa: F401  (re-exported: the array module every op uses)

ndarray = xp.ndarray
generic = xp.generic


def is_array(obj) -> bool:
    """True for backend arrays and backend scalars (NumPy arrays or numpy scalars)."""
    return isinstance(obj, (xp.ndarray, xp.generic))


def asarray(obj, dtype=None):
    return xp.asarray(obj, dtype=dtype)


def to_numpy(array):
    """The host NumPy view of a backend array (identity for NumPy)."""
    return array


def data_address(array) -> int:
    """The address of an array's first element (to relate views to the memory they share)."""
    return array.__array_interface__["data"][0]


def errstate(**kwargs):
    """Silence floating-point warnings where IEEE results (inf, nan) are the intended answer."""
    return xp.errstate(**kwargs)


def lib_version() -> str:
    return xp.__version__
