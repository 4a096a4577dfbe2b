#!/usr/bin/env bash
# The main job (`make demo`): measure heterogeneity on the built-in `mini` suite (real data
# shipped in PyPI packages), compare HighMMT trained with the resulting plan against
# share-all, share-none and random plans (paired seeds), and write a report.
#
#   bash examples/demo.sh [OUT]        (default OUT: demo-out)
#
# Stages (each is timed; the times are printed at the end and saved in OUT/timings.txt):
#   1. hetero measure mini   -> OUT/measure   (HighMMT probe learner, interactions included,
#                                              split-half re-test, controls (a relabelled
#                                              twin and a label-shuffled copy of every
#                                              task), default group counts)
#   2. hetero compare mini --plan measured=OUT/measure/plan.json --share-all --share-none
#      --random 2 --seeds 3                                      -> OUT/compare
#      (paired seeds: one pre-training per seed shared by the candidates that fine-tune,
#      share-none = independent per-task models; candidates run side by side, one core each)
#   3. hetero report OUT/measure --compare OUT/compare           -> OUT/measure/report.html
# Re-running resumes the measurement from OUT/measure/runs.sqlite and the comparison from
# OUT/compare.
#
# Environment overrides: HETERO (the hetero command), PYTHON, WORKERS (measure worker
# processes, default: the number of cores), SEEDS (transfer seeds per entry), BASELINE_SEEDS
# (seeds per baseline), UNIMODAL_GROUPS and CROSSMODAL_GROUPS (plan size), FRACTION
# (measure this fraction of the ordered pairs and complete the rest), MAX_EPOCHS (probe
# epoch cap), TRAIN_PRESET, PRETRAIN_EPOCHS, FINETUNE_EPOCHS, COMPARE_SEEDS (paired seeds of
# the comparison), RANDOM_PLANS.
set -euo pipefail

OUT=${1:-demo-out}
SUITE=mini
if [[ -z "${HETERO:-}" ]]; then
    if [[ -x .venv/bin/hetero ]]; then HETERO=.venv/bin/hetero; else HETERO=hetero; fi
fi
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
WORKERS=${WORKERS:-$("$PYTHON" -c 'import os; print(len(os.sched_getaffinity(0)))')}
# Defaults sized for about 15 minutes on 2 idle cores (docs/benchmarks.md): every ordered
# pair measured with the default logme estimator, two transfer seeds (the least a
# split-half re-test needs) and two seeds per baseline (bench_measure.py found no gain from
# doubling them). FRACTION < 1 measures only part of the pairs and completes the rest.
SEEDS=${SEEDS:-2}
BASELINE_SEEDS=${BASELINE_SEEDS:-2}
FRACTION=${FRACTION:-}
# The parameter budget of the plan: k = 6 groups, 3 unimodal + 3 crossmodal, the paper's
# worked example (sec. 3.1). Empty values let `hetero measure` cut each dendrogram at its
# largest gap instead.
UNIMODAL_GROUPS=${UNIMODAL_GROUPS-3}
CROSSMODAL_GROUPS=${CROSSMODAL_GROUPS-3}
MAX_EPOCHS=${MAX_EPOCHS:-}
TRAIN_PRESET=${TRAIN_PRESET:-small}
PRETRAIN_EPOCHS=${PRETRAIN_EPOCHS:-4}
FINETUNE_EPOCHS=${FINETUNE_EPOCHS:-4}
COMPARE_SEEDS=${COMPARE_SEEDS:-3}
RANDOM_PLANS=${RANDOM_PLANS:-2}

mkdir -p "$OUT"
TIMINGS="$OUT/timings.txt"
: > "$TIMINGS"
START=$SECONDS

stage() {  # stage NAME COMMAND...: run, time and record one stage
    local name=$1 t0=$SECONDS
    shift
    echo "==> $name: $*" >&2
    "$@"
    local dt=$((SECONDS - t0))
    printf '%-28s %5d s\n' "$name" "$dt" | tee -a "$TIMINGS" >&2
}

# The HighMMT probe learner comes from hetero_models (torch); say so when it is missing.
LEARNER=$("$PYTHON" -c 'from hetero.learners import list_learners as l; print("highmmt" if "highmmt" in l() else "")')
if [[ -z "$LEARNER" ]]; then
    echo "error: the HighMMT probe learner is not available (is torch installed? run make install)" >&2
    exit 2
fi
SUITE_FILE=$("$PYTHON" -c "from hetero.datasets import suite_path; print(suite_path('$SUITE'))")

measure_args=("$SUITE_FILE" -o "$OUT/measure" --learner "$LEARNER" --interactions --retest
    --controls --executor process --workers "$WORKERS")
if [[ -n "$SEEDS" ]]; then measure_args+=(--seeds "$SEEDS"); fi
if [[ -n "$BASELINE_SEEDS" ]]; then measure_args+=(--baseline-seeds "$BASELINE_SEEDS"); fi
if [[ -n "$FRACTION" ]]; then measure_args+=(--fraction "$FRACTION"); fi
if [[ -n "$UNIMODAL_GROUPS" ]]; then measure_args+=(--unimodal-groups "$UNIMODAL_GROUPS"); fi
if [[ -n "$CROSSMODAL_GROUPS" ]]; then measure_args+=(--crossmodal-groups "$CROSSMODAL_GROUPS"); fi
if [[ -n "$MAX_EPOCHS" ]]; then measure_args+=(--max-epochs "$MAX_EPOCHS"); fi
stage "1 measure" "$HETERO" measure "${measure_args[@]}"

if [[ ! -f "$OUT/measure/plan.json" ]]; then
    echo "error: $OUT/measure/plan.json missing: some runs failed (see hetero runs $OUT/measure)" >&2
    exit 2
fi

stage "2 compare plans" "$HETERO" compare "$SUITE_FILE" --plan "measured=$OUT/measure/plan.json" \
    --share-all --share-none --random "$RANDOM_PLANS" --seeds "$COMPARE_SEEDS" \
    --preset "$TRAIN_PRESET" --pretrain-epochs "$PRETRAIN_EPOCHS" \
    --finetune-epochs "$FINETUNE_EPOCHS" --workers "$WORKERS" -o "$OUT/compare"

stage "3 report" "$HETERO" report "$OUT/measure" --compare "$OUT/compare"

printf '%-28s %5d s\n' "total" "$((SECONDS - START))" | tee -a "$TIMINGS" >&2
cat <<EOF

Done. Outputs in $OUT:
  $OUT/measure/report.html       the report (self-contained: open it in a browser)
  $OUT/measure/report.md         the same as Markdown, figures in $OUT/measure/report_figures/
  $OUT/measure/*.json            matrices, metric checks, plan, summary (measure.json)
  $OUT/measure/figures/          heatmaps, dendrograms, spectra
  $OUT/measure/runs.sqlite       every run (hetero runs $OUT/measure)
  $OUT/compare/                  the plan against share-all, share-none and random plans
                                 (compare.json, compare.csv, figures/; hetero compare)
  $OUT/timings.txt               seconds per stage
EOF
