#!/usr/bin/env bash
# The GPU check: CUDA tests and the GPU benchmark against PyTorch CUDA, in one run, one log.
#
#   benchmarks/gpu_check.sh              # tests + benchmark, under 8 minutes
#   benchmarks/gpu_check.sh --accuracy   # then also ResNet-18-small on Fashion-MNIST (EPOCHS=5)
#
# For a machine with an NVIDIA GPU, CuPy and PyTorch CUDA already installed (no network
# needed). Uses `python3` on PATH, or $VENV/bin/python when VENV is set; the repository is
# put on PYTHONPATH, so nothing needs installing. Every phase has its own time limit, so
# the whole check ends within 8 minutes even if a phase hangs. The log goes to
# benchmarks/results/gpu-check-<UTC time>.log (and the benchmark's JSON beside it).
set -uo pipefail

ACCURACY=0
for arg in "$@"; do
    case "$arg" in
        --accuracy) ACCURACY=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument '$arg' (known: --accuracy)" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 1
PY="${VENV:+$VENV/bin/python}"
PY="${PY:-python3}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-4}"  # the CPU baseline; tests pin 1
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="${RESULTS:-benchmarks/results}"  # where the log goes (tests point it elsewhere)
mkdir -p "$RESULTS"
LOG="$RESULTS/gpu-check-$STAMP.log"
JSON="$RESULTS/gpu-bench-$STAMP.json"
exec > >(tee -a "$LOG") 2>&1

FAILED=()
phase() {  # phase NAME SECONDS COMMAND...: run with a time limit, record the outcome
    local name="$1" limit="$2"
    shift 2
    echo
    echo "=== $name (limit ${limit}s) ==="
    local start=$SECONDS
    timeout -s INT -k 15 "$limit" "$@"
    local code=$?
    echo "--- $name: exit $code after $((SECONDS - start))s"
    if [ "$code" -ne 0 ]; then
        FAILED+=("$name (exit $code$([ "$code" -eq 124 ] && echo ', timed out'))")
    fi
}

echo "zerograd GPU check $STAMP on $(hostname)"
echo "python: $($PY --version 2>&1) ($PY)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
    --format=csv,noheader
if ! $PY - <<'EOF'
import importlib, sys
missing = [m for m in ("numpy", "cupy", "torch", "pytest", "hypothesis", "safetensors")
           if importlib.util.find_spec(m) is None]
if missing:
    sys.exit("missing Python packages: " + ", ".join(missing))
import cupy, torch, zerograd
print(f"cupy {cupy.__version__}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
      f"zerograd {zerograd.__version__}")
if not torch.cuda.is_available():
    sys.exit("PyTorch sees no GPU")
if not zerograd.cuda.is_available():
    from zerograd.backend import unavailable_reason
    sys.exit(f"zerograd sees no GPU: {unavailable_reason('cuda')}")
print(f"GPU: {zerograd.cuda.get_device_name()} ({zerograd.cuda.device_count()} visible)")
EOF
then
    echo "gpu_check: the machine is not ready (see above); nothing was run. Log: $LOG"
    exit 2
fi

# Several pytest workers when pytest-xdist is there: CuPy compiles each new kernel once
# (cached on disk), and the oracle tables are many small independent tests.
XDIST=()
$PY -c "import xdist" 2>/dev/null && XDIST=(-n 6)

phase "GPU tests (tests/cuda)" 75 \
    $PY -m pytest -p no:cacheprovider -q -rs tests/cuda
phase "benchmark vs PyTorch CUDA" 170 \
    $PY benchmarks/bench_gpu.py --json "$JSON"
# The oracle tables get the time left of the 8 minutes. On a fresh machine CuPy compiles
# each kernel once (then cached in ~/.cupy), so a second run is much faster.
LEFT=$((470 - SECONDS))
phase "oracle tables on cuda (device fixture)" "$((LEFT > 60 ? LEFT : 60))" \
    $PY -m pytest -p no:cacheprovider -q -rf --maxfail=50 "${XDIST[@]}" -m "not slow" \
    -k cuda --ignore=tests/cuda tests
if [ "$ACCURACY" -eq 1 ]; then
    phase "accuracy: ResNet-18-small on Fashion-MNIST" 3000 \
        $PY benchmarks/bench_gpu.py --accuracy --epochs "${EPOCHS:-5}" \
        ${DATA_DIR:+--data-dir "$DATA_DIR"}
fi

echo
if [ "${#FAILED[@]}" -eq 0 ]; then
    echo "gpu_check: all phases passed in ${SECONDS}s. Log: $LOG"
    exit 0
fi
echo "gpu_check: ${#FAILED[@]} phase(s) failed: $(IFS=';'; echo "${FAILED[*]}"). Log: $LOG"
exit 1
