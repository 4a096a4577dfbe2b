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
$PY - "$WORK" "$CSV" <<'PY'
import csv, json, sys
from pathlib import Path
work, dest = Path(sys.argv[1]), Path(sys.argv[2])
rows = []
for metrics in sorted(work.glob("*/metrics.json")):
    mode, seed = metrics.parent.name.rsplit("_s", 1)
    seconds = float((work / f"{metrics.parent.name}.seconds").read_text())
    for task, m in json.loads(metrics.read_text())["test"].items():
        rows.append({"mode": mode, "seed": int(seed), "task": task,
                     "accuracy": round(m["accuracy"], 6), "seconds": round(seconds, 1)})
rows.sort(key=lambda r: (r["seed"], r["mode"], r["task"]))
tmp = dest.with_suffix(".tmp")
with tmp.open("w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
tmp.replace(dest)
print(f"{len(rows)} rows -> {dest}")
PY
