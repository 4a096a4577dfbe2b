#!/usr/bin/env bash
# Experiment 14 (exp14_preregistration.md): hetero train SUITE with three training schedules,
# seeds paired, JOBS runs side by side with one thread each. Per-seed rows ->
# data/exp14_schedule_SUITE.csv; then the pre-registered analysis (exp14_analysis.py).
#   SUITE=mini bash examples/experiments/exp14_schedule.sh
#   SUITE=full HETERO_DATA_DIR=../shared/data EXTRA="--hparam cpu_amp=true" \
#     bash examples/experiments/exp14_schedule.sh
set -eu
PY=${PY:-.venv/bin/python}
HETERO=${HETERO:-$(dirname "$PY")/hetero}
SUITE=${SUITE:-mini}
SEEDS=${SEEDS:-$(seq 100 111)}
JOBS=${JOBS:-2}
EXTRA=${EXTRA:-}
WORK=${WORK:-/tmp/exp14-$SUITE}
CSV=${CSV:-examples/experiments/data/exp14_schedule_$SUITE.csv}
mkdir -p "$WORK"
export HETERO SUITE WORK EXTRA OMP_NUM_THREADS=1
run() {  # arm seed
  local out=$WORK/$1_s$2 flags
  [ -f "$out/metrics.json" ] && return 0  # resume
  case $1 in
    A) flags="--lr-schedule constant --task-sampling proportional" ;;
    B) flags="--lr-schedule cosine --task-sampling proportional" ;;
    C) flags="--lr-schedule cosine --task-sampling balanced" ;;
  esac
  local start=$(date +%s)
  # shellcheck disable=SC2086
  "$HETERO" train "$SUITE" -o "$out" -q --seed "$2" $flags $EXTRA > /dev/null
  echo $(($(date +%s) - start)) > "$out.seconds"
}
export -f run
for seed in $SEEDS; do for arm in A B C; do echo "$arm $seed"; done; done \
  | xargs -P "$JOBS" -L 1 bash -c 'run "$0" "$1"'
$PY examples/experiments/train_rows.py "$WORK" "$CSV" arm
$PY examples/experiments/exp14_analysis.py "$CSV"
