#!/usr/bin/env bash
# One call on a lent GPU machine (16 cores, one GPU), everything written as it goes:
#   1. the GPU checks of the quality issue: bench_highmmt.py on CUDA and on 2 CPU threads
#      (alone on the machine, so the timings are clean), then tests/test_models_cuda.py;
#   2. experiment 12 (examples/experiments/exp12_preregistration.md): hetero compare on
#      `full` with the k-sweep plans, share-all, share-none, the sharing ablations and 5
#      random plans, paired seeds, on the GPU with WORKERS processes, until DEADLINE.
# Results land in $OUT: gpu_checks.log, bench_*.json, exp12.tgz (the per-seed rows in
# runs/, compare.json/csv when the compare finished, its log).
#   PY=.venv/bin/python SITE=/tmp/site-test QUICK=1 OUT=/tmp/out bash examples/experiments/exp12_device.sh
set -u
PY=${PY:-python3}
OUT=${OUT:-/tmp/out}
RES=${RES:-/tmp/res}
SITE=${SITE:-/tmp/site}
DEADLINE=${DEADLINE:-540}   # seconds after the start when the results are packed
WORKERS=${WORKERS:-14}
DEV=${DEV:-cuda}
E=examples/experiments
P=$E/data/exp12_plans
start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }
mkdir -p "$OUT" "$RES"
export PYTHONUNBUFFERED=1

# hetero from this checkout, the data packages as carried wheels; local dataset copies.
$PY -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target "$SITE" \
  . .whl/*.whl >"$OUT/install.log" 2>&1 || { echo "install failed"; cat "$OUT/install.log"; exit 1; }
export PYTHONPATH=$SITE HETERO_DATA_DIR=$PWD/.devtmp/data PATH=$SITE/bin:$PATH
echo "installed after $(elapsed) s" | tee -a "$OUT/gpu_checks.log"

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  lscpu | grep -E "Model name|^CPU\(s\)"
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
} >>"$OUT/gpu_checks.log" 2>&1

if [ -z "${QUICK:-}" ]; then
  for run in 1 2; do
    $PY benchmarks/bench_highmmt.py --preset large --json --device "$DEV" >>"$OUT/bench_cuda.json" 2>>"$OUT/gpu_checks.log"
    $PY benchmarks/bench_highmmt.py --preset large --json --device cpu --threads 2 >>"$OUT/bench_cpu2.json" 2>>"$OUT/gpu_checks.log"
  done
  echo "benchmarks done after $(elapsed) s" >>"$OUT/gpu_checks.log"
  EPOCHS="--pretrain-epochs 20 --finetune-epochs 20 --patience 3"
  SUITE=full SEEDS=8
else
  EPOCHS="--pretrain-epochs 1 --finetune-epochs 1 --patience 1"
  SUITE=mini SEEDS=2
fi

plans=(--plan "k6=$P/plan_k6.json")
for k in 3 4 5 7 8 9; do plans+=(--plan "k$k=$P/plan_k$k.json"); done
[ -n "${QUICK:-}" ] && plans=(--plan "k6=$E/data/exp8_mini_plan.json")
hetero compare "$SUITE" "${plans[@]}" --share-all --share-none --ablations --random 5 \
  --seeds "$SEEDS" --preset small $EPOCHS --batch-size 32 --lr 8e-4 \
  --task-sampling proportional --lr-schedule constant \
  --device "$DEV" --workers "$WORKERS" -o "$RES/exp12" >"$RES/exp12.log" 2>&1 &
cmp=$!

if [ -z "${QUICK:-}" ]; then
  $PY -m pytest -q -p no:cacheprovider tests/test_models_cuda.py >>"$OUT/gpu_checks.log" 2>&1
  echo "cuda tests done after $(elapsed) s" >>"$OUT/gpu_checks.log"
fi

while kill -0 $cmp 2>/dev/null && [ "$(elapsed)" -lt "$DEADLINE" ]; do sleep 2; done
if kill -0 $cmp 2>/dev/null; then
  echo "deadline: compare stopped after $(elapsed) s" >>"$RES/exp12.log"
  kill -INT $cmp; sleep 5; kill $cmp 2>/dev/null
fi
nvidia-smi >>"$OUT/gpu_checks.log" 2>&1
echo "packing after $(elapsed) s" >>"$OUT/gpu_checks.log"
tar czf "$OUT/exp12.tgz" -C "$RES" --exclude='pretrain' exp12 exp12.log
echo "done after $(elapsed) s"
