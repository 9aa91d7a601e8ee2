"""Run every benchmark (zerograd vs PyTorch in the same run) at 1 thread, then at 2.

    python benchmarks/run.py [--threads 1 2] [--quick]

Each benchmark alternates the two frameworks and prints median times and the median
ratio; record the results in BENCHMARKS.md with the machine they ran on.
"""
import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_core.py", "bench_nn.py", "bench_optim.py", "bench_data.py",
           "bench_autodiff_modes.py", "bench_train.py"]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", nargs="+", default=BENCHES)
    args = parser.parse_args()
    failed = []
    for threads in args.threads:
        for bench in args.only:
            print(f"\n=== {bench} --threads {threads} ===", flush=True)
            code = subprocess.call([sys.executable, str(HERE / bench), "--threads", str(threads)])
            if code:
                failed.append(f"{bench} (threads={threads})")
    if failed:
        sys.exit("failed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
