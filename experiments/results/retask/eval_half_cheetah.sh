#!/usr/bin/env bash
# Evaluate a HalfCheetah-v5 run zero-shot under new costs (target speeds 1, 2 and 3 m/s, running
# backward) and under its own cost for reference.
# Usage: eval_half_cheetah.sh RUN_DIR OUTPUT_DIR [EPISODES] [REFIT_STEPS]
# With REFIT_STEPS > 0 each new cost first refits the critic and the policy from the run's replay
# buffer (ami eval --refit-steps), gives the critic weight 1 and evaluates both modes.
set -euo pipefail
run_dir=$1
output_dir=$2
episodes=${3:-3}
refit_steps=${4:-0}
mkdir -p "$output_dir"
export OMP_NUM_THREADS=1
refit=()
if [ "$refit_steps" -gt 0 ]; then
    refit=(--cost-set critic_weight=1 --refit-steps "$refit_steps" --mode both)
fi
for target in 1.0 2.0 3.0; do
    ami eval "$run_dir" --cost experiments/costs/half_cheetah_speed_2.toml --cost-set "terms.speed.target=$target" \
        "${refit[@]}" --episodes "$episodes" --set num_threads=1 > "$output_dir/speed_$target.json" 2> "$output_dir/speed_$target.log"
done
ami eval "$run_dir" --cost experiments/costs/half_cheetah_backward.toml "${refit[@]}" --episodes "$episodes" --set num_threads=1 \
    > "$output_dir/backward.json" 2> "$output_dir/backward.log"
ami eval "$run_dir" --measure --mode both --episodes "$episodes" --set num_threads=1 \
    > "$output_dir/own_cost.json" 2> "$output_dir/own_cost.log"
