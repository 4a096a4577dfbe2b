#!/usr/bin/env bash
# Runs the whole experiment campaign on one machine with many cores and a GPU, in one go:
#   - the measurement campaign (experiments 0-3) on CPU workers,
#   - experiment 6 on the GPU at once, experiments 4-5 on the GPU as soon as the first
#     measurement stage (s1) has written its matrices.
# Everything lands in $RES (default /tmp/res) and is packed into $OUT/res.tgz at the end
# (or at the deadline). Needs HETERO_SUITE_PICKLE (campaign.py --dump-suite) on machines
# without the data copies.
#   QUICK=1 bash examples/experiments/device_run.sh    # smoke test of the orchestration
set -u
PY=${PY:-python3}
RES=${RES:-/tmp/res}
OUT=${OUT:-/tmp/out}
DEADLINE=${DEADLINE:-430}        # seconds until results are packed
WORKERS=${WORKERS:-10}
DEV=${DEV:-cuda}
JOBS=${JOBS:-3}
EPOCHS=${EPOCHS:-"--pretrain-epochs 8 --finetune-epochs 6"}
Q=""
[ -n "${QUICK:-}" ] && Q="--quick"
mkdir -p "$RES" "$OUT"
E=examples/experiments
start=$(date +%s)
export PYTHONUNBUFFERED=1

$PY $E/campaign.py --out "$RES/campaign" --workers "$WORKERS" --deadline $((DEADLINE - 15)) $Q \
  >"$RES/campaign.log" 2>&1 &
camp=$!
(
  $PY $E/exp6_transfer.py --out "$RES/exp6" --device "$DEV" --jobs "$JOBS" $EPOCHS $Q \
    >"$RES/exp6.log" 2>&1
) &
(
  while [ ! -f "$RES/campaign/matrices_s1/interaction.json" ]; do
    sleep 3
    if ! kill -0 $camp 2>/dev/null && [ ! -f "$RES/campaign/matrices_s1/interaction.json" ]; then
      echo "campaign ended without s1 matrices" >"$RES/exp45.log"; exit 0
    fi
  done
  echo "s1 matrices after $(( $(date +%s) - start )) s" >"$RES/exp45.log"
  $PY $E/exp4_pareto.py --out "$RES/exp4" --matrices "$RES/campaign/matrices_s1" --device "$DEV" \
    --jobs "$JOBS" $EPOCHS $Q >"$RES/exp4.log" 2>&1 &
  $PY $E/exp5_ablations.py --out "$RES/exp5" --matrices "$RES/campaign/matrices_s1" --device "$DEV" \
    --jobs "$JOBS" $EPOCHS $Q >"$RES/exp5.log" 2>&1 &
  wait
) &
while [ $(( $(date +%s) - start )) -lt "$DEADLINE" ]; do
  sleep 2
  if [ -z "$(jobs -r)" ]; then break; fi
done
echo "packing after $(( $(date +%s) - start )) s" >"$RES/pack.log"
sleep 1
(nvidia-smi 2>&1 | head -20; nproc) >"$RES/machine.txt" 2>&1
tar czf "$OUT/res.tgz" -C "$(dirname "$RES")" --exclude='*.sqlite*' "$(basename "$RES")"
echo "done after $(( $(date +%s) - start )) s"
