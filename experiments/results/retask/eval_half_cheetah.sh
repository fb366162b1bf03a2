#!/usr/bin/env bash
# Evaluate a HalfCheetah-v5 run zero-shot under new costs (target speeds 1, 2 and 3 m/s, running
# backward) and under its own cost for reference.
# Usage: eval_half_cheetah.sh RUN_DIR OUTPUT_DIR [EPISODES]
set -euo pipefail
run_dir=$1
output_dir=$2
episodes=${3:-3}
mkdir -p "$output_dir"
export OMP_NUM_THREADS=1
for target in 1.0 2.0 3.0; do
    ami eval "$run_dir" --cost experiments/costs/half_cheetah_speed_2.toml --cost-set "terms.speed.target=$target" \
        --episodes "$episodes" --set num_threads=1 > "$output_dir/speed_$target.json" 2> "$output_dir/speed_$target.log"
done
ami eval "$run_dir" --cost experiments/costs/half_cheetah_backward.toml --episodes "$episodes" --set num_threads=1 \
    > "$output_dir/backward.json" 2> "$output_dir/backward.log"
ami eval "$run_dir" --measure --mode both --episodes "$episodes" --set num_threads=1 \
    > "$output_dir/own_cost.json" 2> "$output_dir/own_cost.log"
