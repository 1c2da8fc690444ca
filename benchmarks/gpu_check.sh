#!/usr/bin/env bash
# The accelerator checks: device-marked tests, the population benchmark, then the host-cost one.
#
# Run on a machine with an NVIDIA GPU and JAX's CUDA build (pip install 'moorec[cuda]'), from
# the repository root, with MOOREC_DATA pointing at the folder holding ml-100k/:
#
#     MOOREC_DATA=../shared/datasets bash benchmarks/gpu_check.sh
#
# PYTHON picks the interpreter (default: python3); RESULTS the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
RESULTS=${RESULTS:-benchmarks/results}
mkdir -p "$RESULTS"
export PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PYTHON" - <<'PY'
import jax
from moorec.env import git_commit, source_digest
print("jax", jax.__version__, "backend", jax.default_backend(), jax.devices())
print("moorec source_sha256", source_digest(), "git", git_commit())
if jax.default_backend() == "cpu":
    raise SystemExit("JAX sees no accelerator: install jax's CUDA build (moorec[cuda])")
PY
start=$(date +%s)
"$PYTHON" -m pytest -q -m device tests -p no:cacheprovider
"$PYTHON" benchmarks/population_speed.py --sizes 1 4 16 64 \
    --executors sequential vectorized auto --out "$RESULTS/population_speed_gpu.json"
"$PYTHON" benchmarks/population_overhead.py --repeats 5 \
    --out "$RESULTS/population_overhead_gpu.json"
echo "gpu_check: $(( $(date +%s) - start )) s"
