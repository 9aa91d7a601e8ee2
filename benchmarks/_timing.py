"""Shared timing helpers: alternate zerograd and PyTorch runs and report median ratios."""
import os
import statistics
import time


def set_threads(n):
    """Limit BLAS/OpenMP threads for both frameworks (must run before numpy/torch import)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


# The clocks a benchmark may time with. "cpu" (the process's CPU time, all its threads)
# is the steadier one for 1-thread figures when other jobs share the machine: time spent
# waiting for a core does not count. Wall time is the truth for several threads.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_call(fn, repeat, clock="wall"):
    """Median time of ``fn()`` over ``repeat`` runs (after one warm-up call)."""
    now = CLOCKS[clock]
    fn()
    times = []
    for _ in range(repeat):
        start = now()
        fn()
        times.append(now() - start)
    return statistics.median(times)


def compare(name, zg_fn, torch_fn, rounds=7, repeat=5, clock="wall"):
    """Alternate the two frameworks ``rounds`` times; return (zg median, torch median, ratio)."""
    zg_times, torch_times = [], []
    for _ in range(rounds):
        zg_times.append(time_call(zg_fn, repeat, clock))
        torch_times.append(time_call(torch_fn, repeat, clock))
    z, t = statistics.median(zg_times), statistics.median(torch_times)
    ratios = [a / b for a, b in zip(zg_times, torch_times)]
    ratio = statistics.median(ratios)
    print(f"{name:<40} zerograd {z * 1e6:10.1f} us   torch {t * 1e6:10.1f} us   "
          f"ratio {ratio:5.2f}x")
    return z, t, ratio
