#!/usr/bin/env bash
# GPU check of the memorization estimator (bench/gpu_check.py): fast-path plan, 400-model fastnet
# ensemble throughput batched vs sequential, GPU utilisation, projected CIFAR-10 GPU-hours.
# Under 10 minutes on a CUDA GPU; a few seconds on a CPU (GPU parts skipped, JSON still written).
#   bench/gpu_check.sh [OUT.json]        (default bench/results/gpu_check.json; PYTHON=... to choose)
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -m bench.gpu_check ${1:+--out "$1"}
