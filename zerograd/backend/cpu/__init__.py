"""The CPU backend: NumPy arrays, NumPy's random generator, and the CPU kernels.

CPU-only tricks (``as_strided`` views, cache-blocked loops, raw data addresses) live in
this package, beside the backend that may use them; ops reach them via ``kernels``.
"""
import types

import numpy

from zerograd.backend._registry import Backend
from zerograd.backend.cpu import (compiled, conv_kernels, gemm, memory, optim_kernels,
                                  pool_kernels, rows, threads)

memory.keep_freed_blocks()  # fewer page faults per training step (see memory.py)


class CPUBackend(Backend):
    type = "cpu"
    xp = numpy
    array_type = numpy.ndarray
    array_types = (numpy.ndarray, numpy.generic)
    kernels = types.SimpleNamespace(conv=conv_kernels, pool=pool_kernels, threads=threads,
                                    gemm=gemm, rows=rows, compiled=compiled,
                                    optim=optim_kernels)

    def from_host(self, array, index=None):
        return numpy.asarray(array)

    def to_host(self, array):
        return numpy.asarray(array)

    def errstate(self, **kwargs):
        return numpy.errstate(**kwargs)

    def data_address(self, array) -> int:
        return array.__array_interface__["data"][0]

    def new_random_generator(self, seed, index=None):
        return numpy.random.Generator(numpy.random.PCG64(seed))


cpu = CPUBackend()
