"""Shared timing helpers: alternate zerograd and PyTorch runs and report median ratios."""
import os
import statistics
import time


def set_threads(n):
    """Limit BLAS/OpenMP threads for both frameworks (must run before numpy/torch import)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def time_call(fn, repeat):
    """Median wall time of ``fn()`` over ``repeat`` runs (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(name, zg_fn, torch_fn, rounds=7, repeat=5):
    """Alternate the two frameworks ``rounds`` times; return (zg median, torch median, ratio)."""
    zg_times, torch_times = [], []
    for _ in range(rounds):
        zg_times.append(time_call(zg_fn, repeat))
        torch_times.append(time_call(torch_fn, repeat))
    z, t = statistics.median(zg_times), statistics.median(torch_times)
    ratios = [a / b for a, b in zip(zg_times, torch_times)]
    ratio = statistics.median(ratios)
    print(f"{name:<40} zerograd {z * 1e6:10.1f} us   torch {t * 1e6:10.1f} us   "
          f"ratio {ratio:5.2f}x")
    return z, t, ratio
