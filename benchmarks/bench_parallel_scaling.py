"""How much faster two threads run NumPy work than one, on this machine.

    python benchmarks/bench_parallel_scaling.py

The same job runs once on one thread, then twice at once on two threads of a pool (BLAS
pinned to one thread): the speed-up is 2 x (time of one) / (time of both). It is the
ceiling of any batch-slice splitting in zerograd's CPU kernels, and tells a VM whose
vCPUs share a core or memory bandwidth from one with two free cores.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import statistics  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

import numpy as np  # noqa: E402

RNG = np.random.default_rng(0)
SQUARE = RNG.standard_normal((512, 512)).astype(np.float32)
THIN_W = RNG.standard_normal((6, 25)).astype(np.float32)  # LeNet conv 1 as a GEMM
THIN_COLS = RNG.standard_normal((25, 41216)).astype(np.float32)
SRC = RNG.standard_normal(4_000_000).astype(np.float32)


def big_gemm():
    for _ in range(20):
        SQUARE @ SQUARE


def small_kernel_pieces():
    for _ in range(50):
        for s in range(0, THIN_COLS.shape[1], 5888):  # pieces under OpenBLAS's 100**3
            np.matmul(THIN_W, THIN_COLS[:, s:s + 5888])


def big_copy():
    dst = np.empty_like(SRC)
    for _ in range(20):
        np.copyto(dst, SRC)


def main():
    pool = ThreadPoolExecutor(2)
    print(f"load {os.getloadavg()[0]:.2f}")
    for name, job in [("512^3 sgemm x20", big_gemm),
                      ("small-kernel GEMM pieces", small_kernel_pieces),
                      ("16 MB copy x20", big_copy)]:
        ups = []
        for _ in range(5):
            start = time.perf_counter()
            job()
            one = time.perf_counter() - start
            start = time.perf_counter()
            for f in [pool.submit(job) for _ in range(2)]:
                f.result()
            both = time.perf_counter() - start
            ups.append(2 * one / both)
        print(f"{name:<28} 2-thread speed-up {statistics.median(ups):.2f}x "
              f"(runs {min(ups):.2f}-{max(ups):.2f})")


if __name__ == "__main__":
    main()
