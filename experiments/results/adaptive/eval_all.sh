#!/usr/bin/env bash
# Evaluate one trained run in reactive, deliberative and adaptive mode (budgets 0.1, 0.3, 0.6),
# 10 episodes each from the run's evaluation seeds, one PyTorch thread.
# Usage: eval_all.sh RUN_DIR LABEL. Writes LABEL_<mode>.json (printed JSON) and LABEL_<mode>.log
# (stderr) next to this script.
set -euo pipefail
run_dir=$1
label=$2
out=$(dirname "$0")
ami=${AMI:-ami}
export OMP_NUM_THREADS=1

for mode in reactive deliberative; do
    "$ami" eval "$run_dir" --mode "$mode" --episodes 10 --set num_threads=1 \
        > "$out/${label}_${mode}.json" 2> "$out/${label}_${mode}.log"
done
for budget in 0.1 0.3 0.6; do
    "$ami" eval "$run_dir" --mode adaptive --episodes 10 --set num_threads=1 \
        --set configurator.deliberation_budget="$budget" \
        > "$out/${label}_adaptive_${budget}.json" 2> "$out/${label}_adaptive_${budget}.log"
done
