#!/usr/bin/env bash
# Run the CUDA tests, the planning benchmark on CUDA once per speed option, and the
# training-throughput benchmark on CUDA.
#
# Usage: experiments/benchmarks/gpu_check.sh   (from any folder; PYTHON picks the interpreter)
# Writes the test log and one JSON record per benchmark run to $OUT when it is set, else to
# experiments/benchmarks/results/. Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-python}"
out_dir="${OUT:-experiments/benchmarks/results}"
mkdir -p "$out_dir"

"$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: CUDA is not available')"
"$python" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name())"

# The CUDA cases are the tests parametrized with the "cuda" device (tests/tiny.py DEVICES).
"$python" -m pytest -q -k cuda tests 2>&1 | tee "$out_dir/cuda_tests.log"

bench() {
    local name="$1"
    shift
    "$python" -m experiments.benchmarks.planning --device cuda --output "$out_dir/planning-cuda-$name.json" "$@"
}
bench fp32
bench tf32 --precision tf32
bench bf16 --precision bf16
bench compile --compile
bench cuda-graphs --compile --cuda-graphs

# Training throughput: env steps per second with one update per env step, 1 to 64 envs.
"$python" -m experiments.benchmarks.step_time experiments/configs/hopper.toml --device cuda \
    --envs 1,16,64 --vector-steps 10 --repeats 20 --output "$out_dir/step_time-cuda.json"
