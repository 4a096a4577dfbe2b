#!/usr/bin/env bash
# Experiment 13 (exp13_preregistration.md): hetero train SUITE with proportional and balanced
# task sampling, seeds paired, bf16 on the CPU. Per-seed rows -> data/exp13_task_sampling_SUITE.csv
#   HETERO_DATA_DIR=../shared/data bash examples/experiments/exp13_task_sampling.sh        # part A
#   SUITE=mini SEEDS="$(seq 0 11)" bash examples/experiments/exp13_task_sampling.sh      # part B
set -eu
PY=${PY:-.venv/bin/python}
HETERO=${HETERO:-$(dirname "$PY")/hetero}
SUITE=${SUITE:-full}
SEEDS=${SEEDS:-$(seq 8 19)}
WORK=${WORK:-/tmp/exp13-$SUITE}
CSV=${CSV:-examples/experiments/data/exp13_task_sampling_$SUITE.csv}
mkdir -p "$WORK"
for seed in $SEEDS; do
  for mode in proportional balanced; do
    out=$WORK/${mode}_s$seed
    [ -f "$out/metrics.json" ] && continue  # resume
    start=$(date +%s)
    "$HETERO" train "$SUITE" -o "$out" -q --seed "$seed" --task-sampling "$mode" \
      --lr-schedule constant --hparam cpu_amp=true
    echo $(($(date +%s) - start)) > "$out.seconds"
  done
done
$PY examples/experiments/train_rows.py "$WORK" "$CSV" mode
