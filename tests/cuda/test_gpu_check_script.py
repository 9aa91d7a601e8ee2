"""The prepared GPU check (benchmarks/gpu_check.sh, bench_gpu.py), as far as a CPU runs it:
the shell script's syntax, arguments and refusal on a machine that is not ready, and the
benchmark's whole flow in --dry-run mode (both frameworks on the CPU, tiny sizes)."""
import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
sys.path.insert(0, str(ROOT / "benchmarks"))


def _run(*args, env=None):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, **(env or {})))


def test_the_shell_script_parses_and_explains_itself():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    shown = _run("--help")
    assert shown.returncode == 0 and "--accuracy" in shown.stdout and "VENV" in shown.stdout
    bad = _run("--fast")
    assert bad.returncode == 2 and "unknown argument '--fast'" in bad.stderr


def test_a_machine_without_cupy_is_refused_before_any_phase(tmp_path):
    venv = Path(sys.executable).parent.parent  # this venv: torch, no CuPy (or no GPU)
    done = _run(env={"VENV": str(venv), "RESULTS": str(tmp_path)})
    if done.returncode == 0:
        pytest.skip("this machine is ready for the GPU check")
    assert done.returncode == 2 and "nothing was run" in done.stdout
    assert "=== " not in done.stdout  # no phase started
    logs = list(tmp_path.glob("gpu-check-*.log"))
    assert len(logs) == 1 and "not ready" in logs[0].read_text()


def test_the_benchmark_runs_end_to_end_in_dry_run_mode(capsys):
    import bench_gpu
    args = argparse.Namespace(models=["mlp", "lstm-lm"], rounds=1, steps=1, cpu_steps=1,
                              dry_run=True)
    results = bench_gpu.benchmark(args)
    assert set(results) == {"mlp", "lstm-lm"}
    for row in results.values():
        assert row["zerograd_s"] > 0 and row["torch_s"] > 0 and row["ratio"] > 0
        assert row["cpu_samples_s"] > 0
    out = capsys.readouterr().out
    assert "mlp" in out and "ratio" in out
