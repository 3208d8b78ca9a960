#!/usr/bin/env bash
# Quick density benchmark on a CUDA GPU: JAX rows run on the GPU, the report names the device.
#
# Usage: benchmarks/gpu.sh [OUTPUT.md] [extra run.py arguments...]
# (default output: benchmarks/results/density_gpu.md, with density_gpu.json beside it).
# Needs a CUDA build of JAX in the environment (e.g. `pip install "jax[cuda12]"`); it
# fails with exit code 2 if JAX sees no GPU rather than silently benchmarking the CPU.
# scikit-learn and zuko/torch rows still run on the CPU.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/results/density_gpu.md}"
shift || true
python="${PYTHON:-python}"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
export JAX_PLATFORMS=cuda
exec "$python" "$here/run.py" --quick --require-gpu --output "$out" "$@"
