"""Run every benchmark (zerograd vs PyTorch in the same run) at 1 thread, then at 2.

    python benchmarks/run.py [--threads 1 2] [--quick]

Each benchmark alternates the two frameworks and prints median times and the median
ratio; record the results in BENCHMARKS.md with the machine they ran on.

Above 1 thread, OpenBLAS's idle workers spin ~0.1 s after each call and steal the core
the other framework's next run needs. ``bench_nn.py`` and ``bench_train.py`` run each
framework in its own process there; the other benchmarks alternate in one process, so
this script sets ``OPENBLAS_THREAD_TIMEOUT=4`` (workers sleep after 2^4 cycles) for them:
their 2-thread figures are with short-spinning BLAS workers.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_core.py", "bench_nn.py", "bench_compiled.py", "bench_optim.py",
           "bench_data.py", "bench_autodiff_modes.py", "bench_train.py"]
OWN_PROCESSES = {"bench_nn.py", "bench_train.py"}  # one process per framework above 1 thread


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", nargs="+", default=BENCHES)
    args = parser.parse_args()
    failed = []
    for threads in args.threads:
        for bench in args.only:
            print(f"\n=== {bench} --threads {threads} ===", flush=True)
            env = dict(os.environ)
            if threads > 1 and bench not in OWN_PROCESSES:
                env["OPENBLAS_THREAD_TIMEOUT"] = "4"
            code = subprocess.call([sys.executable, str(HERE / bench), "--threads", str(threads)],
                                   env=env)
            if code:
                failed.append(f"{bench} (threads={threads})")
    if failed:
        sys.exit("failed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
