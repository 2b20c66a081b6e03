#!/usr/bin/env bash
# Every check that needs a GPU, in one go (each step has a time limit; 9.5 minutes at most): the CUDA tests, then the
# training and sweep benchmarks. Needs torch with CUDA, pytest, pandas, scipy, pyyaml (timm adds a row).
#
#   bash benchmarks/gpu_check.sh [LOG_DIR]      # logs: LOG_DIR/{tests,bench_train,bench_sweep}.txt
#
# Exits non-zero when a test or a benchmark fails; every step still runs.
set -u -o pipefail
log_dir=${1:-gpu-check}
mkdir -p "$log_dir"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
failed=0

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log, remember a failure
    local name=$1 limit=$2
    shift 2
    echo "== $name ($(date -u +%H:%M:%S), limit ${limit}s): $*"
    timeout "$limit" "$@" 2>&1 | tee "$log_dir/$name.txt" || { echo "== $name FAILED"; failed=1; }
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
if ! "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: torch sees no CUDA GPU here ($python): nothing to check" >&2
    exit 2
fi
"$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
step tests 150 "$python" -m pytest -m gpu tests/test_gpu.py -q -p no:cacheprovider -o addopts=""
step bench_train 180 "$python" benchmarks/bench_train.py --models 2 --steps 100 --epochs 3 --batch-sizes 128 512
step bench_sweep 240 "$python" benchmarks/bench_sweep.py --n 8 --epochs 1 --k 4
exit $failed
