"""Let the C allocator keep freed large blocks for reuse (glibc): fewer page faults.

NumPy allocates every op's result with ``malloc``. glibc serves a block above its mmap
threshold (128 KiB at first, raised to the largest block freed so far) with fresh pages
from the kernel, each costing a page fault and zeroing when first touched, and it hands
free memory at the top of its heap back to the kernel beyond a trim threshold. A training
step frees and reallocates the same multi-MiB arrays (activations, gradients) over and
over, so they keep coming back as fresh pages: an LSTM language-model step (batch 32 x 35
steps, hidden 256) took ~2,900 page faults, 3-6 ms of its ~65 ms at 2 threads
(benchmarks/bench_rnn.py). Fixing both thresholds once, when zerograd is imported, makes
glibc reuse the freed blocks; the memory stays with the process for the next step.

Elsewhere (no ``mallopt``: macOS, musl) nothing changes. ``ZEROGRAD_KEEP_FREED_MEMORY=0``
in the environment turns it off (the allocator then keeps its own defaults).
"""
import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
MMAP_THRESHOLD = 32 << 20  # the most glibc accepts on 64-bit: larger blocks are mmapped
TRIM_THRESHOLD = 256 << 20  # free memory kept at the top of the heap before trimming


def keep_freed_blocks():
    """Set glibc's mmap and trim thresholds (see the module docstring). Returns True when
    the allocator took both settings."""
    if os.environ.get("ZEROGRAD_KEEP_FREED_MEMORY", "1") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no C library with mallopt: nothing to do
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
