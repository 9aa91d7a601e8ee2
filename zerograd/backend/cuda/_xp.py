"""The array module of an array: CuPy for CuPy arrays, NumPy otherwise.

The CUDA kernels take their module from their inputs (as the ops do) rather than
importing CuPy, so the CPU tests can run the very same kernel code on NumPy arrays.
"""
import numpy


def module_of(array):
    kind = type(array)
    if kind.__module__.startswith("cupy"):
        import cupy
        return cupy
    return numpy
