"""Experiment 7: the paper's analyses of trained models (Tables 3, 6, 7; Fig. 9).

Runs on ``mini`` by default; ``--suite full --plan examples/experiments/data/
exp11_plan_linkage.json`` is the ``full`` run of docs/results.md.

* overlap (Table 6): top-10 % gradient-involvement overlap between tasks and the
  involved-task counts (epsilon 0.2), share-all against the grouped model;
* interference (Table 7): flip one task's training labels, keep training 2 epochs, and
  measure every task's test-metric drop against the same training on clean labels;
* few-shot (Fig. 9): a target's test metric against the fraction of its training data,
  alone against fine-tuned from multitask pre-training (appendix B.8 weights);
* transfer (Table 3): every task as held-out target, pre-trained on the other tasks, against
  the target alone trained to convergence (early stopping).

Share-all and grouped models are trained here, paired by seed (one pre-training per seed,
two fine-tunings), and shared by overlap and interference. The grouped plan is
``examples/experiments/data/exp7_mini_plan.json`` (measured by ``hetero measure mini``,
see docs/results.md). Every analysis writes ``OUT/<analysis>/`` (JSON, CSVs, PNG) and all
together ``OUT/exp7_analyses.md``.

Usage::

    python examples/experiments/exp7_analyses.py --out DIR [--seeds 3] [--jobs 2]
        [--analyses overlap,interference,few-shot,transfer] [--max-train 300] [--quick]
    python examples/experiments/exp7_analyses.py --out DIR --aggregate   # tables only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C

HERE = Path(__file__).resolve().parent
DEFAULT_PLAN = HERE / "data" / "exp7_mini_plan.json"
ANALYSES = ("overlap", "interference", "few-shot", "transfer")
#: analyses run together in one process (overlap and interference share the trained models)
JOBS = (("overlap", "interference"), ("few-shot",), ("transfer",))


def by_task_plan(suite):
    """One unimodal and one crossmodal group per task (the --quick plan)."""
    from hetero.plan import GroupingPlan

    uni = [[u.label for u in t.units()] for t in suite.tasks]
    cross = [[u.label for u in t.interaction_units()] for t in suite.tasks]
    return GroupingPlan(uni, [g for g in cross if g])


def load(args):
    from hetero_models.analysis.common import cap_train

    suite = cap_train(C.load_suite(args), args.max_train, seed=0)
    if args.quick:
        return suite, by_task_plan(suite)
    from hetero.plan import GroupingPlan

    return suite, GroupingPlan.read(args.plan).validate(suite)


def run_job(args, names) -> dict[str, float]:
    import torch

    from hetero_models.analysis import few_shot, interference, parameter_overlap, transfer
    from hetero_models.analysis.common import train_models

    torch.set_num_threads(args.threads)
    suite, plan = load(args)
    kw = {
        "model": "highmmt",
        "hparams": C.model_hparams(args),
        "device": args.device,
        "trainer_kwargs": {
            "batch_size": args.batch_size,
            "lr": args.lr,
            **C.TRAINER_BEFORE_EXP14,
        },
    }
    seeds = list(range(args.seeds))
    timings = {}

    def done(name, result, start):
        result.config["exp7"] = {k: str(v) for k, v in vars(args).items()}
        result.write(args.out / name)
        timings[name] = round(time.perf_counter() - start, 1)
        C.log(f"{name}: {timings[name]} s")
        for line in result.verdicts:
            C.log("  " + line)

    if "overlap" in names or "interference" in names:
        start = time.perf_counter()
        models = train_models(
            suite,
            plan,
            seeds=seeds,
            pretrain_epochs=args.pretrain_epochs,
            finetune_epochs=args.finetune_epochs,
            log=C.log,
            **kw,
        )
        timings["train models"] = round(time.perf_counter() - start, 1)
        if "overlap" in names:
            start = time.perf_counter()
            done(
                "overlap",
                parameter_overlap(
                    models, suite, top_fraction=0.1, epsilon=0.2, device=args.device, log=C.log
                ),
                start,
            )
        if "interference" in names:
            start = time.perf_counter()
            res = interference(
                suite, models, mode="flip", epochs=args.interference_epochs, log=C.log, **kw
            )
            done("interference", res, start)
    if "few-shot" in names:
        start = time.perf_counter()
        res = few_shot(
            suite,
            args.few_shot_target,
            fractions=args.fractions,
            seeds=seeds,
            pretrain_epochs=args.pretrain_epochs,
            finetune_epochs=args.few_shot_epochs,
            alone_epochs=args.few_shot_epochs,
            patience=args.patience,
            log=C.log,
            **kw,
        )
        done("few_shot", res, start)
    if "transfer" in names:
        start = time.perf_counter()
        res = transfer(
            suite,
            None,
            seeds=seeds,
            pretrain_epochs=args.pretrain_epochs,
            finetune_epochs=args.transfer_epochs,
            alone_epochs=args.alone_epochs,
            patience=args.patience,
            log=C.log,
            **kw,
        )
        done("transfer", res, start)
    return timings


def write_summary(args, timings) -> None:
    """``OUT/exp7_analyses.md`` (every section) and ``exp7_analyses.csv`` / ``.md`` (the
    headline numbers, one row per quantity)."""
    from hetero._io import atomic_write_text
    from hetero_models.analysis import read_result, render_section

    sections, rows = [], []
    for name in ("overlap", "interference", "few_shot", "transfer"):
        if not (args.out / name / f"{name}.json").is_file():
            continue
        res = read_result(args.out / name)
        sections.append(render_section(res, "markdown", level=2, figure_dir=name))
        if name == "overlap":
            rows += [
                {
                    "analysis": name,
                    "quantity": f"mean top-10% overlap, {r['component']}",
                    "arm": r["arm"],
                    **_ci(r),
                }
                for r in res.summary
            ]
            rows += [
                {
                    "analysis": name,
                    "quantity": f"involved in {r['n_tasks']} tasks, {r['component']}",
                    "arm": r["arm"],
                    **_ci(r),
                }
                for r in res.tables["counts_summary"]
                if r["component"] != "all"
            ]
        elif name == "interference":
            rows += [
                {
                    "analysis": name,
                    "quantity": f"drop of the other tasks, {r['corrupted']} flipped",
                    "arm": r["arm"],
                    **_ci(r),
                }
                for r in res.tables["others_summary"]
            ]
            rows += [
                {
                    "analysis": name,
                    "quantity": f"drop of {r['task']} itself",
                    "arm": r["arm"],
                    **_ci(r),
                }
                for r in res.summary
                if r["task"] == r["corrupted"]
            ]
        elif name == "few_shot":
            rows += [
                {
                    "analysis": name,
                    "quantity": f"{res.config['target']} at fraction {r['fraction']:g}",
                    "arm": r["arm"],
                    **_ci(r),
                }
                for r in res.summary
            ]
            rows += [
                {
                    "analysis": name,
                    "quantity": f"gain at fraction {r['fraction']:g}",
                    "arm": "pre-trained - alone",
                    **_ci(r),
                }
                for r in res.tables["gains"]
            ]
        else:
            rows += [
                {
                    "analysis": name,
                    "quantity": f"{r['target']} test metric",
                    "arm": r["config"],
                    **_ci(r),
                }
                for r in res.summary
            ]
            rows += [
                {
                    "analysis": name,
                    "quantity": f"gain on {r['target']}",
                    "arm": r["config"],
                    **_ci(r),
                }
                for r in res.tables["gains"]
            ]
    atomic_write_text(args.out / "exp7_analyses.md", "\n".join(sections))
    C.write_table(
        rows,
        args.out,
        "exp7_table",
        title="Experiment 7: analyses (mean and 95 % t interval over seeds)",
    )
    (args.out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")


def _ci(r) -> dict:
    return {"mean": r["mean"], "low": r["low"], "high": r["high"], "n_seeds": r["n"]}


def main() -> None:
    ap = C.add_training_args(
        C.add_common_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    )
    ap.set_defaults(suite="mini", pretrain_epochs=4, finetune_epochs=4, max_train=300)
    ap.add_argument("--analyses", default=",".join(ANALYSES), help="comma-separated subset")
    ap.add_argument("--plan", type=Path, default=DEFAULT_PLAN, help="plan of the grouped arm")
    ap.add_argument("--interference-epochs", type=int, default=2)
    ap.add_argument("--few-shot-target", default="watch")
    ap.add_argument("--fractions", default="0.1,0.25,0.5,1")
    ap.add_argument("--few-shot-epochs", type=int, default=10, help="epoch cap of both arms")
    ap.add_argument("--transfer-epochs", type=int, default=15, help="fine-tuning epoch cap")
    ap.add_argument("--alone-epochs", type=int, default=30, help="target-alone epoch cap")
    ap.add_argument("--patience", type=int, default=3)
    args = ap.parse_args()
    if args.quick:
        args.seeds = min(args.seeds, 2)
        args.pretrain_epochs = args.finetune_epochs = args.interference_epochs = 1
        args.few_shot_epochs, args.transfer_epochs, args.alone_epochs = 1, 2, 3
        args.patience, args.fractions, args.max_train = 1, "0.5,1", None
        args.few_shot_target = "watch"
    args.fractions = [float(f) for f in args.fractions.split(",") if f]
    names = [a for a in args.analyses.split(",") if a]
    bad = [a for a in names if a not in ANALYSES]
    if bad:
        ap.error(f"--analyses: unknown {bad}; expected some of {list(ANALYSES)}")
    C.setup(args)
    if args.aggregate:  # rebuild the summary files from OUT/<analysis>/<analysis>.json
        saved = args.out / "timings.json"
        write_summary(args, json.loads(saved.read_text()) if saved.is_file() else {})
        return
    jobs = [[a for a in job if a in names] for job in JOBS]
    jobs = [j for j in jobs if j]
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if args.jobs <= 1 or len(jobs) == 1:
        for job in jobs:
            timings.update(run_job(args, job))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as ex:
            for f in [ex.submit(run_job, args, job) for job in jobs]:
                timings.update(f.result())
    timings["total wall"] = round(time.perf_counter() - start, 1)
    write_summary(args, timings)
    C.log(f"done in {timings['total wall']} s -> {args.out}")


if __name__ == "__main__":
    main()
